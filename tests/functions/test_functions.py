"""Each function through functions-framework's own app and test client, every input shape."""

from __future__ import annotations

import base64
import io
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from kfp_triggers.adapters.transports.memory import MemoryBus
from kfp_triggers.app import runtime
from kfp_triggers.tekton.request import read_http_request
from kfp_triggers.wire.events import (
    EVENT_RECEIVED,
    TRIGGER_MATCHED,
    CloudEvent,
    read_data,
    to_http_binary,
    to_pubsub_message,
)
from tests.conftest import EXAMPLES, ROOT
from tests.functions.ff_process import example_settings, running_function

EXAMPLE = EXAMPLES / "github-push"
PUSH = EXAMPLE / "requests" / "push.http"


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("KFPT_CONFIG", str(EXAMPLE))
    monkeypatch.setenv("KFPT_SECRETS_DIR", str(EXAMPLE / "secrets"))
    monkeypatch.setenv("KFPT_STORE", f"sqlite:///{tmp_path}/state.db")
    monkeypatch.setenv("KFPT_TRANSPORT", "memory")
    monkeypatch.setenv("KFPT_LAUNCHER", "dry-run")
    runtime.reset_context()
    yield
    runtime.reset_context()


def _client(stage: str, target: str, signature: str) -> Any:
    app = create_app(target, str(ROOT / "functions" / stage / "main.py"), signature)
    return app.test_client()


def _bus() -> MemoryBus:
    bus = runtime.context().publisher
    assert isinstance(bus, MemoryBus)
    return bus


def _post_push(client: Any, body: bytes | None = None, **headers: str) -> Any:
    request = read_http_request(PUSH)
    sent = {k: ", ".join(v) for k, v in request.headers.items() if k not in {"Content-Length", "Host"}}
    return client.post("/", data=request.body if body is None else body, headers={**sent, **headers})


def test_ingest_publishes_the_exact_body_and_answers_like_tekton() -> None:
    client = _client("ingest", "ingest_webhook", "http")
    response = _post_push(client)
    assert response.status_code == 202
    answer = response.get_json()
    assert answer["eventID"] == "0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01"
    assert set(answer) == {"eventListener", "namespace", "eventListenerUID", "eventID"}
    [event] = _bus().events("kfpt-events")
    assert event["type"] == EVENT_RECEIVED
    data = read_data(event)
    assert data.request.body == read_http_request(PUSH).body
    assert data.request.headers["X-Hub-Signature-256"][0].startswith("sha256=")


def test_ingest_keeps_the_request_target_as_sent() -> None:
    client = _client("ingest", "ingest_webhook", "http")
    request = read_http_request(PUSH)
    sent = {k: ", ".join(v) for k, v in request.headers.items() if k not in {"Content-Length", "Host"}}
    # gunicorn, which Cloud Run functions use, puts the raw target in RAW_URI
    response = client.post(
        "/hooks/a b?x=%2B",
        data=request.body,
        headers=sent,
        environ_overrides={"RAW_URI": "/hooks/a%20b?x=%2B"},
    )
    assert response.status_code == 202
    [event] = _bus().events("kfpt-events")
    assert read_data(event).request.url == "/hooks/a%20b?x=%2B"
    without = client.post("/?x=%2B", data=request.body, headers={**sent, "X-Github-Delivery": "d-2"})
    assert without.status_code == 202
    assert read_data(_bus().events("kfpt-events")[1]).request.url == "/?x=%2B"


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"[1]", 400, "cannot unmarshal array"),
        (b"", 400, "unexpected end of JSON input"),
        (b"{not json", 400, "invalid character"),
    ],
)
def test_ingest_rejects_bad_bodies_and_publishes_nothing(body: bytes, status: int, fragment: str) -> None:
    response = _post_push(_client("ingest", "ingest_webhook", "http"), body)
    assert response.status_code == status
    assert fragment in response.get_json()["errorMessage"]
    assert _bus().events("kfpt-events") == []


def test_ingest_size_limit_and_liveness(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFPT_MAX_BODY_BYTES", "100")
    runtime.reset_context()
    client = _client("ingest", "ingest_webhook", "http")
    response = _post_push(client)
    assert response.status_code == 413
    assert "limit is 100" in response.get_json()["error"]
    live = client.get("/live")
    assert (live.status_code, live.data) == (200, b"ok")


class CountingStream(io.BytesIO):
    """A request body that counts the bytes the server read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.taken += len(data)
        return data


def _push_without_length() -> tuple[dict[str, str], bytes]:
    request = read_http_request(PUSH)
    sent = {k: ", ".join(v) for k, v in request.headers.items() if k not in {"Content-Length", "Host"}}
    return sent, request.body


@pytest.mark.parametrize("length", ["-1", "ten", "1e3"])
def test_ingest_refuses_a_content_length_that_is_not_a_number(length: str) -> None:
    sent, body = _push_without_length()
    stream = CountingStream(body)
    response = _client("ingest", "ingest_webhook", "http").post(
        "/", input_stream=stream, headers=sent, environ_overrides={"CONTENT_LENGTH": length}
    )
    assert response.status_code == 400
    assert response.get_json() == {"error": f"Content-Length {length!r} is not a number of bytes"}
    assert stream.taken == 0
    assert _bus().events("kfpt-events") == []


def test_ingest_refuses_a_body_over_the_limit_without_reading_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFPT_MAX_BODY_BYTES", "1000")
    runtime.reset_context()
    sent, body = _push_without_length()
    stream = CountingStream(body * 100)
    response = _client("ingest", "ingest_webhook", "http").post(
        "/", input_stream=stream, headers=sent, environ_overrides={"CONTENT_LENGTH": str(419430400)}
    )
    assert response.status_code == 413
    assert response.get_json() == {"error": "request body is 419430400 bytes; the limit is 1000"}
    assert stream.taken == 0  # functions-framework does not read the rest of the body either


def test_ingest_reads_a_body_without_a_length_only_up_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    sent, body = _push_without_length()
    client = _client("ingest", "ingest_webhook", "http")
    chunked = {"wsgi.input_terminated": True, "CONTENT_LENGTH": ""}  # gunicorn, for a chunked body
    accepted = client.post("/", input_stream=CountingStream(body), headers=sent, environ_overrides=chunked)
    assert accepted.status_code == 202
    assert read_data(_bus().events("kfpt-events")[0]).request.body == body
    monkeypatch.setenv("KFPT_MAX_BODY_BYTES", "1000")
    runtime.reset_context()
    stream = CountingStream(body * 100)
    client = _client("ingest", "ingest_webhook", "http")
    refused = client.post("/", input_stream=stream, headers=sent, environ_overrides=chunked)
    assert refused.status_code == 413
    assert refused.get_json() == {"error": "request body is over the limit of 1000 bytes"}
    assert stream.taken == 1001


@pytest.fixture
def ingest_under_gunicorn(tmp_path: Path) -> Iterator[int]:
    """The ingest function as deployed: functions-framework's gunicorn on 127.0.0.1; yields its port."""
    settings = example_settings(tmp_path, KFPT_MAX_BODY_BYTES="1000")
    with running_function("ingest", "ingest_webhook", settings, tmp_path) as (port, _log):
        yield port


def test_deployed_ingest_answers_a_huge_content_length_at_once(ingest_under_gunicorn: int) -> None:
    """The 413 leaves before the body is sent: nothing waits for (or buffers) the 400 MiB announced."""
    with socket.create_connection(("127.0.0.1", ingest_under_gunicorn), timeout=30) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 419430400\r\n\r\n{")
        reply = sock.makefile("rb")
        head = reply.readline()
        lengths = [ln for ln in iter(reply.readline, b"\r\n") if ln.lower().startswith(b"content-length:")]
        body = reply.read(int(lengths[0].split(b":")[1]))
    assert head.startswith(b"HTTP/1.1 413 "), head
    assert json.loads(body) == {"error": "request body is 419430400 bytes; the limit is 1000"}


def test_ingest_answers_a_cloudevent_with_a_cloudevent() -> None:
    client = _client("ingest", "ingest_webhook", "http")
    response = _post_push(client, **{"ce-specversion": "1.0", "ce-id": "x", "ce-type": "t", "ce-source": "s"})
    assert response.status_code == 202
    assert response.headers["Ce-Type"] == "dev.tekton.event.triggers.accepted.v1"
    assert response.headers["Ce-Id"] == response.get_json()["eventID"]


def test_ingest_answers_503_when_the_hand_off_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KFPT_TRANSPORT", "http")
    monkeypatch.setenv("K_SINK", "http://127.0.0.1:9/")  # nothing listens on the discard port
    runtime.reset_context()
    response = _post_push(_client("ingest", "ingest_webhook", "http"))
    assert response.status_code == 503
    assert response.get_json()["eventID"] == "0b6f5a2e-c9d1-11f0-8a1e-4f2c7a9d3b01"


def _received_event() -> CloudEvent:
    client = _client("ingest", "ingest_webhook", "http")
    assert _post_push(client).status_code == 202
    [event] = _bus().events("kfpt-events")
    return event


def _as_binary(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    return to_http_binary(event)


def _as_push_envelope(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    data, attributes = to_pubsub_message(event)
    envelope = {
        "message": {"data": base64.b64encode(data).decode(), "attributes": attributes, "messageId": "42"},
        "subscription": "projects/p/subscriptions/kfpt-events-sub",
    }
    return {"Content-Type": "application/json"}, json.dumps(envelope).encode()


@pytest.mark.parametrize("shape", [_as_binary, _as_push_envelope])
def test_intercept_accepts_each_input_shape(shape: Any) -> None:
    event = _received_event()
    client = _client("intercept", "intercept_event", "cloudevent")
    headers, body = shape(event)
    response = client.post("/projects/p/topics/kfpt-events", data=body, headers=headers)
    assert response.status_code == 200
    matched = _bus().events("kfpt-matched")
    assert [m["type"] for m in matched] == [TRIGGER_MATCHED]
    assert read_data(matched[0]).trigger.name == "train-on-main"


def test_a_retryable_failure_answers_500_so_the_platform_redelivers(monkeypatch: pytest.MonkeyPatch) -> None:
    event = _received_event()
    monkeypatch.setenv("KFPT_TRANSPORT", "http")
    monkeypatch.setenv("K_SINK", "http://127.0.0.1:9/")
    runtime.reset_context()
    headers, body = to_http_binary(event)
    response = _client("intercept", "intercept_event", "cloudevent").post("/", data=body, headers=headers)
    assert response.status_code == 500


def test_a_permanent_failure_is_acknowledged() -> None:
    event = _received_event()
    event.data["listener"]["name"] = "no-such-listener"
    headers, body = to_http_binary(event)
    response = _client("intercept", "intercept_event", "cloudevent").post("/", data=body, headers=headers)
    assert response.status_code == 200
    assert _bus().events("kfpt-matched") == []


def test_render_launch_and_status_follow_on() -> None:
    event = _received_event()
    headers, body = to_http_binary(event)
    assert (
        _client("intercept", "intercept_event", "cloudevent")
        .post("/", data=body, headers=headers)
        .status_code
        == 200
    )
    [matched] = _bus().events("kfpt-matched")
    headers, body = to_http_binary(matched)
    assert (
        _client("render", "render_run", "cloudevent").post("/", data=body, headers=headers).status_code == 200
    )
    [requested] = _bus().events("kfpt-launch")
    assert read_data(requested).resources[0]["kind"] == "Run"
    headers, body = to_http_binary(requested)
    launch = _client("launch", "launch_run", "cloudevent")
    assert launch.post("/", data=body, headers=headers).status_code == 200
    assert launch.post("/", data=body, headers=headers).status_code == 200  # redelivered
    created = _bus().events("kfpt-runs")
    assert len({read_data(c).run_id for c in created}) == 1  # one run, announced twice
    headers, body = to_http_binary(created[0])
    assert (
        _client("status", "collect_status", "cloudevent").post("/", data=body, headers=headers).status_code
        == 200
    )


def _edge_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    shutil.copytree(EXAMPLE, config)
    listener = config / "listener.yaml"
    text = listener.read_text().replace(
        "metadata:\n  name: github-push\n",
        'metadata:\n  name: github-push\n  annotations:\n    kfp-triggers.dev/verify-at-ingest: "true"\n',
        1,
    )
    assert "verify-at-ingest" in text
    listener.write_text(text)
    monkeypatch.setenv("KFPT_CONFIG", str(config))
    runtime.reset_context()


def test_edge_auth_refuses_a_bad_signature_with_401(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _edge_config(tmp_path, monkeypatch)
    client = _client("ingest", "ingest_webhook", "http")
    forged = _post_push(client, **{"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert forged.status_code == 401
    # The sender learns only that it was refused; which check refused it is in the log.
    assert forged.get_json() == {"error": "the request is not authentic"}
    assert _bus().events("kfpt-events") == []
    genuine = _post_push(client)
    assert genuine.status_code == 202
    assert len(_bus().events("kfpt-events")) == 1


def test_without_the_annotation_a_bad_signature_is_accepted_then_rejected_by_the_trigger() -> None:
    client = _client("ingest", "ingest_webhook", "http")
    forged = _post_push(client, **{"X-Hub-Signature-256": "sha256=" + "0" * 64})
    assert forged.status_code == 202  # Tekton's behaviour: the interceptor rejects it later


def test_a_knative_ping_is_a_status_tick(caplog: pytest.LogCaptureFixture) -> None:
    """Knative's PingSource cannot set our event type; the status stage reads its ping as a tick."""
    headers = {
        "ce-specversion": "1.0",
        "ce-type": "dev.knative.sources.ping",
        "ce-source": "/apis/v1/namespaces/default/pingsources/kfpt-status-tick",
        "ce-id": "4f3c1a9e-0b7d-4e21-9c55-2a8e6d1f0b33",
        "ce-kfpttick": "status",
        "Content-Type": "application/json",
    }
    client = _client("status", "collect_status", "cloudevent")
    with caplog.at_level("ERROR", logger="kfp_triggers.app.runtime"):
        assert client.post("/", data=b'{"tickAt": null}', headers=headers).status_code == 200
        assert [r for r in caplog.records if "giving up" in r.getMessage()] == []
        # The same ping handed to another stage is not ours: acknowledged with an error log, not retried.
        other = _client("render", "render_run", "cloudevent")
        assert other.post("/", data=b'{"tickAt": null}', headers=headers).status_code == 200
        assert [r.getMessage() for r in caplog.records if "giving up" in r.getMessage()] != []
    assert not _bus().published
