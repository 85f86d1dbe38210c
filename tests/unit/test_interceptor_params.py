"""Interceptor params decoded like Go's json.Unmarshal, and webhook signatures."""

from __future__ import annotations

import pytest

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


def test_sign_and_validate_round_trip() -> None:
    for alg in ("sha1", "sha256", "sha512"):
        validate_signature(sign(b"body", b"key", alg), b"body", b"key")
    with pytest.raises(SignatureError, match="missing signature"):
        validate_signature("", b"body", b"key")
    with pytest.raises(SignatureError, match="payload signature check failed"):
        validate_signature(sign(b"body", b"key")[:-2] + "00", b"body", b"key")
