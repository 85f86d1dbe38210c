"""The example whose Trigger is written under ``tekton.dev`` instead of ``triggers.tekton.dev``.

It loads with a warning that names the right apiVersion at the document's line, and the commands a
user runs on the other examples drive it: validate, simulate, and serve sending its push to a real
kfp.local run.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import EXAMPLES, run_cli

EXAMPLE = EXAMPLES / "tekton-dev-trigger"
PUSH = EXAMPLE / "requests" / "push.http"


def test_the_trigger_loads_with_a_warning_naming_the_right_api_version() -> None:
    result = run_cli(["validate", EXAMPLE])
    assert result.code == 0, result.stderr
    listener = EXAMPLE / "listener.yaml"
    lines = listener.read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("apiVersion: tekton.dev/"))
    [warning] = [w for w in result.stderr.splitlines() if f"listener.yaml:{line}: warning: Trigger is" in w]
    assert "whose group is triggers.tekton.dev, not tekton.dev" in warning
    assert "write apiVersion: triggers.tekton.dev/v1alpha1" in warning
    assert json.loads(result.stdout)["listeners"] == ["default/push-listener"]


def test_a_push_fires_the_trigger_and_anything_else_does_not(tmp_path: Path) -> None:
    result = run_cli(["simulate", "-c", EXAMPLE, "-r", PUSH])
    assert result.code == 0, result.stderr
    [trigger] = result.json()["triggers"]
    assert trigger["name"] == "my-trigger" and trigger["accepted"] is True
    assert trigger["params"] == {
        "repo": "acme-ml/fraud-model",
        "sha": "c0ffee1234567890abcdef1234567890abcdef12",
    }
    ping = tmp_path / "ping.http"
    ping.write_bytes(PUSH.read_bytes().replace(b"X-GitHub-Event: push", b"X-GitHub-Event: ping"))
    [refused] = run_cli(["simulate", "-c", EXAMPLE, "-r", ping]).json()["triggers"]
    assert refused["accepted"] is False


def test_serve_runs_the_pipeline_for_the_push(tmp_path: Path) -> None:
    result = run_cli(
        [
            "serve", "-c", EXAMPLE, "--store", f"sqlite:///{tmp_path}/state.db", "--port", "0",
            "--send", PUSH, "--exit-when-done", "--timeout", "120",
        ],
        cwd=tmp_path,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert '"state": "SUCCEEDED"' in result.stderr


def test_tekton_pipelines_own_kinds_under_tekton_dev_are_still_not_ours(tmp_path: Path) -> None:
    (tmp_path / "objects.yaml").write_text(
        "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: build\nspec:\n  tasks: []\n"
        "---\n"
        "apiVersion: tekton.dev/v1beta1\nkind: TriggerBinding\nmetadata:\n  name: b\n"
        "spec:\n  params:\n    - name: sha\n      value: $(body.after)\n"
    )
    result = run_cli(["validate", tmp_path])
    assert result.code == 0, result.stderr
    warnings = [w for w in result.stderr.splitlines() if "warning:" in w]
    assert (
        len(warnings) == 1
        and "objects.yaml:8: warning: TriggerBinding is a Tekton Triggers kind" in warnings[0]
    )
