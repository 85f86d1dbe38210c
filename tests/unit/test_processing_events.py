"""Tekton's trigger-processing CloudEvents: their shape, and best-effort sending."""

from __future__ import annotations

from kfp_triggers.adapters import processingevents
from kfp_triggers.config import EventListener
from tests.unit.local_http import Reply, local_server


def _listener(uri: str) -> EventListener:
    return EventListener(name="el", namespace="ci", uid="u", cloud_event_uri=uri)


def test_nothing_is_sent_without_a_cloud_event_uri() -> None:
    assert processingevents.send(_listener(""), "ev", processingevents.STARTED, {}) is False


def test_a_failing_receiver_is_retried_then_left_alone() -> None:
    with local_server({"POST /": Reply(503)}) as sink:
        taken = processingevents.send(_listener(sink.base_url + "/"), "ev-1", processingevents.DONE, None)
    assert taken is False
    assert len(sink.requests) == processingevents.ATTEMPTS
    assert {r.headers["ce-type"] for r in sink.requests} == {"dev.tekton.event.triggers.done.v1"}


def test_an_unreachable_receiver_does_not_raise() -> None:
    listener = _listener("http://127.0.0.1:9/")
    assert processingevents.send(listener, "ev", processingevents.FAILED, None, timeout_s=1) is False


def test_the_request_is_tektons_binary_mode_event() -> None:
    headers, body = processingevents.processing_request(
        _listener("http://x/"), "ev-2", processingevents.SUCCESSFUL, {"X-B": ["2"], "X-A": ["<1>"]}
    )
    assert headers == {
        "Ce-Specversion": "1.0",
        "Ce-Id": "ev-2",
        "Ce-Type": "dev.tekton.event.triggers.successful.v1",
        "Ce-Source": "/apis/triggers.tekton.dev/v1beta1/namespaces/ci/EventListener/el",
        "Ce-Subject": "el processing ev-2",
        "Content-Type": "application/json",
    }
    assert body == b'{"X-A":["\\u003c1\\u003e"],"X-B":["2"]}'  # json.Marshal of an http.Header


def test_credentials_in_the_headers_do_not_reach_the_receiver() -> None:
    headers = {"X-Gitlab-Token": ["s3cret"], "Authorization": ["Bearer t"], "X-Gitlab-Event": ["Push Hook"]}
    _, body = processingevents.processing_request(
        _listener("http://x/"), "ev", processingevents.STARTED, headers
    )
    assert b"s3cret" not in body and b"Bearer" not in body
    assert body == (
        b'{"Authorization":["[redacted]"],"X-Gitlab-Event":["Push Hook"],"X-Gitlab-Token":["[redacted]"]}'
    )
