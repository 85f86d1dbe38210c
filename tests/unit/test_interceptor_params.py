"""Interceptor params decoded like Go's json.Unmarshal, and the Go texts embedded in messages."""

from __future__ import annotations

from typing import Any

import pytest

from kfp_triggers.interceptors.gocompat import (
    GoJSONError,
    go_format_v,
    go_hex_decode,
    go_json_loads,
    go_json_object,
    go_quote,
)
from kfp_triggers.interceptors.params import SCM_PARAMS, ParamsError, SecretRef, decode_params, event_allowed
from kfp_triggers.interceptors.signature import SignatureError, sign, validate_signature


def test_decode_keeps_only_set_fields_and_treats_null_as_unset() -> None:
    got = decode_params({"eventTypes": None, "secretRef": {"secretName": "s"}, "other": 1}, SCM_PARAMS)
    assert got == {"secretRef": {"secretName": "s"}}
    assert SecretRef.from_param(got["secretRef"]) == SecretRef("s", "")


def test_decode_matches_keys_case_insensitively() -> None:
    got = decode_params({"SECRETREF": {"SecretKey": "k"}, "eventtypes": ["a"]}, SCM_PARAMS)
    assert got == {"secretRef": {"secretKey": "k"}, "eventTypes": ["a"]}


def test_decode_error_text() -> None:
    with pytest.raises(ParamsError) as info:
        decode_params({"secretRef": {"secretName": True}}, SCM_PARAMS)
    assert str(info.value) == (
        "failed to parse interceptor params: invalid json: json: cannot unmarshal bool "
        "into Go struct field SecretRef.secretRef.secretName of type string"
    )


@pytest.mark.parametrize(
    ("types", "event", "allowed"), [(None, "x", True), ([], "x", False), (["x"], "x", True)]
)
def test_event_allowed(types: list[str] | None, event: str, allowed: bool) -> None:
    assert event_allowed(types, event) is allowed


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("abc", '"abc"'),
        ('a"b\\', '"a\\"b\\\\"'),
        ("\n\t\x00", '"\\n\\t\\x00"'),
        ("é☃", '"é☃"'),
        ("\u00a0", '"\\u00a0"'),
    ],
)
def test_go_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("0g", "encoding/hex: invalid byte: U+0067 'g'"),
        ("abc", "encoding/hex: odd length hex string"),
        ("abz", "encoding/hex: invalid byte: U+007A 'z'"),
        ("\x01\x01", "encoding/hex: invalid byte: U+0001"),
    ],
)
def test_go_hex_errors(text: str, error: str) -> None:
    with pytest.raises(ValueError) as info:
        go_hex_decode(text)
    assert str(info.value) == error


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"", "unexpected end of JSON input"),
        (b'{"a":', "unexpected end of JSON input"),
        (b"hello", "invalid character 'h' looking for beginning of value"),
        (b"tx", "invalid character 'x' in literal true (expecting 'r')"),
        (b"{} x", "invalid character 'x' after top-level value"),
        (b'{"a" 1}', "invalid character '1' after object key"),
        (b'{"a":1 "b"}', "invalid character '\"' after object key:value pair"),
        (b"[1 2]", "invalid character '2' after array element"),
        (b"{'a':1}", "invalid character '\\'' looking for beginning of object key string"),
        (b"NaN", "invalid character 'N' looking for beginning of value"),
        (b"-x", "invalid character 'x' in numeric literal"),
        (b'"\\x"', "invalid character 'x' in string escape code"),
    ],
)
def test_go_json_syntax_errors(raw: bytes, error: str) -> None:
    with pytest.raises(GoJSONError) as info:
        go_json_loads(raw)
    assert str(info.value) == error


def test_go_json_object_rules() -> None:
    assert go_json_object(b"null") == {}
    assert go_json_object(b'{"a":"\xff"}') == {"a": "\ufffd"}
    with pytest.raises(
        GoJSONError, match=r"cannot unmarshal array into Go value of type map\[string\]interface \{\}"
    ):
        go_json_object(b"[]")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1, "1"),
        (2.5, "2.5"),
        (1000000, "1e+06"),
        (None, "<nil>"),
        (True, "true"),
        ({"b": [1], "a": "x"}, "map[a:x b:[1]]"),
    ],
)
def test_go_format_v(value: Any, text: str) -> None:
    assert go_format_v(value) == text


def test_sign_and_validate_round_trip() -> None:
    for alg in ("sha1", "sha256", "sha512"):
        validate_signature(sign(b"body", b"key", alg), b"body", b"key")
    with pytest.raises(SignatureError, match="missing signature"):
        validate_signature("", b"body", b"key")
    with pytest.raises(SignatureError, match="payload signature check failed"):
        validate_signature(sign(b"body", b"key")[:-2] + "00", b"body", b"key")
