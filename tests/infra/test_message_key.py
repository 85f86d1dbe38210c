"""The message key reaches every stage, mounted where KFPT_MESSAGE_KEY_SECRET says, only when asked for."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra import hcl
from tests.infra.conftest import KNATIVE, TERRAFORM
from tests.infra.test_knative import env_of, kustomize, secret_volumes
from tests.infra.test_trust_boundary import _outputs, _plan, overlay, stage_services

STAGES = {"ingest", "intercept", "render", "launch", "status"}


def test_the_knative_component_gives_every_stage_the_key_and_the_setting(tmp_path: Path) -> None:
    base = stage_services(kustomize(KNATIVE))
    assert set(base) == STAGES
    assert all("KFPT_MESSAGE_KEY_SECRET" not in env_of(s) for s in base.values())
    signed = stage_services(overlay(tmp_path, "message-key"))
    for stage, service in signed.items():
        env = env_of(service)
        reference = env["KFPT_MESSAGE_KEY_SECRET"]
        name, _, _key = reference.partition("/")
        mounts = secret_volumes(service)
        assert mounts[f"{env['KFPT_SECRETS_DIR']}/{name}"]["secretName"] == "kfpt-message-key", stage


@pytest.fixture(scope="module")
def root() -> hcl.Body:
    return hcl.parse_dir(TERRAFORM)


def test_terraform_mounts_the_key_on_every_function_and_names_it(root: hcl.Body, tmp_path: Path) -> None:
    proc = _plan(root, tmp_path / "off", 'project = "p"\n')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    off = _outputs(tmp_path / "off")["functions"]
    assert all("KFPT_MESSAGE_KEY_SECRET" not in f["environment"] for f in off.values())

    proc = _plan(root, tmp_path / "on", 'project = "p"\nmessage_key_secret = "kfpt-message-key"\n')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    outputs = _outputs(tmp_path / "on")
    assert set(outputs["functions"]) == STAGES
    for stage, function in outputs["functions"].items():
        assert function["environment"]["KFPT_MESSAGE_KEY_SECRET"] == "message-key/key", stage
        [volume] = [v for v in function["secret_volumes"] if v["secret"] == "kfpt-message-key"]
        assert volume["mount_path"] == function["environment"]["KFPT_SECRETS_DIR"] + "/message-key"
        assert f"{stage}/message-key" in outputs["secret_grants"]
