"""The bucket of large bodies (bodies.tf) agrees with the engine's claim check.

The settings every function gets are evaluated by terraform itself (the provider-free probe of
test_terraform.py) and read by the engine's own settings registry; the bucket and its grants are
read with the HCL reader.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kfp_triggers import settings as registry
from kfp_triggers.adapters.bodies import body_store_from_url
from kfp_triggers.adapters.bodies.gcs import GcsBodyStore
from tests.infra import hcl
from tests.infra.conftest import TERRAFORM
from tests.infra.test_terraform import _evaluate_locals, _terraform, _write_probe, attr


@pytest.fixture(scope="module")
def root() -> hcl.Body:
    return hcl.parse_dir(TERRAFORM)


def test_every_function_is_told_where_large_bodies_wait(root: hcl.Body, tmp_path: Path) -> None:
    outputs = _evaluate_locals(root, tmp_path / "probe", 'project = "p"\nretention_days = 14\n')
    for stage, spec in outputs["functions"].items():
        env = spec["environment"]
        assert env["KFPT_BODY_STORE"] == "gs://p-kfpt-bodies/bodies", stage
        assert env["KFPT_CLAIM_CHECK_BYTES"] == "262144", stage
        registry.check(env)  # the stage accepts what it is given
        store = body_store_from_url(env["KFPT_BODY_STORE"], {})
        assert isinstance(store, GcsBodyStore) and (store.bucket, store.prefix) == ("p-kfpt-bodies", "bodies")


def test_the_bucket_expires_bodies_with_the_journal_and_is_never_public(root: hcl.Body) -> None:
    bucket = root.one("resource", "google_storage_bucket", "bodies")
    assert attr(bucket, "name").text == "local.body_bucket"
    assert attr(bucket, "uniform_bucket_level_access").literal() is True
    assert attr(bucket, "public_access_prevention").literal() == "enforced"
    [rule] = bucket.body.find("dynamic", "lifecycle_rule")
    assert attr(rule, "for_each").text == "var.retention_days > 0 ? [var.retention_days] : []"
    content = rule.body.one("content")
    assert attr(content.body.one("condition"), "age").text == "lifecycle_rule.value"
    assert attr(content.body.one("action"), "type").literal() == "Delete"


def test_only_ingest_writes_bodies_and_only_intercept_and_render_read_them(root: hcl.Body) -> None:
    local = hcl.locals_of(root)
    assert local["body_writer_stages"].literal() == ["ingest"]
    assert local["body_reader_stages"].literal() == ["intercept", "render"]
    grants = {
        block.labels[1]: block
        for block in root.find("resource", "google_storage_bucket_iam_member")
        if attr(block, "bucket").text == "google_storage_bucket.bodies.name"
    }
    assert set(grants) == {"body_writer", "body_reader"}
    # objectCreator cannot read, overwrite or delete; objectViewer cannot write.
    assert attr(grants["body_writer"], "role").literal() == "roles/storage.objectCreator"
    assert attr(grants["body_writer"], "for_each").text == "toset(local.body_writer_stages)"
    assert attr(grants["body_reader"], "role").literal() == "roles/storage.objectViewer"
    assert attr(grants["body_reader"], "for_each").text == "toset(local.body_reader_stages)"


@pytest.mark.parametrize("value", ["-1", "7000001", "1.5"])
def test_a_claim_check_threshold_pub_sub_could_not_carry_is_refused(
    root: hcl.Body, tmp_path: Path, value: str
) -> None:
    workdir = tmp_path / "probe"
    _write_probe(root, workdir, f'project = "p"\nclaim_check_bytes = {value}\n')
    assert _terraform(workdir, "init", "-backend=false", "-input=false").returncode == 0
    plan = _terraform(workdir, "plan", "-input=false")
    assert plan.returncode != 0
    assert "claim_check_bytes must be a whole number from 0 to 7000000" in plan.stdout + plan.stderr
