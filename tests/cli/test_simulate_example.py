"""The example GitHub listener end to end through the installed CLI (validate, simulate).

Expectations are derived from the sample payload itself, not copied from an earlier output.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLES, run_cli

EXAMPLE = EXAMPLES / "github-push"
PUSH = EXAMPLE / "requests" / "push.http"
PUSH_TAG = EXAMPLE / "requests" / "push-tag.http"
SECRETS = EXAMPLE / "secrets"


def _payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLE / "payloads" / name).read_text())
    return data


def _simulate(request: Path, *extra: str) -> dict[str, Any]:
    result = run_cli(
        ["simulate", "-c", EXAMPLE, "-r", request, "--secrets-dir", SECRETS,
         "--event-id", "ev-1", "--uid", "uid-1", *extra]
    )  # fmt: skip
    assert result.code == 0, result.stdout + result.stderr
    out: dict[str, Any] = result.json()
    return out


def test_validate_example_passes() -> None:
    result = run_cli(["validate", EXAMPLE])
    assert result.code == 0, result.stdout + result.stderr
    assert result.json()["listeners"] == ["default/github-push"]


def test_push_to_main_renders_a_kfp_run() -> None:
    payload = _payload("push.json")
    out = _simulate(PUSH)
    assert out["eventID"] == "ev-1"
    assert out["listener"] == "github-push"
    by_name = {t["name"]: t for t in out["triggers"]}
    main = by_name["train-on-main"]
    assert main["accepted"] is True
    assert main["error"] is None
    assert [i["response"]["continue"] for i in main["interceptors"]] == [True, True]
    assert main["extensions"] == {"short_sha": payload["after"][:7]}
    assert main["params"]["repo"] == payload["repository"]["full_name"]
    assert main["params"]["sha"] == payload["after"]
    assert main["params"]["epochs"] == "2"
    [run] = main["resources"]
    assert run["kind"] == "Run"
    assert run["apiVersion"] == "pipelines.kubeflow.org/v2beta1"
    spec = run["spec"]
    message = payload["head_commit"]["message"]
    # The message holds < > & and quotes: bindings escape them for JSON and the run gets them back.
    assert spec["description"] == f"pushed by {payload['pusher']['name']}: {message}"
    assert spec["display_name"] == f"train {payload['repository']['full_name']}@{payload['after'][:7]}"
    assert spec["runtime_config"]["parameters"] == {
        "repo": payload["repository"]["full_name"],
        "commit_sha": payload["after"],
        "epochs": "2",
        # The event's identity, which the pipeline records as its lineage artifact.
        "event_id": "ev-1",
        "listener": "github-push",
        "trigger": "train-on-main",
    }
    labels = run["metadata"]["labels"]
    assert labels["triggers.tekton.dev/eventlistener"] == "github-push"
    assert labels["triggers.tekton.dev/trigger"] == "train-on-main"
    assert labels["triggers.tekton.dev/eventid"] == "ev-1"
    assert labels["app.kubernetes.io/part-of"] == "fraud-model"


def test_tag_trigger_is_rejected_by_its_cel_filter_on_a_branch_push() -> None:
    out = _simulate(PUSH)
    tag = {t["name"]: t for t in out["triggers"]}["release-on-tag"]
    assert tag["accepted"] is False
    assert tag["resources"] == []
    github, cel = tag["interceptors"]
    assert github["response"]["continue"] is True
    assert cel["response"]["continue"] is False
    assert cel["response"]["status"]["code"] == 9
    assert "did not return true" in cel["response"]["status"]["message"]


def test_tag_push_selects_the_other_trigger() -> None:
    payload = _payload("push-tag.json")
    out = _simulate(PUSH_TAG)
    accepted = [t["name"] for t in out["triggers"] if t["accepted"]]
    assert accepted == ["release-on-tag"]
    tag = {t["name"]: t for t in out["triggers"]}["release-on-tag"]
    assert tag["params"]["short_sha"] == payload["ref"].split("/")[2]
    assert tag["params"]["epochs"] == "10"


def test_simulate_is_byte_for_byte_reproducible() -> None:
    args = ["simulate", "-c", EXAMPLE, "-r", PUSH, "--secrets-dir", SECRETS, "--event-id", "e", "--uid", "u"]
    first = run_cli(args)
    second = run_cli(args)
    assert first.code == 0
    assert first.stdout == second.stdout


def test_wrong_secret_rejects_every_trigger(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets" / "github-webhook"
    secrets.mkdir(parents=True)
    (secrets / "secret").write_bytes(b"not-the-secret")
    result = run_cli(["simulate", "-c", EXAMPLE, "-r", PUSH, "--secrets-dir", tmp_path / "secrets"])
    assert result.code == 0, result.stdout + result.stderr
    for trigger in result.json()["triggers"]:
        assert trigger["accepted"] is False
        [github] = trigger["interceptors"]
        assert github["response"]["status"] == {"code": 9, "message": "payload signature check failed"}


def test_tampered_body_fails_the_signature(tmp_path: Path) -> None:
    raw = PUSH.read_bytes().replace(b"refs/heads/main", b"refs/heads/evil")
    request = tmp_path / "tampered.http"
    request.write_bytes(raw)
    out = _simulate(request)
    assert not any(t["accepted"] for t in out["triggers"])


def test_broken_copy_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(EXAMPLE, broken)
    listener = broken / "listener.yaml"
    text = listener.read_text()
    text = text.replace(
        "- ref: github-push\n        - name: epochs", "- ref: no-such-binding\n        - name: epochs", 1
    )
    # An unterminated $( followed by another one: Tekton's admission rejects this (a lone one it accepts).
    text = text.replace("value: $(body.after)", "value: $(body.after $(body.ref)", 1)
    text = text.replace("body.ref == 'refs/heads/main' && !body.deleted", "body.ref == = 'x'", 1)
    text = text.replace("generateName: train-", "generateName: train-$(tt.params.undeclared)", 1)
    listener.write_text(text)
    lines = text.splitlines()

    def line_of(fragment: str) -> int:
        return next(i for i, ln in enumerate(lines, start=1) if fragment in ln)

    result = run_cli(["validate", broken])
    assert result.code == 1
    out = result.json()
    assert "error" in out
    errors = [p for p in out["problems"] if p["severity"] == "error"]
    found = {(p["line"], p["file"]) for p in errors}
    for fragment in ["no-such-binding", "$(body.after", "body.ref == = 'x'", "undeclared"]:
        assert (line_of(fragment), str(listener)) in found, (fragment, errors)
    # Human-readable file:line lines on stderr too.
    assert f"{listener}:{line_of('no-such-binding')}:" in result.stderr
