"""Payload validation answers with Go's decoder messages, as a Tekton EventListener does."""

from __future__ import annotations

import pytest

from kfp_triggers.payload import invalid_body_message, payload_problem


@pytest.mark.parametrize("body", [b"{}", b'{"a": [1, 2]}', b'  {"a": 1}\n', b"null"])
def test_objects_and_null_are_accepted(body: bytes) -> None:
    assert payload_problem(body) is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "unexpected end of JSON input"),
        (b"   ", "unexpected end of JSON input"),
        (b'{"a": 1', "unexpected end of JSON input"),
        (b"[1, 2]", "json: cannot unmarshal array into Go value of type map[string]interface {}"),
        (b'"text"', "json: cannot unmarshal string into Go value of type map[string]interface {}"),
        (b"42", "json: cannot unmarshal number into Go value of type map[string]interface {}"),
        (b"true", "json: cannot unmarshal bool into Go value of type map[string]interface {}"),
        (b"hello", "invalid character 'h' looking for beginning of value"),
        (b"{} x", "invalid character 'x' after top-level value"),
    ],
)
def test_rejections_carry_go_messages(body: bytes, message: str) -> None:
    assert payload_problem(body) == message


def test_error_message_prefix_is_tektons() -> None:
    assert invalid_body_message("x") == "Invalid event body format : x"
