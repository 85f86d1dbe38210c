"""The whole chain in one process: a signed webhook in, a real kfp.local run out, exactly once.

Everything is real: the HTTP server, the in-process bus with Pub/Sub's delivery rules, SQLite,
the interceptors and kfp.local running the example pipeline.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.app.runtime import Settings
from kfp_triggers.app.serve import Server, send_request, start, wait_for
from tests.chain.serving import serving
from tests.conftest import EXAMPLES, run_cli

EXAMPLE = EXAMPLES / "github-push"


def _example_copy(tmp_path: Path) -> tuple[Path, str]:
    """A copy of the example listener (and its pipelines) to edit; returns its folder and listener text."""
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE, config)
    shutil.copytree(EXAMPLES / "pipelines", tmp_path / "pipelines")
    return config, (config / "listener.yaml").read_text()


def _serve(tmp_path: Path, config: Path, launcher: str) -> Server:
    """``serve`` on a thread, with its state under ``tmp_path``."""
    settings = Settings(
        config=str(config),
        secrets_dir=str(config / "secrets"),
        store=f"sqlite:///{tmp_path}/state.db",
        output_root=str(tmp_path / "runs"),
    )
    srv = start(settings, {"KFPT_LAUNCHER": launcher}, port=0, tick_s=0.2)
    threading.Thread(target=srv.httpd.serve_forever, daemon=True).start()
    return srv


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    monkeypatch.chdir(tmp_path)
    srv = _serve(tmp_path, EXAMPLE, "local")
    yield srv
    srv.httpd.shutdown()
    srv.close()


def _runs(srv: Server, event_id: str) -> list[Any]:
    return [r for r in srv.ctx.store.list_runs(100) if r.event_id == event_id]


def _send(srv: Server, name: str) -> dict[str, Any]:
    status, body = send_request(srv.url, EXAMPLE / "requests" / name)
    assert status == 202, body
    answer: dict[str, Any] = json.loads(body)
    return answer


def test_signed_push_runs_the_pipeline_once_and_redelivery_adds_nothing(
    server: Server, tmp_path: Path
) -> None:
    answer = _send(server, "push.http")
    assert answer["eventListener"] == "github-push"
    event_id = answer["eventID"]
    assert event_id == "0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01"  # the X-GitHub-Delivery of the request file
    assert wait_for(lambda: any(r.terminal for r in _runs(server, event_id)), 60)
    [run] = _runs(server, event_id)
    assert run.state == "SUCCEEDED"
    assert run.trigger == "train-on-main"
    # The pipeline really ran: its outputs are on disk under the run's directory.
    outputs = list((tmp_path / "runs" / run.run_id).rglob("executor_output.json"))
    assert outputs, "kfp.local wrote no task outputs"
    # The run is stamped with where it came from: the listener, trigger, event and the verified commit.
    labels = json.loads((tmp_path / "runs" / run.run_id / "run.json").read_text())["labels"]
    assert labels["triggers.tekton.dev/eventid"] == event_id
    assert labels["kfp-triggers.dev/verified-by"] == "github"
    github = run.details["origin"]["github"]
    assert labels["kfp-triggers.dev/repository"] == f"{github['owner']}/{github['repo']}"
    assert labels["kfp-triggers.dev/commit"] == github["sha"] != ""

    # Its outputs are on its record once it ended: the prepare task's dataset and each task's result.
    def recorded() -> list[dict[str, Any]]:
        stored = server.ctx.store.get_run(run.run_id)
        return list(stored.details.get("outputs", [])) if stored is not None else []

    assert wait_for(lambda: bool(recorded()), 10)
    by_name = {(o["task"], o["name"]): o for o in recorded()}
    dataset = by_name[("prepare", "config")]
    assert dataset["uri"].startswith(str(tmp_path / "runs" / run.run_id)) and Path(dataset["uri"]).is_file()
    assert by_name[("prepare", "Output")]["value"] == github["sha"][:7]
    assert isinstance(by_name[("train", "Output")]["value"], float)

    # GitHub redelivers the same delivery: same eventID, same idempotency key, no second run.
    again = _send(server, "push.http")
    assert again["eventID"] == event_id
    assert not wait_for(lambda: len(_runs(server, event_id)) > 1, 3)
    record = server.ctx.store.get_event(event_id)
    assert record is not None
    by_name = {t.trigger: t for t in record.triggers}
    assert by_name["train-on-main"].run_id == run.run_id
    assert by_name["release-on-tag"].accepted is False

    # A new delivery (the tag push) creates exactly one new run, from the other trigger.
    tag = _send(server, "push-tag.http")
    assert wait_for(lambda: any(r.terminal for r in _runs(server, tag["eventID"])), 60)
    [tag_run] = _runs(server, tag["eventID"])
    assert tag_run.trigger == "release-on-tag"
    assert tag_run.run_id != run.run_id


def test_bad_requests_get_clear_errors(server: Server, tmp_path: Path) -> None:
    not_object = tmp_path / "array.http"
    not_object.write_bytes(b"POST / HTTP/1.1\r\nContent-Type: application/json\r\n\r\n[1, 2]")
    status, body = send_request(server.url, not_object)
    assert status == 400
    assert json.loads(body) == {
        "eventListener": "github-push",
        "namespace": "default",
        "eventListenerUID": "",
        "errorMessage": "Invalid event body format : "
        "json: cannot unmarshal array into Go value of type map[string]interface {}",
    }
    status, body = send_request(server.url.rstrip("/") + "/live", not_object)
    assert (status, body) == (200, b"ok")


def test_runs_and_events_commands_read_the_store(server: Server, tmp_path: Path) -> None:
    answer = _send(server, "push.http")
    event_id = answer["eventID"]
    assert wait_for(lambda: any(r.terminal for r in _runs(server, event_id)), 60)
    store = f"sqlite:///{tmp_path}/state.db"
    runs = run_cli(["runs", "list", "--store", store, "--output", "json"]).json()
    assert [(r["eventID"], r["state"], r["trigger"]) for r in runs] == [
        (event_id, "SUCCEEDED", "train-on-main")
    ]
    assert {"runID", "eventID", "listener", "trigger", "backend", "state", "createdAt", "updatedAt"} <= set(
        runs[0]
    )
    story = run_cli(["events", "show", event_id, "--store", store]).json()
    triggers = {t["trigger"]: t for t in story["triggers"]}
    assert triggers["train-on-main"]["runId"] == runs[0]["runID"]
    assert triggers["train-on-main"]["params"]["sha"] == "c0ffee1234567890abcdef1234567890abcdef12"
    assert triggers["release-on-tag"]["accepted"] is False
    assert triggers["release-on-tag"]["decisions"][1]["response"]["status"]["code"] == 9
    replay = run_cli(
        [
            "replay",
            event_id,
            "--store",
            store,
            "-c",
            EXAMPLE,
            "--secrets-dir",
            EXAMPLE / "secrets",
            "--dry-run",
        ]
    ).json()
    assert {t["trigger"]: (t["before"], t["now"]) for t in replay["triggers"]} == {
        "train-on-main": (True, True),
        "release-on-tag": (False, False),
    }


def test_commit_statuses_follow_the_run_on_github(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Contract test: GitHub's API cannot run here, so a local server checks the commit-status calls.

    The run of a push to main is announced as ``pending`` and then reported as ``success`` on the
    pushed commit (``POST /repos/{owner}/{repo}/statuses/{sha}``), once per transition.
    """
    from tests.unit.local_http import Reply, local_server

    payload = json.loads((EXAMPLE / "payloads" / "push.json").read_text())
    repo, sha = payload["repository"]["full_name"], payload["after"]
    target = f"/repos/{repo}/statuses/{sha}"
    secrets = tmp_path / "secrets"
    shutil.copytree(EXAMPLE / "secrets", secrets)
    (secrets / "github-token").mkdir()
    (secrets / "github-token" / "token").write_text("ghp_example_token")
    monkeypatch.chdir(tmp_path)
    with local_server({f"POST {target}": Reply(201, b"{}")}) as github:
        settings = Settings(
            config=str(EXAMPLE),
            secrets_dir=str(secrets),
            store=f"sqlite:///{tmp_path}/state.db",
            output_root=str(tmp_path / "runs"),
            github_api_url=github.base_url,
        )
        environ = {
            "KFPT_LAUNCHER": "local",
            "KFPT_GITHUB_TOKEN_SECRET": "github-token/token",
            "KFPT_GITHUB_API_URL": github.base_url + "/",
        }
        srv = start(settings, environ, port=0, tick_s=0.2)
        threading.Thread(target=srv.httpd.serve_forever, daemon=True).start()
        try:
            event_id = _send(srv, "push.http")["eventID"]
            assert wait_for(lambda: any(r.terminal for r in _runs(srv, event_id)), 60)
            assert wait_for(lambda: len(github.requests) >= 2, 10)
        finally:
            srv.httpd.shutdown()
            srv.close()
    posted = [json.loads(r.body) for r in github.requests]
    assert github.targets() == [f"POST {target}"] * len(posted)
    assert [p["state"] for p in posted] == ["pending", "success"]
    assert {p["context"] for p in posted} == {"kfp-triggers/github-push/train-on-main"}
    assert all(r.headers["authorization"] == "Bearer ghp_example_token" for r in github.requests)


def test_a_broken_binding_is_refused_by_validate_and_fails_only_its_trigger_at_run_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Functions skip the expression checks at start, as Tekton leaves them to admission."""
    config, text = _example_copy(tmp_path)
    listener = config / "listener.yaml"
    # release-on-tag binds epochs with a path that cannot parse, and epochs loses its default
    # (a default would stand in for the failed expression, as in Tekton).
    assert text.count('value: "10"') == 1 and text.count('- name: epochs\n      default: "2"\n') == 1
    text = text.replace('value: "10"', 'value: "$(body.head_commit[)"')
    listener.write_text(text.replace('- name: epochs\n      default: "2"\n', "- name: epochs\n"))

    result = run_cli(["validate", config])
    assert result.code == 1
    assert "listener.yaml:" in result.stdout + result.stderr
    assert "unterminated array" in result.stdout + result.stderr

    monkeypatch.chdir(tmp_path)
    srv = _serve(tmp_path, config, "dry-run")
    try:
        tag_id = _send(srv, "push-tag.http")["eventID"]

        def rendered(event_id: str, trigger: str) -> Any:
            record = srv.ctx.store.get_event(event_id)
            found = record.trigger(trigger) if record else None
            return found if found is not None and found.rendered else None

        assert wait_for(lambda: rendered(tag_id, "release-on-tag") is not None, 30)
        broken = rendered(tag_id, "release-on-tag")
        assert broken.render_error is not None and "unterminated array" in broken.render_error
        assert not _runs(srv, tag_id)

        push_id = _send(srv, "push.http")["eventID"]
        assert wait_for(lambda: len(_runs(srv, push_id)) == 1, 30)
        assert _runs(srv, push_id)[0].trigger == "train-on-main"
    finally:
        srv.httpd.shutdown()
        srv.close()


def test_non_ascii_header_values_travel_as_utf8(server: Server) -> None:
    """``http.server`` hands header values over as Latin-1; the chain sees what the sender wrote."""
    import socket
    from urllib.parse import urlsplit

    raw = (EXAMPLE / "requests" / "push.http").read_bytes()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = [
        ln
        for ln in head.split(b"\r\n")
        if not ln.lower().startswith((b"content-length", b"x-github-delivery"))
    ]
    lines += [
        "X-Note: tøken ☃".encode(),
        b"X-Github-Delivery: utf8-header-1",
        b"Content-Length: %d" % len(body),
    ]
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        assert sock.recv(65536).startswith(b"HTTP/1.1 202")

    def journalled() -> Any:
        record = server.ctx.store.get_event("utf8-header-1")
        return record.request if record is not None and record.request else None

    assert wait_for(lambda: journalled() is not None, 30)
    assert journalled()["headers"]["X-Note"] == ["tøken ☃"]


def test_with_the_claim_check_off_an_event_too_large_for_pub_sub_is_refused_with_413(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with serving(tmp_path, {"KFPT_LAUNCHER": "dry-run"}, claim_check_bytes=0) as server:
        _refused_as_too_large(server, tmp_path)


def _refused_as_too_large(server: Server, tmp_path: Path) -> None:
    # Under the 10 MiB body limit, but a third larger once base64-encoded into the event.
    body = b'{"blob": "' + b"x" * 8_000_000 + b'"}'
    request = tmp_path / "big.http"
    request.write_bytes(
        b"POST / HTTP/1.1\r\nContent-Type: application/json\r\nX-GitHub-Delivery: big-1\r\n\r\n" + body
    )
    status, answer = send_request(server.url, request)
    assert status == 413
    error = json.loads(answer)
    assert error["eventID"] == "big-1"
    assert "over its limit of 10000000 bytes" in error["error"]
    assert server.ctx.store.get_event("big-1") is None


def test_a_trigger_whose_event_outgrows_pub_sub_is_journalled_and_the_others_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import hmac

    config, text = _example_copy(tmp_path)
    listener = config / "listener.yaml"
    # train-on-main overlays a copy of the body's blob twice: its trigger.matched event is too large.
    # release-on-tag is made to accept pushes to main too, with a small overlay.
    assert text.count("expression: body.after.truncate(7)") == 1
    assert text.count("value: body.ref.startsWith('refs/tags/v') && body.created") == 1
    text = text.replace("expression: body.after.truncate(7)", "expression: body.blob + body.blob")
    text = text.replace(
        "value: body.ref.startsWith('refs/tags/v') && body.created", "value: body.ref == 'refs/heads/main'"
    )
    listener.write_text(text)
    payload = {
        "ref": "refs/heads/main",
        "after": "c0ffee1234567890abcdef1234567890abcdef12",
        "deleted": False,
        "repository": {"full_name": "octo/repo"},
        "head_commit": {"message": "big"},
        "pusher": {"name": "octocat"},
        "blob": "x" * 3_000_000,
    }
    body = json.dumps(payload).encode()
    secret = (config / "secrets" / "github-webhook" / "secret").read_bytes()
    signature = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    head = (
        "POST / HTTP/1.1\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n"
        f"X-GitHub-Delivery: big-2\r\nX-Hub-Signature-256: {signature}\r\n\r\n"
    )
    request = tmp_path / "big-push.http"
    request.write_bytes(head.encode() + body)

    monkeypatch.chdir(tmp_path)
    srv = _serve(tmp_path, config, "dry-run")
    try:
        status, answer = send_request(srv.url, request)
        assert status == 202, answer
        assert wait_for(lambda: len(_runs(srv, "big-2")) == 1, 30)
        assert _runs(srv, "big-2")[0].trigger == "release-on-tag"
        record = srv.ctx.store.get_event("big-2")
        assert record is not None
        big = record.trigger("train-on-main")
        assert big is not None and big.accepted is True
        assert big.render_error is not None and big.render_error.startswith("not handed on: event ")
        assert "over its limit of 10000000 bytes" in big.render_error
    finally:
        srv.httpd.shutdown()
        srv.close()


def test_a_listener_with_cloud_event_uri_hears_how_processing_went(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tekton's started / done / successful events, posted in binary mode to the listener's URI."""
    from tests.unit.local_http import Reply, local_server

    config, text = _example_copy(tmp_path)
    assert text.count("spec:\n  triggers:") == 1
    with local_server({"POST /events": Reply(202)}) as sink:
        text = text.replace(
            "spec:\n  triggers:", f"spec:\n  cloudEventURI: {sink.base_url}/events\n  triggers:"
        )
        (config / "listener.yaml").write_text(text)
        monkeypatch.chdir(tmp_path)
        srv = _serve(tmp_path, config, "dry-run")
        try:
            event_id = _send(srv, "push.http")["eventID"]
            assert wait_for(lambda: len(sink.requests) >= 3, 30)
        finally:
            srv.httpd.shutdown()
            srv.close()
    by_type = {r.headers["ce-type"]: r for r in sink.requests}
    assert set(by_type) == {
        "dev.tekton.event.triggers.started.v1",
        "dev.tekton.event.triggers.done.v1",
        "dev.tekton.event.triggers.successful.v1",
    }
    for request in sink.requests:
        assert request.headers["ce-id"] == event_id
        assert request.headers["ce-specversion"] == "1.0"
        assert request.headers["ce-source"] == (
            "/apis/triggers.tekton.dev/v1beta1/namespaces/default/EventListener/github-push"
        )
        assert request.headers["ce-subject"] == f"github-push processing {event_id}"
        assert request.headers["content-type"] == "application/json"
    started = json.loads(by_type["dev.tekton.event.triggers.started.v1"].body)
    assert started["X-Github-Event"] == ["push"] and started["X-Github-Delivery"] == [event_id]
    assert list(started) == sorted(started)  # Go writes a header map with sorted keys
    assert "Host" not in started  # Go's server moves it to Request.Host
    assert json.loads(by_type["dev.tekton.event.triggers.successful.v1"].body) == started
    assert by_type["dev.tekton.event.triggers.done.v1"].body == b"null"
