"""The dispatch key (Terraform) reaches the launch function alone, as the setting the engine reads.

Evaluated by terraform itself (the provider-free probe of test_terraform.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kfp_triggers import settings as registry
from tests.infra import hcl
from tests.infra.conftest import TERRAFORM
from tests.infra.test_terraform import _evaluate_locals


@pytest.fixture(scope="module")
def root() -> hcl.Body:
    return hcl.parse_dir(TERRAFORM)


def test_only_launch_holds_and_reads_the_dispatch_key(root: hcl.Body, tmp_path: Path) -> None:
    outputs = _evaluate_locals(
        root, tmp_path / "probe", 'project = "p"\nmessage_key_secret = "mk"\ndispatch_key_secret = "dk"\n'
    )
    functions = outputs["functions"]
    for stage, spec in functions.items():
        env = spec["environment"]
        mounts = {v["mount_path"]: v["secret"] for v in spec["secret_volumes"]}
        if stage == "launch":
            assert env["KFPT_DISPATCH_KEY_SECRET"] == "dispatch-key/key"
            assert mounts["/secrets/dispatch-key"] == "dk"
        else:
            assert "KFPT_DISPATCH_KEY_SECRET" not in env, stage
            assert "dk" not in mounts.values(), stage
        assert env["KFPT_MESSAGE_KEY_SECRET"] == "message-key/key", stage
        registry.check(env)  # every stage accepts what it is given
    assert {g for g in outputs["secret_grants"] if g.endswith("/dispatch-key")} == {"launch/dispatch-key"}
