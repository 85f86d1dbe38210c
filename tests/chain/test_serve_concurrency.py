"""Concurrency groups end to end: ``serve`` with real kfp.local runs of a pipeline that sleeps.

Two signed pushes to one branch under ``cancel-in-progress``: the first push's run is really
running (its task wrote its pid) when the second arrives; the second's launch stops the first
run's process tree, the status stage records CANCELED, and the second run succeeds. A push to
another branch is left alone.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kfp_triggers.adapters.store import RunRecord
from kfp_triggers.app.operations import list_runs
from kfp_triggers.app.runtime import Settings
from kfp_triggers.app.serve import Server, send_request, start, wait_for
from tests.conftest import EXAMPLES
from tests.launchers.sleepy import WAIT_S, compile_all

SECRET = (EXAMPLES / "github-push" / "secrets" / "github-webhook" / "secret").read_bytes()


def config(package: Path, markers: Path, policy: str = "cancel-in-progress") -> str:
    return f"""
apiVersion: triggers.tekton.dev/v1beta1
kind: EventListener
metadata: {{name: branches}}
spec:
  triggers: [{{name: nap, triggerRef: nap}}]
---
apiVersion: triggers.tekton.dev/v1beta1
kind: Trigger
metadata:
  name: nap
  annotations:
    kfp-triggers.dev/concurrency-group: "$(tt.params.branch)"
    kfp-triggers.dev/concurrency-policy: {policy}
spec:
  interceptors:
    - ref: {{name: github}}
      params:
        - {{name: secretRef, value: {{secretName: github-webhook, secretKey: secret}}}}
  bindings:
    - {{name: branch, value: $(body.branch)}}
    - {{name: sha, value: $(body.after)}}
    - {{name: seconds, value: $(body.seconds)}}
  template:
    spec:
      params: [{{name: branch}}, {{name: sha}}, {{name: seconds}}]
      resourcetemplates:
        - apiVersion: pipelines.kubeflow.org/v2beta1
          kind: Run
          metadata: {{generateName: nap-}}
          spec:
            display_name: nap $(tt.params.branch) $(tt.params.sha)
            pipeline_package: {package}
            runtime_config:
              parameters: {{marker: "{markers}/$(tt.params.sha).pid", seconds: $(tt.params.seconds)}}
"""


def push_file(folder: Path, branch: str, sha: str, seconds: int) -> Path:
    body = json.dumps({"branch": branch, "after": sha, "seconds": seconds}).encode()
    signature = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    head = [
        "POST / HTTP/1.1",
        "Host: hooks.example.com",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "X-GitHub-Event: push",
        f"X-GitHub-Delivery: delivery-{sha}",
        f"X-Hub-Signature-256: sha256={signature}",
    ]
    path = folder / f"{sha}.http"
    path.write_bytes(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return path


@contextmanager
def serving(tmp_path: Path, package: Path, policy: str) -> Iterator[tuple[Server, Path]]:
    """``serve`` on the napping listener under ``policy`` with real kfp.local runs; it and the markers."""
    markers = tmp_path / "markers"
    markers.mkdir()
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "listener.yaml").write_text(config(package, markers, policy), encoding="utf-8")
    settings = Settings(
        config=str(folder),
        secrets_dir=str(EXAMPLES / "github-push" / "secrets"),
        store=f"sqlite:///{tmp_path}/state.db",
        output_root=str(tmp_path / "runs"),
    )
    srv = start(settings, {"KFPT_LAUNCHER": "local"}, port=0, tick_s=0.2)
    threading.Thread(target=srv.httpd.serve_forever, daemon=True).start()
    try:
        yield srv, markers
    finally:
        srv.httpd.shutdown()
        srv.close()


@pytest.fixture
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_all(tmp_path_factory.mktemp("pipelines"))["napping"]


@pytest.fixture
def served(tmp_path: Path, package: Path) -> Iterator[tuple[Server, Path]]:
    with serving(tmp_path, package, "cancel-in-progress") as running:
        yield running


def post(srv: Server, folder: Path, branch: str, sha: str, seconds: int) -> str:
    """Send a signed push; its eventID."""
    status, body = send_request(srv.url, push_file(folder, branch, sha, seconds))
    assert status == 202, body
    event_id: str = json.loads(body)["eventID"]
    return event_id


def run_of(srv: Server, event_id: str) -> RunRecord | None:
    return next((r for r in srv.ctx.store.list_runs(100) if r.event_id == event_id), None)


def note_of(srv: Server, event_id: str) -> str | None:
    event = srv.ctx.store.get_event(event_id)
    return event.triggers[0].launch_note if event is not None and event.triggers else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_newer_push_cancels_the_branchs_real_run_in_progress(
    served: tuple[Server, Path], tmp_path: Path
) -> None:
    srv, markers = served

    def send(branch: str, sha: str, seconds: int) -> RunRecord:
        status, body = send_request(srv.url, push_file(tmp_path, branch, sha, seconds))
        assert status == 202, body
        event_id = json.loads(body)["eventID"]
        assert wait_for(lambda: any(r.event_id == event_id for r in srv.ctx.store.list_runs(100)), WAIT_S)
        [run] = [r for r in srv.ctx.store.list_runs(100) if r.event_id == event_id]
        return run

    old = send("main", "a" * 8, 120)
    other = send("dev", "b" * 8, 120)
    assert wait_for(
        lambda: (markers / f"{'a' * 8}.pid").exists() and (markers / f"{'b' * 8}.pid").exists(), WAIT_S
    )
    task_pid = int((markers / f"{'a' * 8}.pid").read_text())
    assert _alive(task_pid)

    new = send("main", "c" * 8, 1)

    def state(run_id: str) -> str | None:
        found = srv.ctx.store.get_run(run_id)
        return None if found is None else found.state

    assert wait_for(lambda: state(old.run_id) == "CANCELED", WAIT_S), state(old.run_id)
    assert wait_for(lambda: not _alive(task_pid), WAIT_S)
    assert wait_for(lambda: state(new.run_id) == "SUCCEEDED", WAIT_S), state(new.run_id)
    assert state(other.run_id) == "RUNNING"  # another branch, another group
    event = srv.ctx.store.get_event(new.event_id)
    assert event is not None and event.triggers[0].launch_note == f"launched; cancelled run {old.run_id}"
    listed = {r["runID"]: r["concurrencyGroup"] for r in list_runs(srv.ctx.store, 10, None)}
    assert listed == {old.run_id: "default/main", new.run_id: "default/main", other.run_id: "default/dev"}
    srv.ctx.launcher.cancel(other.run_id)  # leave nothing sleeping behind


def test_skip_drops_a_push_while_the_branchs_real_run_is_in_progress(tmp_path: Path, package: Path) -> None:
    with serving(tmp_path, package, "skip") as (srv, markers):
        first = post(srv, tmp_path, "main", "a" * 8, 3)
        assert wait_for((markers / f"{'a' * 8}.pid").exists, WAIT_S)
        second = post(srv, tmp_path, "main", "b" * 8, 1)
        assert wait_for(lambda: note_of(srv, second) is not None, WAIT_S)
        run = run_of(srv, first)
        assert run is not None and note_of(srv, second) == f"skipped: run {run.run_id} in progress"
        assert wait_for(lambda: (r := run_of(srv, first)) is not None and r.state == "SUCCEEDED", WAIT_S)
        third = post(srv, tmp_path, "main", "c" * 8, 1)  # the branch is free again
        assert wait_for(lambda: (r := run_of(srv, third)) is not None and r.state == "SUCCEEDED", WAIT_S)
        assert run_of(srv, second) is None


def test_queue_latest_runs_only_the_newest_waiting_push_after_the_real_run_in_progress(
    tmp_path: Path, package: Path
) -> None:
    with serving(tmp_path, package, "queue-latest") as (srv, markers):
        first = post(srv, tmp_path, "main", "a" * 8, 3)
        assert wait_for((markers / f"{'a' * 8}.pid").exists, WAIT_S)
        second = post(srv, tmp_path, "main", "b" * 8, 1)
        assert wait_for(lambda: note_of(srv, second) is not None, WAIT_S)
        third = post(srv, tmp_path, "main", "c" * 8, 1)
        assert wait_for(lambda: note_of(srv, second) == f"superseded by event {third}", WAIT_S)
        assert wait_for(lambda: (r := run_of(srv, third)) is not None and r.state == "SUCCEEDED", WAIT_S)
        first_run, third_run = run_of(srv, first), run_of(srv, third)
        assert first_run is not None and first_run.state == "SUCCEEDED"
        assert third_run is not None and third_run.created_at >= first_run.updated_at
        assert run_of(srv, second) is None  # the replaced push never ran
