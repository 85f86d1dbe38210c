"""Payload validation answers with Go's decoder messages, as a Tekton EventListener does."""

from __future__ import annotations

import pytest

from kfp_triggers.tekton.payload import invalid_body_message, payload_problem


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b'{"a": [1, 2]}',
        b'  {"a": 1}\n',
        b"null",
        b'{"a": "\xff"}',  # invalid UTF-8 inside a string is replaced, not refused
        b'{"a":' * 2000 + b"1" + b"}" * 2000,  # Go reads up to 10000 levels
    ],
)
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


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # What Go's json.Unmarshal answers where an approximation built on Python's json module
        # differed: Go names the offending byte (converted to a rune) even when it is not UTF-8 ...
        (b"\xff", "invalid character 'ÿ' looking for beginning of value"),
        # ... Go reads UTF-8 only (no UTF-16 detection, no byte order mark) ...
        (
            b"\xff\xfe{\x00}\x00",
            "invalid character 'ÿ' looking for beginning of value",
        ),
        (
            b"\xef\xbb\xbf{}",
            "invalid character 'ï' looking for beginning of value",
        ),
        # ... its scanner's own contexts, including the space it feeds at the end of the input ...
        (b"{'a': 1}", "invalid character '\\'' looking for beginning of object key string"),
        (b'{"a":1,}', "invalid character '}' looking for beginning of object key string"),
        (b'{"a":tru', "invalid character ' ' in literal true (expecting 'e')"),
        (b'{"a": [1, 2.', "invalid character ' ' after decimal point in numeric literal"),
        # ... and a number beyond float64 cannot go into the map's interface{} values.
        (b'{"a": 1e400}', "json: cannot unmarshal number 1e400 into Go value of type float64"),
        (b"[1e400]", "json: cannot unmarshal array into Go value of type map[string]interface {}"),
    ],
)
def test_messages_are_exactly_gos(body: bytes, message: str) -> None:
    assert payload_problem(body) == message


def test_error_message_prefix_is_tektons() -> None:
    assert invalid_body_message("x") == "Invalid event body format : x"
