"""Bitbucket interceptor: X-Event-Key filtering and X-Hub-Signature HMACs (Server and Cloud).

The payloads below are shaped like Bitbucket's own webhooks; each signature is computed here from a
secret chosen for the test, exactly as Bitbucket computes it (HMAC over the raw body bytes).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.interceptors.bitbucket import BitbucketInterceptor
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.tekton.interceptor_protocol import InterceptorRequest, InterceptorServices, StatusCode

SECRET = b"bb-hook-secret"
REF = {"secretName": "bitbucket", "secretKey": "secret"}
FP, IA = StatusCode.FAILED_PRECONDITION, StatusCode.INVALID_ARGUMENT

# Bitbucket Server "repo:refs_changed", pretty-printed as the server sends it.
SERVER_PUSH = json.dumps(
    {
        "eventKey": "repo:refs_changed",
        "date": "2024-03-01T10:15:00+0000",
        "actor": {"name": "admin", "emailAddress": "admin@example.com", "id": 2, "slug": "admin"},
        "repository": {"slug": "widgets", "id": 1, "name": "widgets", "project": {"key": "ACME"}},
        "changes": [
            {
                "ref": {"id": "refs/heads/main", "displayId": "main", "type": "BRANCH"},
                "refId": "refs/heads/main",
                "fromHash": "1" * 40,
                "toHash": "2" * 40,
                "type": "UPDATE",
            }
        ],
    },
    indent=2,
).encode()

# Bitbucket Server "pr:opened", with non-ASCII text in the title.
SERVER_PR = json.dumps(
    {
        "eventKey": "pr:opened",
        "pullRequest": {"id": 12, "title": "Añadir compilación ✓", "state": "OPEN"},
    },
    ensure_ascii=False,
).encode()

# Bitbucket Cloud "repo:push" (compact JSON).
CLOUD_PUSH = json.dumps(
    {
        "push": {"changes": [{"new": {"name": "main", "type": "branch"}}]},
        "repository": {"full_name": "acme/w"},
    },
    separators=(",", ":"),
).encode()


def sig(alg: str, body: bytes, secret: bytes = SECRET) -> str:
    return f"{alg}=" + hmac.new(secret, body, getattr(hashlib, alg)).hexdigest()


@pytest.fixture
def interceptor(tmp_path: Path) -> BitbucketInterceptor:
    (tmp_path / "bitbucket").mkdir()
    (tmp_path / "bitbucket" / "secret").write_bytes(SECRET)
    return BitbucketInterceptor(InterceptorServices(secrets=FileSecrets(tmp_path)))


def run(
    interceptor: BitbucketInterceptor, headers: dict[str, str], params: dict[str, Any], body: bytes
) -> Any:
    request = InterceptorRequest(
        body=body, header={k: [v] for k, v in headers.items()}, interceptor_params=params
    )
    return interceptor.process(request)


CASES: list[tuple[str, dict[str, str], dict[str, Any], bytes, tuple[StatusCode, str] | None]] = [
    (
        "server push, sha256",
        {"X-Event-Key": "repo:refs_changed", "X-Hub-Signature": sig("sha256", SERVER_PUSH)},
        {"secretRef": REF, "eventTypes": ["repo:refs_changed"]},
        SERVER_PUSH,
        None,
    ),
    (
        "server pull request, sha1 (older servers), unicode body",
        {"X-Event-Key": "pr:opened", "X-Hub-Signature": sig("sha1", SERVER_PR)},
        {"secretRef": REF},
        SERVER_PR,
        None,
    ),
    (
        "cloud push, sha256 signature verified the same way",
        {"X-Event-Key": "repo:push", "X-Hub-Signature": sig("sha256", CLOUD_PUSH)},
        {"secretRef": REF, "eventTypes": ["repo:push"]},
        CLOUD_PUSH,
        None,
    ),
    (
        "cloud without secretRef: eventTypes only",
        {"X-Event-Key": "repo:push"},
        {"eventTypes": ["repo:push"]},
        CLOUD_PUSH,
        None,
    ),
    (
        "cloud event not allowed",
        {"X-Event-Key": "pullrequest:created"},
        {"eventTypes": ["repo:push"]},
        CLOUD_PUSH,
        (FP, "event type pullrequest:created is not allowed"),
    ),
    (
        "tampered body",
        {"X-Event-Key": "repo:refs_changed", "X-Hub-Signature": sig("sha256", SERVER_PUSH)},
        {"secretRef": REF},
        SERVER_PUSH.replace(b"main", b"evil"),
        (FP, "error validating signature: payload signature check failed"),
    ),
    (
        "wrong secret",
        {"X-Hub-Signature": sig("sha256", SERVER_PUSH, b"other")},
        {"secretRef": REF},
        SERVER_PUSH,
        (FP, "error validating signature: payload signature check failed"),
    ),
    (
        "sha512 prefix accepted (go-github rule)",
        {"X-Hub-Signature": sig("sha512", SERVER_PUSH)},
        {"secretRef": REF},
        SERVER_PUSH,
        None,
    ),
    (
        "unknown prefix",
        {"X-Hub-Signature": "sha384=00"},
        {"secretRef": REF},
        SERVER_PUSH,
        (FP, 'error validating signature: unknown hash type prefix: "sha384"'),
    ),
    (
        "non-hex",
        {"X-Hub-Signature": "sha256=xyz1"},
        {"secretRef": REF},
        SERVER_PUSH,
        (
            FP,
            'error validating signature: error decoding signature "sha256=xyz1": '
            "encoding/hex: invalid byte: U+0078 'x'",
        ),
    ),
    ("missing signature", {}, {"secretRef": REF}, SERVER_PUSH, (IA, "no X-Hub-Signature header set")),
    (
        "empty secretKey",
        {"X-Hub-Signature": sig("sha256", SERVER_PUSH)},
        {"secretRef": {"secretName": "bitbucket", "secretKey": ""}},
        SERVER_PUSH,
        (FP, "bitbucket interceptor secretRef.secretKey is empty"),
    ),
    (
        "missing secret",
        {"X-Hub-Signature": sig("sha256", SERVER_PUSH)},
        {"secretRef": {"secretName": "gone", "secretKey": "secret"}},
        SERVER_PUSH,
        (FP, 'error getting secret: secrets "gone" not found'),
    ),
    (
        "empty body signed",
        {"X-Hub-Signature": sig("sha256", b"")},
        {"secretRef": REF},
        b"",
        None,
    ),
    (
        "empty eventTypes allows nothing",
        {"X-Event-Key": "repo:push"},
        {"eventTypes": []},
        CLOUD_PUSH,
        (FP, "event type repo:push is not allowed"),
    ),
]


@pytest.mark.parametrize(
    ("headers", "params", "body", "failure"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bitbucket(
    interceptor: BitbucketInterceptor,
    headers: dict[str, str],
    params: dict[str, Any],
    body: bytes,
    failure: tuple[StatusCode, str] | None,
) -> None:
    res = run(interceptor, headers, params, body)
    if failure is None:
        assert (res.continue_, res.status.code) == (True, StatusCode.OK)
    else:
        assert (res.continue_, res.status.code, res.status.message) == (False, *failure)


def test_event_key_is_read_from_the_map_as_received(interceptor: BitbucketInterceptor) -> None:
    """Tekton looks ``X-Event-Key`` up without canonicalising the map, so ``x-event-key`` is unseen."""
    res = run(interceptor, {"x-event-key": "repo:push"}, {"eventTypes": ["repo:push"]}, CLOUD_PUSH)
    assert (res.continue_, res.status.message) == (False, "event type  is not allowed")


def test_signature_header_is_canonicalised(interceptor: BitbucketInterceptor) -> None:
    res = run(interceptor, {"x-hub-signature": sig("sha256", SERVER_PUSH)}, {"secretRef": REF}, SERVER_PUSH)
    assert res.continue_ is True


def test_event_types_checked_before_signature(interceptor: BitbucketInterceptor) -> None:
    res = run(interceptor, {"X-Event-Key": "pr:merged"}, {"eventTypes": ["pr:opened"], "secretRef": REF}, b"")
    assert res.status.message == "event type pr:merged is not allowed"
