"""``kfp-triggers events explain EVENT_ID [--store URL] [--output json]``: one event told for people.

The journals explained here are written by the engine itself: signed requests go through the real
intercept, render, launch and status stages in this process (an in-process bus delivering
synchronously, an SQLite store), so every decision is the core interceptors' own answer. Only the
backend is a stand-in, whose runs have links and change state when a test says so. The command
then reads the store as a user would run it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.adapters.launchers.base import LaunchedRun, LaunchRequest, RunState, RunStatus
from kfp_triggers.adapters.store import store_from_url
from kfp_triggers.adapters.store.base import RunRecord, Store, TriggerDecision
from kfp_triggers.adapters.transports.memory import MemoryBus
from kfp_triggers.app.cli import main
from kfp_triggers.app.explain import explain
from kfp_triggers.app.explain_text import BODY_LINES, render_text
from kfp_triggers.app.runtime import Settings, build_context, handle_event
from kfp_triggers.app.serve import STAGE_TOPICS
from kfp_triggers.stages import status
from kfp_triggers.stages.ingest import ingest
from kfp_triggers.tekton.request import parse_http_request
from kfp_triggers.wire.events import StatusTick, event_for
from tests.conftest import EXAMPLES

GITHUB_PUSH = EXAMPLES / "github-push"
PUSH = (GITHUB_PUSH / "requests" / "push.http").read_bytes()
PUSH_TAG = (GITHUB_PUSH / "requests" / "push-tag.http").read_bytes()
PUSH_ID = "0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01"
TAG_ID = "0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b02"
PIPELINE = EXAMPLES / "pipelines" / "train.yaml"
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

GITLAB_TOKEN = "gitlab-shared-token"
BITBUCKET_SECRET = b"bitbucket-hmac-secret"


def hooks_config() -> str:
    """A listener of one trigger per core interceptor, plus triggers that fail or share a group."""
    run = f"""
    - apiVersion: pipelines.kubeflow.org/v2beta1
      kind: Run
      metadata: {{generateName: train-}}
      spec:
        display_name: train $(tt.params.branch)
        pipeline_package: {PIPELINE}
        runtime_config: {{parameters: {{repo: $(tt.params.branch), commit_sha: x, epochs: "1"}}}}"""
    return f"""
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata:
  name: hooks
  annotations: {{tekton.dev/payload-validation: "false"}}
spec:
  triggers:
    - name: gitlab-push
      interceptors:
        - ref: {{name: gitlab}}
          params:
            - {{name: secretRef, value: {{secretName: gitlab, secretKey: token}}}}
            - {{name: eventTypes, value: ["Push Hook"]}}
      bindings: [{{name: branch, value: main}}]
      template: {{ref: train}}
    - name: bitbucket-push
      interceptors:
        - ref: {{name: bitbucket}}
          params:
            - {{name: secretRef, value: {{secretName: bitbucket, secretKey: secret}}}}
      bindings: [{{name: branch, value: main}}]
      template: {{ref: train}}
    - name: slack-command
      interceptors:
        - ref: {{name: slack}}
          params: [{{name: requestedFields, value: [command]}}]
      bindings: [{{name: branch, value: main}}]
      template: {{ref: train}}
    - name: broken-binding
      bindings: [{{name: branch, value: $(body.no.such.field)}}]
      template: {{ref: train}}
    - name: not-a-run
      bindings: [{{name: branch, value: main}}]
      template: {{ref: config-map}}
    - {{name: latest, triggerRef: latest}}
    - {{name: one-at-a-time, triggerRef: one-at-a-time}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata:
  name: latest
  annotations:
    kfp-triggers.dev/concurrency-group: "latest/$(tt.params.branch)"
    kfp-triggers.dev/concurrency-policy: cancel-in-progress
spec:
  bindings: [{{name: branch, value: main}}]
  template: {{ref: train}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata:
  name: one-at-a-time
  annotations:
    kfp-triggers.dev/concurrency-group: "single/$(tt.params.branch)"
    kfp-triggers.dev/concurrency-policy: skip
spec:
  bindings: [{{name: branch, value: main}}]
  template: {{ref: train}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {{name: train}}
spec:
  params: [{{name: branch}}]
  resourcetemplates:{run}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: TriggerTemplate
metadata: {{name: config-map}}
spec:
  params: [{{name: branch}}]
  resourcetemplates:
    - apiVersion: v1
      kind: ConfigMap
      metadata: {{name: branch-$(tt.params.branch)}}
---
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata:
  name: remote
spec:
  triggers:
    - name: policy
      interceptors:
        - ref: {{name: policy-check, kind: ClusterInterceptor}}
      bindings: [{{name: branch, value: main}}]
      template: {{ref: train}}
---
apiVersion: triggers.tekton.dev/v1alpha1
kind: ClusterInterceptor
metadata: {{name: policy-check}}
spec:
  clientConfig: {{url: "http://127.0.0.1:9/check"}}
"""


def raw_request(path: str, headers: dict[str, str], body: bytes) -> bytes:
    """A raw HTTP/1.1 request, as a request file holds it."""
    head = [
        f"POST {path} HTTP/1.1",
        *(f"{k}: {v}" for k, v in headers.items()),
        f"Content-Length: {len(body)}",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Backend:
    """A stand-in KFP: runs with links, RUNNING until a test ends them; cancels are honoured."""

    backend = "kfp"

    def __init__(self) -> None:
        self.states: dict[str, RunState] = {}
        self.keys: dict[str, str] = {}

    def launch(self, request: LaunchRequest) -> LaunchedRun:
        found = self.find(request.idempotency_key)
        if found is not None:
            return found
        run_id = f"run-{len(self.states) + 1}"
        self.states[run_id] = RunState.RUNNING
        self.keys[request.idempotency_key] = run_id
        return LaunchedRun(run_id, "kfp", RunState.RUNNING, self.url(run_id))

    @staticmethod
    def url(run_id: str) -> str:
        return f"https://kfp.example/#/runs/details/{run_id}"

    def find(self, idempotency_key: str) -> LaunchedRun | None:
        run_id = self.keys.get(idempotency_key)
        if run_id is None:
            return None
        return LaunchedRun(run_id, "kfp", self.states[run_id], self.url(run_id), existing=True)

    def get_state(self, run_id: str) -> RunStatus:
        return RunStatus(self.states[run_id])

    def cancel(self, run_id: str) -> RunStatus:
        if not self.states[run_id].is_terminal:
            self.states[run_id] = RunState.CANCELED
        return RunStatus(self.states[run_id])


class Chain:
    """Every stage in this process over one SQLite journal, delivering each message at once."""

    def __init__(self, tmp_path: Path, config: Path, secrets: Path) -> None:
        self.url = f"sqlite:///{tmp_path}/state.db"
        settings = Settings(
            config=str(config), secrets_dir=str(secrets), store=self.url, output_root=str(tmp_path / "runs")
        )
        bus = MemoryBus(synchronous=True)
        self.ctx = build_context(settings, bus, {})
        self.backend = Backend()
        self.ctx.launcher_factory = lambda: self.backend
        self.now = T0
        self.ctx.clock = lambda: self.now
        for stage, topic in STAGE_TOPICS.items():
            bus.subscribe(
                topic, functools.partial(handle_event, stage, ctx=self.ctx), name=f"{topic}-{stage}"
            )

    def send(self, raw: bytes) -> str:
        """Ingest one raw request; the whole chain has run when this returns. Returns the eventID."""
        self.now += timedelta(seconds=5)
        answer = ingest(self.ctx, parse_http_request(raw))
        assert answer.status == 202, answer.body
        event_id: str = json.loads(answer.body)["eventID"]
        return event_id

    def end(self, run_id: str, state: RunState) -> None:
        """The backend ends a run; the status stage's next tick records it."""
        self.backend.states[run_id] = state
        self.now += timedelta(seconds=30)
        tick = StatusTick(tick_at=self.now.isoformat())
        status(self.ctx, event_for(tick, source="//test", traceparent=None), tick)

    def close(self) -> None:
        self.ctx.store.close()


@pytest.fixture(autouse=True)
def no_kfpt_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the settings a test sets: the environment running the tests may carry its own."""
    for name in list(os.environ):
        if name.startswith("KFPT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def github(tmp_path: Path) -> Iterator[Chain]:
    """The github-push example listener with its secret."""
    chain = Chain(tmp_path, GITHUB_PUSH, GITHUB_PUSH / "secrets")
    yield chain
    chain.close()


@pytest.fixture
def hooks(tmp_path: Path) -> Iterator[Chain]:
    """The listener of :func:`hooks_config`, with GitLab's token and Bitbucket's secret."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "hooks.yaml").write_text(hooks_config(), encoding="utf-8")
    secrets = tmp_path / "secrets"
    (secrets / "gitlab").mkdir(parents=True)
    (secrets / "gitlab" / "token").write_text(GITLAB_TOKEN)
    (secrets / "bitbucket").mkdir()
    (secrets / "bitbucket" / "secret").write_bytes(BITBUCKET_SECRET)
    chain = Chain(tmp_path, config, secrets)
    yield chain
    chain.close()


def explain_text(chain: Chain, event_id: str, capsys: pytest.CaptureFixture[str]) -> str:
    """``events explain EVENT_ID --store URL``: its text, after checking it exited 0."""
    assert main(["events", "explain", event_id, "--store", chain.url]) == 0
    return capsys.readouterr().out


def explain_json(chain: Chain, event_id: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """``events explain EVENT_ID --store URL --output json``, parsed."""
    assert main(["events", "explain", event_id, "--store", chain.url, "--output", "json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def block(text: str, trigger: str) -> str:
    """The lines of one trigger's block in the text."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("[") and f"] {trigger}" in line)
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return "\n".join(lines[start:end])


def with_header(raw: bytes, name: str, value: str) -> bytes:
    """A request file with one header's value replaced (the body, and so its signature, kept)."""
    head, sep, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    eol = b"\r\n" if sep == b"\r\n\r\n" else b"\n"
    lines = [
        f"{name}: {value}".encode() if line.lower().startswith(name.lower().encode() + b":") else line
        for line in head.split(eol)
    ]
    return eol.join(lines) + sep + body


# -- accepted and rejected, on the example listener ------------------------------------------------


def test_an_accepted_push_shows_its_params_run_state_and_link_and_a_rejected_trigger_its_filter(
    github: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    event_id = github.send(PUSH)
    assert event_id == PUSH_ID
    github.end("run-1", RunState.SUCCEEDED)
    text = explain_text(github, event_id, capsys)
    lines = text.splitlines()
    assert lines[0] == f"event {PUSH_ID} for listener default/github-push, received 2026-12-01 12:00:05 UTC"
    assert lines[1] == f"GitHub push to acme-ml/fraud-model refs/heads/main at c0ffee1, delivery {PUSH_ID}"
    accepted = block(text, "train-on-main")
    assert accepted.splitlines()[0] == "[accepted] train-on-main"
    assert "  interceptors: github ok, only pushes to main ok (extensions short_sha)" in accepted
    assert "    sha = c0ffee1234567890abcdef1234567890abcdef12" in accepted
    assert "    short_sha = c0ffee1" in accepted
    assert (
        '  renders Run "train acme-ml/fraud-model@c0ffee1" (pipeline ../pipelines/train.yaml, experiment ci)'
    ) in accepted
    assert "  run run-1 on kfp: SUCCEEDED https://kfp.example/#/runs/details/run-1" in accepted
    assert "    created 2026-12-01 12:00:05 UTC, SUCCEEDED since 2026-12-01 12:00:35 UTC" in accepted

    rejected = block(text, "release-on-tag")
    assert rejected.splitlines() == [
        '[rejected] release-on-tag by cel "only version tags": expression '
        "\"body.ref.startsWith('refs/tags/v') && body.created\" did not return true",
        '  it saw body.ref = "refs/heads/main", body.created = false',
        "  interceptors: github ok, only version tags stopped (9 FAILED_PRECONDITION)",
    ]
    # The body is shown decoded and pretty, cut after BODY_LINES lines; never as base64.
    assert "body (application/json, 5855 bytes):" in text
    assert '      "full_name": "acme-ml/fraud-model",' in text
    total = len(json.dumps(json.loads(parse_http_request(PUSH).body), indent=2).splitlines())
    assert f"  ... {total - BODY_LINES} more lines" in text
    stored = main(["events", "show", event_id, "--store", github.url])
    assert stored == 0
    body_base64 = json.loads(capsys.readouterr().out)["request"]["bodyBase64"]
    assert body_base64[:40] not in text


def test_the_json_form_has_stable_camel_case_names(github: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    event_id = github.send(PUSH)
    out = explain_json(github, event_id, capsys)
    assert list(out) == [
        "eventID", "claimedEventID", "listener", "receivedAt", "configVersion", "request", "headers", "body",
        "triggers", "outcome",
    ]  # fmt: skip
    assert out["eventID"] == PUSH_ID
    assert out["claimedEventID"] is None
    assert out["listener"] == "default/github-push"
    assert out["receivedAt"] == "2026-12-01T12:00:05+00:00"
    assert out["request"] == {
        "method": "POST",
        "url": "/",
        "sender": "GitHub",
        "eventType": "push",
        "action": None,
        "deliveryID": PUSH_ID,
        "source": None,
        "repository": "acme-ml/fraud-model",
        "ref": "refs/heads/main",
        "commit": "c0ffee1234567890abcdef1234567890abcdef12",
    }
    assert out["headers"]["X-Github-Event"] == ["push"]
    assert out["body"]["contentType"] == "application/json"
    assert out["body"]["bytes"] == 5855
    assert out["body"]["json"]["after"] == "c0ffee1234567890abcdef1234567890abcdef12"
    assert "base64" not in out["body"]
    triggers = {t["name"]: t for t in out["triggers"]}
    train, release = triggers["train-on-main"], triggers["release-on-tag"]
    assert list(train) == [
        "name", "group", "verdict", "decidedBy", "duplicateOf", "interceptors", "extensions", "params",
        "resources", "idempotencyKey", "launch", "errors",
    ]  # fmt: skip
    assert train["verdict"] == "accepted"
    assert train["decidedBy"] is None
    assert train["interceptors"][1] == {
        "name": "only pushes to main",
        "continue": True,
        "code": 0,
        "codeName": "OK",
        "message": None,
        "extensions": {"short_sha": "c0ffee1"},
        "error": None,
    }
    assert train["params"]["repo"] == "acme-ml/fraud-model"
    assert train["resources"] == [
        {
            "apiVersion": "pipelines.kubeflow.org/v2beta1",
            "kind": "Run",
            "name": "train-",
            "displayName": "train acme-ml/fraud-model@c0ffee1",
            "pipeline": "../pipelines/train.yaml",
            "experiment": "ci",
            "parameters": {
                "repo": "acme-ml/fraud-model",
                "commit_sha": "c0ffee1234567890abcdef1234567890abcdef12",
                "epochs": "2",
                "event_id": PUSH_ID,
                "listener": "github-push",
                "trigger": "train-on-main",
            },
        }
    ]
    assert train["launch"] == {
        "runID": "run-1",
        "backend": "kfp",
        "state": "RUNNING",
        "runURL": "https://kfp.example/#/runs/details/run-1",
        "createdAt": "2026-12-01T12:00:05+00:00",
        "updatedAt": "2026-12-01T12:00:05+00:00",
        "note": None,
        "error": None,
    }
    assert train["errors"] == []
    assert release["verdict"] == "rejected"
    assert release["decidedBy"] == {
        "name": "only version tags",
        "outcome": "stopped",
        "code": 9,
        "codeName": "FAILED_PRECONDITION",
        "message": "expression body.ref.startsWith('refs/tags/v') && body.created did not return true",
        "filter": "body.ref.startsWith('refs/tags/v') && body.created",
        "values": {"body.ref": "refs/heads/main", "body.created": False},
    }
    assert (release["params"], release["resources"], release["launch"]) == (None, None, None)


def test_a_github_signature_made_with_another_secret_and_an_event_type_not_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = tmp_path / "other-secrets"
    (secrets / "github-webhook").mkdir(parents=True)
    (secrets / "github-webhook" / "secret").write_text("not the secret GitHub signed with")
    chain = Chain(tmp_path, GITHUB_PUSH, secrets)
    try:
        wrong_secret = chain.send(PUSH)
        ping = chain.send(
            with_header(with_header(PUSH, "X-GitHub-Event", "ping"), "X-GitHub-Delivery", "ping-1")
        )
        signed = explain_text(chain, wrong_secret, capsys)
        assert block(signed, "train-on-main").splitlines() == [
            '[rejected] train-on-main by "github": payload signature check failed',
            "  interceptors: github stopped (9 FAILED_PRECONDITION)",
        ]
        typed = explain_text(chain, ping, capsys)
        assert typed.splitlines()[1].startswith("GitHub ping to acme-ml/fraud-model refs/heads/main")
        assert block(typed, "release-on-tag").splitlines() == [
            '[rejected] release-on-tag by "github": event type ping is not allowed',
            "  interceptors: github stopped (9 FAILED_PRECONDITION)",
        ]
        assert chain.backend.states == {}
    finally:
        chain.close()


# -- the other core interceptors, errors and concurrency notes, on a listener of our own -----------


def gitlab_push(token: str, uuid: str) -> bytes:
    body = json.dumps(
        {
            "object_kind": "push",
            "ref": "refs/heads/main",
            "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            "project": {"path_with_namespace": "acme/platform"},
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Gitlab-Event": "Push Hook",
        "X-Gitlab-Event-UUID": uuid,
        "X-Gitlab-Token": token,
        "Authorization": "Bearer bearer-credential-value",
    }
    return raw_request("/hooks", headers, body)


def bitbucket_push(secret: bytes, uuid: str) -> bytes:
    body = json.dumps(
        {
            "repository": {"full_name": "acme/api"},
            "push": {
                "changes": [{"new": {"name": "main", "target": {"hash": "9fceb02d0ae598e95dc970b74767f1"}}}]
            },
        }
    ).encode()
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "X-Event-Key": "repo:push",
        "X-Request-UUID": uuid,
        "X-Hub-Signature": signature,
    }
    return raw_request("/hooks", headers, body)


def test_gitlab_token_mismatch_is_shown_and_the_token_stays_redacted(
    hooks: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    event_id = hooks.send(gitlab_push("not-the-gitlab-token", "gl-1"))
    text = explain_text(hooks, event_id, capsys)
    assert (
        text.splitlines()[1] == "GitLab Push Hook to acme/platform refs/heads/main at da15608, delivery gl-1"
    )
    assert block(text, "gitlab-push").splitlines() == [
        '[rejected] gitlab-push by "gitlab": Invalid X-GitLab-Token',
        "  interceptors: gitlab stopped (3 INVALID_ARGUMENT)",
    ]
    # A GitLab request does not carry Bitbucket's or Slack's headers.
    assert block(text, "bitbucket-push").splitlines()[0] == (
        '[rejected] bitbucket-push by "bitbucket": no X-Hub-Signature header set'
    )
    assert block(text, "slack-command").splitlines()[0] == (
        '[rejected] slack-command by "slack": '
        "missing header in payload: ContentType application/x-www-form-urlencoded"
    )
    assert "  X-Gitlab-Token: [redacted]" in text
    assert "  Authorization: [redacted]" in text
    out = explain_json(hooks, event_id, capsys)
    assert out["headers"]["X-Gitlab-Token"] == ["[redacted]"]
    for shown in (text, json.dumps(out)):
        assert "not-the-gitlab-token" not in shown
        assert "bearer-credential-value" not in shown
    gitlab = next(t for t in out["triggers"] if t["name"] == "gitlab-push")
    assert gitlab["decidedBy"]["code"] == 3
    assert gitlab["decidedBy"]["filter"] is None


def test_a_bitbucket_signature_that_does_not_match(hooks: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    event_id = hooks.send(bitbucket_push(b"a different secret", "bb-1"))
    text = explain_text(hooks, event_id, capsys)
    assert text.splitlines()[1] == "Bitbucket repo:push to acme/api main at 9fceb02, delivery bb-1"
    assert block(text, "bitbucket-push").splitlines() == [
        '[rejected] bitbucket-push by "bitbucket": '
        "error validating signature: payload signature check failed",
        "  interceptors: bitbucket stopped (9 FAILED_PRECONDITION)",
    ]
    assert (
        block(text, "gitlab-push").splitlines()[0]
        == '[rejected] gitlab-push by "gitlab": event type  is not allowed'
    )


def test_a_slack_command_without_its_signature_header(
    hooks: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    body = b"command=%2Ftrain&text=main&user_name=ana"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": "1764590000"}
    event_id = hooks.send(raw_request("/hooks", {**headers, "Idempotency-Key": "slack-1"}, body))
    text = explain_text(hooks, event_id, capsys)
    assert text.splitlines()[1] == "Slack /train, delivery slack-1"
    assert block(text, "slack-command").splitlines() == [
        '[rejected] slack-command by "slack": '
        "missing header in payload: ContentType application/x-www-form-urlencoded",
        "  interceptors: slack stopped (3 INVALID_ARGUMENT)",
    ]
    assert (
        "body (application/x-www-form-urlencoded, 40 bytes):\n  command=%2Ftrain&text=main&user_name=ana"
        in text
    )


def test_render_and_launch_errors_name_their_stage(hooks: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    event_id = hooks.send(gitlab_push(GITLAB_TOKEN, "gl-2"))
    text = explain_text(hooks, event_id, capsys)
    assert block(text, "gitlab-push").splitlines()[0] == "[accepted] gitlab-push"
    broken = block(text, "broken-binding").splitlines()
    assert broken[0] == (
        "[error] broken-binding at render: failed to ApplyEventValuesToParams: failed to replace "
        "JSONPath value for param branch: $(body.no.such.field): no is not found"
    )
    assert broken[1] == "  interceptors: none"
    assert not any(line.strip().startswith("params:") for line in broken)
    not_a_run = block(text, "not-a-run").splitlines()
    assert (
        not_a_run[0]
        == "[error] not-a-run at launch: resource 0 (v1/ConfigMap) is not a KFP Run; not launched"
    )
    assert '  renders ConfigMap "branch-main"' in not_a_run
    out = explain_json(hooks, event_id, capsys)
    triggers = {t["name"]: t for t in out["triggers"]}
    assert triggers["broken-binding"]["verdict"] == "error"
    assert [e["stage"] for e in triggers["broken-binding"]["errors"]] == ["render"]
    assert triggers["not-a-run"]["errors"] == [
        {"stage": "launch", "message": "resource 0 (v1/ConfigMap) is not a KFP Run; not launched"}
    ]
    assert triggers["not-a-run"]["launch"]["runID"] is None


def test_an_interceptor_that_cannot_be_reached_is_an_intercept_error(
    hooks: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    event_id = hooks.send(
        raw_request("/remote", {"Content-Type": "application/json", "Idempotency-Key": "r-1"}, body)
    )
    out = explain_json(hooks, event_id, capsys)
    [policy] = out["triggers"]
    assert policy["verdict"] == "error"
    assert policy["decidedBy"]["name"] == "policy-check"
    assert policy["decidedBy"]["outcome"] == "failed"
    assert [e["stage"] for e in policy["errors"]] == ["intercept"]
    text = render_text(out)
    assert (
        text.splitlines()[1] == f"POST /remote from an unrecognised sender, {len(body)} bytes, delivery r-1"
    )
    assert block(text, "policy").splitlines()[0].startswith("[error] policy at intercept: ")
    assert "  interceptors: policy-check failed" in block(text, "policy")


def test_concurrency_notes_say_what_the_group_did(hooks: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    first = hooks.send(gitlab_push(GITLAB_TOKEN, "gl-3"))
    second = hooks.send(bitbucket_push(BITBUCKET_SECRET, "bb-2"))
    before = {t["name"]: t["launch"] for t in explain_json(hooks, first, capsys)["triggers"]}
    cancelled = before["latest"]["runID"]
    blocking = before["one-at-a-time"]["runID"]
    text = explain_text(hooks, second, capsys)
    latest = block(text, "latest")
    assert f"    note: launched; cancelled run {cancelled}" in latest
    assert "  run run-" in latest
    single = block(text, "one-at-a-time").splitlines()
    assert single[-2:] == ["  not launched", f"    skipped: run {blocking} in progress"]
    assert block(text, "bitbucket-push").splitlines()[0] == "[accepted] bitbucket-push"
    out = explain_json(hooks, second, capsys)
    notes = {t["name"]: t["launch"]["note"] for t in out["triggers"] if t["launch"]}
    assert notes["one-at-a-time"] == f"skipped: run {blocking} in progress"
    # The displaced run is told as the first event's story: cancelled by the backend.
    again = block(explain_text(hooks, first, capsys), "latest")
    assert f"  run {cancelled} on kfp: " in again


def test_a_body_that_is_not_utf8_is_not_shown_as_base64(
    hooks: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    body = b"\xff\xfe\x00binary\x80payload"
    event_id = hooks.send(
        raw_request("/hooks", {"Content-Type": "application/octet-stream", "Idempotency-Key": "bin-1"}, body)
    )
    out = explain_json(hooks, event_id, capsys)
    assert out["body"] == {
        "contentType": "application/octet-stream",
        "bytes": len(body),
        "base64": base64.b64encode(body).decode(),
    }
    text = explain_text(hooks, event_id, capsys)
    assert (
        text.splitlines()[1] == f"POST /hooks from an unrecognised sender, {len(body)} bytes, delivery bin-1"
    )
    assert f"body (application/octet-stream, {len(body)} bytes): not UTF-8 text, not shown" in text
    assert base64.b64encode(body).decode() not in text


def test_what_the_sender_wrote_cannot_drive_the_terminal(
    hooks: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    body = "plain text \x1b[2J\u202eevil\x9b31m".encode()
    headers = {
        "Content-Type": "text/plain",
        "X-Gitlab-Event": "Push\x1b]0;title\x07",
        "Idempotency-Key": "t-1",
    }
    event_id = hooks.send(raw_request("/hooks", headers, body))
    text = explain_text(hooks, event_id, capsys)
    assert not any(c in text for c in "\x1b\x07\x9b\u202e")
    assert '[rejected] gitlab-push by "gitlab": event type Push\\x1b]0;title\\x07 is not allowed' in text
    assert "  plain text \\x1b[2J\\u202eevil\\x9b31m" in text


# -- duplicates -------------------------------------------------------------------------------------


def test_a_redelivery_is_the_same_event_with_the_same_single_run(
    github: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    event_id = github.send(PUSH)
    first = explain_json(github, event_id, capsys)
    assert github.send(PUSH) == event_id  # GitHub redelivers: same delivery id
    assert explain_json(github, event_id, capsys) == first
    assert list(github.backend.states) == ["run-1"]


def test_a_signed_body_sent_again_under_a_new_delivery_id_is_refused_as_a_replay(
    github: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    github.send(PUSH)
    replayed = github.send(with_header(PUSH, "X-GitHub-Delivery", "replayed-delivery"))
    out = explain_json(github, replayed, capsys)
    train = next(t for t in out["triggers"] if t["name"] == "train-on-main")
    assert train["verdict"] == "rejected"
    assert train["duplicateOf"] == PUSH_ID
    assert train["launch"] is None
    text = explain_text(github, replayed, capsys)
    assert block(text, "train-on-main").splitlines()[0] == (
        "[rejected] train-on-main: refused as a replay: "
        f"this signed body was first delivered as event {PUSH_ID} "
        "(a signature covers the body, not the delivery id)"
    )
    assert "error at intercept" not in block(text, "train-on-main")


def test_a_request_claiming_a_held_event_id_is_explained_under_its_own_id(
    github: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    github.send(PUSH)
    # The tag push's body (signed) under the push's delivery id: another body for a held id.
    assert github.send(with_header(PUSH_TAG, "X-GitHub-Delivery", PUSH_ID)) == PUSH_ID
    # Intercept journals it under an id of its own, derived from the one it claimed.
    [claimed] = [e.event_id for e in github.ctx.store.list_events(10) if e.event_id != PUSH_ID]
    assert claimed.startswith(f"{PUSH_ID}~")
    out = explain_json(github, claimed, capsys)
    assert out["claimedEventID"] == PUSH_ID
    text = explain_text(github, claimed, capsys)
    assert text.splitlines()[1] == (
        f"  (it claimed event id {PUSH_ID}, which another request already held; "
        "it was journalled and processed as an event of its own)"
    )
    assert block(text, "release-on-tag").splitlines()[0] == "[accepted] release-on-tag"


# -- records written through the store API, and the command's failure ------------------------------


def test_a_journal_without_decisions_or_body_says_what_it_lacks(tmp_path: Path) -> None:
    """A render journalled before the decisions (stages in flight), a body too large to keep."""
    store: Store = store_from_url(f"sqlite:///{tmp_path}/state.db")
    try:
        request = {
            "method": "POST",
            "url": "/",
            "headers": {"Content-Type": ["application/json"]},
            "bodyOmitted": {"bytes": 700000, "sha256": "ab" * 32},
        }
        store.record_event("ev-1", "default/el", T0, request, "v1")
        store.record_render("ev-1", "late", {"n": "1"}, [], "key-1", None)
        store.record_decisions("ev-1", [TriggerDecision("early", None, [], True, {}, None)])
        record = store.get_event("ev-1")
        assert record is not None
        out = explain(record, None)
        verdicts = {t["name"]: t["verdict"] for t in out["triggers"]}
        assert verdicts == {"early": "accepted", "late": "not reached"}
        text = render_text(out)
        assert "[not reached] late: no interceptor decision journalled yet" in text
        assert (
            "[accepted] early\n  interceptors: none\n  not rendered yet (nothing journalled by render)"
            in text
        )
        assert (
            "body (application/json, 700000 bytes): not journalled (too large for the journal, sha256 abab"
            in text
        )
        assert "POST / from an unrecognised sender, 700000 bytes, no delivery id" in text
        at = T0 + timedelta(minutes=1)
        store.upsert_run(
            RunRecord("r-9", "ev-1", "default/el", "early", "vertex", "PENDING", at, at, "https://x/r-9")
        )
        store.record_launch("ev-1", "early", "key-0", "r-9", "vertex", None)
        store.record_state("r-9", "RUNNING", at + timedelta(minutes=2))
        record = store.get_event("ev-1")
        assert record is not None
        run = store.get_run("r-9")
        assert run is not None
        early = render_text(explain(record, {"r-9": run}))
        assert (
            "  run r-9 on vertex: RUNNING https://x/r-9\n"
            "    created 2026-12-01 12:01:00 UTC, RUNNING since 2026-12-01 12:03:00 UTC"
        ) in early
        without_runs = render_text(explain(record, None))
        assert "  run r-9 on vertex: RUNNING\n" in without_runs
    finally:
        store.close()


def test_an_unknown_event_exits_1_with_the_error_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    assert main(["events", "explain", "nope", "--store", url]) == 1
    assert json.loads(capsys.readouterr().out) == {"error": "no event 'nope' in the journal"}
