"""GitHub interceptor: form refusal, eventTypes, X-Hub-Signature-256 rules and the order of checks."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.interceptors.github import FORM_ENCODING_REFUSED, GitHubInterceptor
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.tekton.interceptor_protocol import (
    InterceptorRequest,
    InterceptorResponse,
    InterceptorServices,
    StatusCode,
)

SECRET = b"s3cr3t-webhook-key"
BODY = b'{"action":"opened","number":7,"repository":{"full_name":"acme/widgets"}}'
REF = {"secretName": "github", "secretKey": "token"}


@pytest.fixture
def interceptor(tmp_path: Path) -> GitHubInterceptor:
    (tmp_path / "github").mkdir()
    (tmp_path / "github" / "token").write_bytes(SECRET)
    (tmp_path / "github" / "other").write_bytes(b"not-the-secret")
    return GitHubInterceptor(InterceptorServices(secrets=FileSecrets(tmp_path)))


def mac(alg: str, body: bytes = BODY, secret: bytes = SECRET) -> str:
    return f"{alg}=" + hmac.new(secret, body, getattr(hashlib, alg)).hexdigest()


def run(
    interceptor: GitHubInterceptor,
    headers: dict[str, str],
    params: dict[str, Any],
    body: bytes = BODY,
) -> InterceptorResponse:
    request = InterceptorRequest(
        body=body, header={k: [v] for k, v in headers.items()}, interceptor_params=params
    )
    return interceptor.process(request)


FP, IA = StatusCode.FAILED_PRECONDITION, StatusCode.INVALID_ARGUMENT

SIGNATURE_CASES = [
    ("sha256 prefix", {"X-Hub-Signature-256": mac("sha256")}, REF, BODY, None),
    ("sha1 prefix in the -256 header", {"X-Hub-Signature-256": mac("sha1")}, REF, BODY, None),
    ("sha512 prefix", {"X-Hub-Signature-256": mac("sha512")}, REF, BODY, None),
    ("lower-case header name", {"x-hub-signature-256": mac("sha256")}, REF, BODY, None),
    ("empty body signed", {"X-Hub-Signature-256": mac("sha256", b"")}, REF, b"", None),
    (
        "unicode body signed over its bytes",
        {"X-Hub-Signature-256": mac("sha256", '{"t":"héllo ☃"}'.encode())},
        REF,
        '{"t":"héllo ☃"}'.encode(),
        None,
    ),
    (
        "unknown prefix",
        {"X-Hub-Signature-256": "md5=abcd"},
        REF,
        BODY,
        (FP, 'unknown hash type prefix: "md5"'),
    ),
    (
        "no '=' at all",
        {"X-Hub-Signature-256": "deadbeef"},
        REF,
        BODY,
        (FP, 'error parsing signature "deadbeef"'),
    ),
    (
        "non-hex digest",
        {"X-Hub-Signature-256": "sha256=zz"},
        REF,
        BODY,
        (FP, "error decoding signature \"sha256=zz\": encoding/hex: invalid byte: U+007A 'z'"),
    ),
    (
        "odd-length digest",
        {"X-Hub-Signature-256": "sha256=abc"},
        REF,
        BODY,
        (FP, 'error decoding signature "sha256=abc": encoding/hex: odd length hex string'),
    ),
    (
        "wrong secret",
        {"X-Hub-Signature-256": mac("sha256", secret=b"wrong")},
        REF,
        BODY,
        (FP, "payload signature check failed"),
    ),
    (
        "body changed after signing",
        {"X-Hub-Signature-256": mac("sha256")},
        REF,
        BODY + b" ",
        (FP, "payload signature check failed"),
    ),
    (
        "signature of another key in the same secret",
        {"X-Hub-Signature-256": mac("sha256")},
        {"secretName": "github", "secretKey": "other"},
        BODY,
        (FP, "payload signature check failed"),
    ),
    (
        "missing header",
        {},
        REF,
        BODY,
        (FP, "no X-Hub-Signature-256 header set"),
    ),
    (
        "legacy X-Hub-Signature is not read",
        {"X-Hub-Signature": mac("sha1")},
        REF,
        BODY,
        (FP, "no X-Hub-Signature-256 header set"),
    ),
    (
        "empty secretKey",
        {"X-Hub-Signature-256": mac("sha256")},
        {"secretName": "github", "secretKey": ""},
        BODY,
        (FP, "github interceptor secretRef.secretKey is empty"),
    ),
    (
        "secretKey absent counts as empty",
        {"X-Hub-Signature-256": mac("sha256")},
        {"secretName": "github"},
        BODY,
        (FP, "github interceptor secretRef.secretKey is empty"),
    ),
    (
        "missing secret file",
        {"X-Hub-Signature-256": mac("sha256")},
        {"secretName": "nope", "secretKey": "token"},
        BODY,
        (FP, 'error getting secret: secrets "nope" not found'),
    ),
]


@pytest.mark.parametrize(
    ("headers", "ref", "body", "failure"),
    [c[1:] for c in SIGNATURE_CASES],
    ids=[c[0] for c in SIGNATURE_CASES],
)
def test_signature_rules(
    interceptor: GitHubInterceptor,
    headers: dict[str, str],
    ref: dict[str, str],
    body: bytes,
    failure: tuple[StatusCode, str] | None,
) -> None:
    res = run(interceptor, headers, {"secretRef": ref}, body)
    if failure is None:
        assert res.continue_ is True
        assert res.status.code == StatusCode.OK
    else:
        assert res.continue_ is False
        assert (res.status.code, res.status.message) == failure


def test_secret_value_never_appears_in_messages(interceptor: GitHubInterceptor) -> None:
    res = run(interceptor, {"X-Hub-Signature-256": mac("sha256", secret=b"x")}, {"secretRef": REF})
    assert SECRET.decode() not in res.status.message


EVENT_CASES = [
    ("absent: everything allowed", None, "push", True),
    ("null: everything allowed", "null", "push", True),
    ("empty list allows nothing", [], "push", False),
    ("match", ["pull_request", "push"], "push", True),
    ("mismatch", ["pull_request"], "push", False),
    ("exact, case-sensitive", ["Push"], "push", False),
    ("missing header vs list", ["push"], "", False),
]


@pytest.mark.parametrize(
    ("event_types", "event", "allowed"),
    [c[1:] for c in EVENT_CASES],
    ids=[c[0] for c in EVENT_CASES],
)
def test_event_types(interceptor: GitHubInterceptor, event_types: Any, event: str, allowed: bool) -> None:
    params: dict[str, Any] = {}
    if event_types == "null":
        params["eventTypes"] = None
    elif event_types is not None:
        params["eventTypes"] = event_types
    headers = {"X-GitHub-Event": event} if event else {}
    res = run(interceptor, headers, params)
    assert res.continue_ is allowed
    if not allowed:
        assert res.status.code == FP
        assert res.status.message == f"event type {event} is not allowed"


def test_event_types_checked_before_the_signature(interceptor: GitHubInterceptor) -> None:
    res = run(interceptor, {"X-Github-Event": "push"}, {"eventTypes": ["pull_request"], "secretRef": REF})
    assert res.status.message == "event type push is not allowed"


def test_form_encoding_refused_before_anything_else(interceptor: GitHubInterceptor) -> None:
    res = run(
        interceptor,
        {"content-type": "application/x-www-form-urlencoded", "X-Github-Event": "push"},
        {"eventTypes": "not-a-list", "secretRef": REF},
    )
    assert (res.continue_, res.status.code, res.status.message) == (False, IA, FORM_ENCODING_REFUSED)


def test_form_encoding_with_charset_is_not_refused(interceptor: GitHubInterceptor) -> None:
    # Tekton compares the whole header value, so a charset parameter slips through.
    res = run(interceptor, {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, {})
    assert res.continue_ is True


def test_no_secret_ref_means_no_authentication(interceptor: GitHubInterceptor) -> None:
    res = run(interceptor, {"X-Hub-Signature-256": "sha256=00"}, {})
    assert res.continue_ is True


PARAM_ERRORS = [
    (
        {"eventTypes": "push"},
        "json: cannot unmarshal string into Go struct field InterceptorParams.eventTypes of type []string",
    ),
    (
        {"eventTypes": ["push", 1]},
        "json: cannot unmarshal number into Go struct field InterceptorParams.eventTypes of type string",
    ),
    (
        {"secretRef": "github"},
        "json: cannot unmarshal string into Go struct field InterceptorParams.secretRef "
        "of type v1beta1.SecretRef",
    ),
    (
        {"secretRef": {"secretName": "a", "secretKey": 5}},
        "json: cannot unmarshal number into Go struct field SecretRef.secretRef.secretKey of type string",
    ),
    (
        {"githubOwners": {"enabled": "yes"}},
        "json: cannot unmarshal string into Go struct field Owners.githubOwners.enabled of type bool",
    ),
    (
        # Go marshals the param map with sorted keys, so the first error is eventTypes', not secretRef's.
        {"secretRef": 1, "eventTypes": 2},
        "json: cannot unmarshal number into Go struct field InterceptorParams.eventTypes of type []string",
    ),
]


@pytest.mark.parametrize(("params", "error"), PARAM_ERRORS)
def test_malformed_params(interceptor: GitHubInterceptor, params: dict[str, Any], error: str) -> None:
    res = run(interceptor, {"X-Github-Event": "push"}, params)
    assert res.continue_ is False
    assert res.status.code == IA
    assert res.status.message == f"failed to parse interceptor params: invalid json: {error}"


def test_param_keys_match_case_insensitively_like_go(interceptor: GitHubInterceptor) -> None:
    res = run(interceptor, {"X-Github-Event": "push"}, {"EventTypes": ["pull_request"]})
    assert res.status.message == "event type push is not allowed"


def test_changed_files_for_other_events_still_run_the_owners_check(
    interceptor: GitHubInterceptor,
) -> None:
    # addChangedFiles enabled + an event it does not handle: Tekton returns at once and skips the
    # owners check; here the owners check runs (and fails for want of a token).
    params = {"addChangedFiles": {"enabled": True}, "githubOwners": {"enabled": True}}
    res = run(interceptor, {"X-Github-Event": "issue_comment"}, params)
    assert (res.continue_, res.status.code) == (False, FP)
    assert res.status.message == (
        "checkType is set to check org or repo members but no personalAccessToken was supplied"
    )
