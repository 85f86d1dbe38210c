"""Slack interceptor: header presence checks and requestedFields copied as lists."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kfp_triggers.interceptors.slack import MISSING_HEADER, SlackInterceptor
from kfp_triggers.tekton.interceptor_protocol import InterceptorRequest, StatusCode

FORM = "application/x-www-form-urlencoded"
SLASH = json.dumps(
    {
        "command": ["/build"],
        "text": ["main 2222"],
        "user_id": ["U04NVDWF7R8"],
        "channel_name": ["sample-app"],
    }
).encode()
HEADERS = {"Content-Type": FORM, "X-Slack-Signature": "v0=not-checked"}


def run(headers: dict[str, str], params: dict[str, Any], body: bytes = SLASH) -> Any:
    request = InterceptorRequest(
        body=body, header={k: [v] for k, v in headers.items()}, interceptor_params=params
    )
    return SlackInterceptor().process(request)


def test_requested_fields_are_copied_as_lists() -> None:
    res = run(HEADERS, {"requestedFields": ["text", "command"]})
    assert res.continue_ is True
    assert res.extensions == {"text": ["main 2222"], "command": ["/build"]}


def test_signature_is_presence_only() -> None:
    """As Tekton: any non-empty X-Slack-Signature passes; nothing is verified."""
    res = run({"content-type": FORM, "x-slack-signature": "garbage"}, {"requestedFields": ["text"]})
    assert res.continue_ is True


def test_empty_requested_fields_continue_without_extensions() -> None:
    res = run(HEADERS, {"requestedFields": []})
    assert (res.continue_, res.extensions) == (True, None)


FAILURES = [
    ("no content type", {"X-Slack-Signature": "x"}, {"requestedFields": ["text"]}, SLASH, 3, MISSING_HEADER),
    (
        "json content type",
        {"Content-Type": "application/json", "X-Slack-Signature": "x"},
        {},
        SLASH,
        3,
        MISSING_HEADER,
    ),
    ("no signature", {"Content-Type": FORM}, {"requestedFields": ["text"]}, SLASH, 3, MISSING_HEADER),
    ("empty signature", {"Content-Type": FORM, "X-Slack-Signature": ""}, {}, SLASH, 3, MISSING_HEADER),
    (
        "raw form body (one-key forms are not converted)",
        HEADERS,
        {"requestedFields": ["text"]},
        b"payload=%7B%7D",
        3,
        "failed to unmarshl slack payload: invalid character 'p' looking for beginning of value",
    ),
    (
        "field value not a list",
        HEADERS,
        {"requestedFields": ["text"]},
        b'{"text":"x"}',
        3,
        "failed to unmarshl slack payload: json: cannot unmarshal string into Go value of type []string",
    ),
    (
        "numbers are type errors, whatever their size (Go does not convert them for []string)",
        HEADERS,
        {"requestedFields": ["text"]},
        b'{"text":["x", 1e400]}',
        3,
        "failed to unmarshl slack payload: json: cannot unmarshal number into Go value of type string",
    ),
    (
        "cut-off literal (Go's scanner reads a space at the end of the input)",
        HEADERS,
        {"requestedFields": ["text"]},
        b'{"text":nul',
        3,
        "failed to unmarshl slack payload: invalid character ' ' in literal null (expecting 'l')",
    ),
    ("no requestedFields", HEADERS, {}, SLASH, 5, "missing requested field definition"),
    (
        "null requestedFields",
        HEADERS,
        {"requestedFields": None},
        SLASH,
        5,
        "missing requested field definition",
    ),
    (
        "absent field",
        HEADERS,
        {"requestedFields": ["text", "team_id"]},
        b'{"text":["a b"],"command":["/x"]}',
        5,
        "requested field does not exists in payload map[command:[/x] text:[a b]]",
    ),
    (
        "malformed params",
        HEADERS,
        {"requestedFields": "text"},
        SLASH,
        3,
        "failed to parse interceptor params: invalid json: json: cannot unmarshal string "
        "into Go struct field InterceptorParams.requestedFields of type []string",
    ),
]


@pytest.mark.parametrize(
    ("headers", "params", "body", "code", "message"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES]
)
def test_slack_failures(
    headers: dict[str, str], params: dict[str, Any], body: bytes, code: int, message: str
) -> None:
    res = run(headers, params, body)
    assert (res.continue_, int(res.status.code), res.status.message) == (False, code, message)


def test_body_is_checked_before_params() -> None:
    res = run(HEADERS, {"requestedFields": 5}, b"nope")
    assert res.status.message.startswith("failed to unmarshl slack payload")
    assert res.status.code == StatusCode.INVALID_ARGUMENT
