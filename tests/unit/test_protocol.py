"""The interceptor wire format follows Tekton's JSON field names and omitempty rules."""

from __future__ import annotations

import json

import pytest

from kfp_triggers.errors import InvalidRequestError
from kfp_triggers.tekton.interceptor_protocol import (
    InterceptorRequest,
    InterceptorResponse,
    Status,
    StatusCode,
    TriggerContext,
)


def test_request_round_trip_and_omitempty() -> None:
    req = InterceptorRequest(
        body='{"é": 1}'.encode(),
        header={"X-A": ["1"]},
        extensions={"k": {"n": 1}},
        interceptor_params={"filter": "true"},
        context=TriggerContext("/p", "ev-1", "namespaces/default/triggers/t"),
    )
    wire = req.to_wire()
    assert wire["body"] == '{"é": 1}'
    assert wire["context"] == {
        "event_url": "/p",
        "event_id": "ev-1",
        "trigger_id": "namespaces/default/triggers/t",
    }
    back = InterceptorRequest.from_wire(json.dumps(wire))
    assert back == req
    empty = InterceptorRequest().to_wire()
    assert empty == {"context": {}}


def test_invalid_utf8_body_is_replaced_on_the_wire() -> None:
    assert InterceptorRequest(body=b"\xff{}").to_wire()["body"] == "\ufffd{}"
    # Go replaces each byte it cannot decode; a cut-off three-byte sequence is two bytes, two U+FFFD.
    assert InterceptorRequest(body=b"a\xe2\x82b").to_wire()["body"] == "a\ufffd\ufffdb"


def test_response_wire_shape() -> None:
    ok = InterceptorResponse.proceed({"a": 1}).to_wire()
    assert ok == {"extensions": {"a": 1}, "continue": True, "status": {}}
    stop = InterceptorResponse.stop(StatusCode.FAILED_PRECONDITION, "nope").to_wire()
    assert stop == {"continue": False, "status": {"code": 9, "message": "nope"}}
    assert InterceptorResponse.proceed({}).to_wire() == {"continue": True, "status": {}}


@pytest.mark.parametrize(
    ("code", "want"),
    [(9, StatusCode.FAILED_PRECONDITION), ("FailedPrecondition", 9), ("INVALID_ARGUMENT", 3), (0, 0)],
)
def test_response_codes_as_numbers_or_names(code: object, want: int) -> None:
    resp = InterceptorResponse.from_wire({"continue": False, "status": {"code": code, "message": "m"}})
    assert resp.status == Status(StatusCode(want), "m")


@pytest.mark.parametrize(
    "data",
    [b"not json", b"[]", b'{"body": 5}', b'{"header": {"A": "x"}}', b'{"extensions": []}'],
)
def test_bad_requests_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidRequestError, match="failed to parse body as InterceptorRequest"):
        InterceptorRequest.from_wire(data)


@pytest.mark.parametrize("data", [b'{"continue": "yes"}', b'{"continue": true, "status": {"code": 99}}'])
def test_bad_responses_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidRequestError):
        InterceptorResponse.from_wire(data)
