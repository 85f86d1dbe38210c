"""The REST publisher's requests and answers, against a local server playing Pub/Sub's REST API.

Contract test: Google's Pub/Sub service cannot run here (the emulator tier publishes to the real
emulator through this same class); the request is checked against the documented
``projects.topics.publish`` method: ``POST /v1/projects/<p>/topics/<t>:publish`` with
``{"messages": [{"data": <base64>, "attributes": {...}}]}``, answered ``{"messageIds": [...]}``.
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from kfp_triggers.adapters.gcp_token import BearerTokens
from kfp_triggers.adapters.transports.base import MessageTooLargeError, TransportError
from kfp_triggers.adapters.transports.pubsub_rest import PUBSUB_SCOPE, PubSubRestPublisher
from kfp_triggers.wire import events as ev
from kfp_triggers.wire.eventdata import EventReceived, HttpRequestData, ObjectRef
from tests.unit.local_http import Reply, local_server

PATH = "/v1/projects/proj/topics/stg-events:publish"


def event(body: bytes = b'{"ref": "refs/heads/main"}') -> ev.CloudEvent:
    request = HttpRequestData("POST", "/", {"X-Github-Event": ["push"]}, body)
    payload = EventReceived("d-rest", ObjectRef("default", "github"), request, "2026-01-01T00:00:00Z")
    return ev.event_for(payload, source="//kfp-triggers/ingest", traceparent=None)


def publisher(host: str) -> PubSubRestPublisher:
    tokens = BearerTokens(PUBSUB_SCOPE, fetch=lambda scope: (f"tok-for-{scope[-6:]}", time.time() + 3600))
    return PubSubRestPublisher("proj", topic_prefix="stg", emulator_host=host, timeout=5, tokens=tokens)


def test_a_publish_is_one_post_of_the_structured_event_with_a_bearer_token() -> None:
    sent_event = event()
    with local_server({f"POST {PATH}": Reply(200, b'{"messageIds": ["42"]}')}) as api:
        host = api.base_url.removeprefix("http://")
        assert publisher(host).publish("kfpt-events", sent_event) == "42"
    [sent] = api.requests
    assert sent.headers["authorization"] == "Bearer tok-for-pubsub"
    assert sent.headers["content-type"] == "application/json"
    [message] = json.loads(sent.body)["messages"]
    data, attributes = ev.to_pubsub_message(sent_event)
    assert base64.b64decode(message["data"]) == data and message["attributes"] == attributes
    assert ev.from_pubsub_message(base64.b64decode(message["data"]), message["attributes"]) == sent_event


@pytest.mark.parametrize(("status", "error"), [(404, TransportError), (503, TransportError)])
def test_a_refusal_is_a_retryable_transport_error(status: int, error: type[Exception]) -> None:
    body = b'{"error": {"code": 404, "message": "Resource not found (resource=stg-events)."}}'
    with local_server({f"POST {PATH}": Reply(status, body)}) as api, pytest.raises(error) as info:
        publisher(api.base_url.removeprefix("http://")).publish("kfpt-events", event())
    assert getattr(info.value, "retryable", False)
    assert f"HTTP {status}" in str(info.value)


def test_a_message_too_large_is_refused_before_sending_and_413_is_final() -> None:
    with local_server({f"POST {PATH}": Reply(413, b"")}) as api:
        host = api.base_url.removeprefix("http://")
        with pytest.raises(MessageTooLargeError):
            publisher(host).publish("kfpt-events", event(b'{"x": "' + b"a" * (10 * 1024 * 1024) + b'"}'))
        assert api.requests == []  # counted here, never sent
        with pytest.raises(MessageTooLargeError):
            publisher(host).publish("kfpt-events", event())


def test_no_answer_is_a_transport_error() -> None:
    with local_server() as api:
        host = api.base_url.removeprefix("http://")
    with pytest.raises(TransportError, match="did not answer"):
        publisher(host).publish("kfpt-events", event())


def test_the_emulator_gets_no_token() -> None:
    with local_server({f"POST {PATH}": Reply(200, b'{"messageIds": ["1"]}')}) as api:
        host = api.base_url.removeprefix("http://")
        PubSubRestPublisher("proj", topic_prefix="stg", emulator_host=host).publish("kfpt-events", event())
    assert "authorization" not in api.requests[0].headers
