"""GitLab interceptor: eventTypes against X-Gitlab-Event and the X-Gitlab-Token shared secret."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.interceptors.gitlab import GitLabInterceptor
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.tekton.interceptor_protocol import InterceptorRequest, InterceptorServices, StatusCode

REF = {"secretName": "gitlab", "secretKey": "token"}
NEWLINE = {"secretName": "gitlab", "secretKey": "newline"}
FP, IA = StatusCode.FAILED_PRECONDITION, StatusCode.INVALID_ARGUMENT


@pytest.fixture
def interceptor(tmp_path: Path) -> GitLabInterceptor:
    (tmp_path / "gitlab").mkdir()
    (tmp_path / "gitlab" / "token").write_bytes("tøken-123".encode())
    (tmp_path / "gitlab" / "newline").write_bytes(b"abc\n")
    return GitLabInterceptor(InterceptorServices(secrets=FileSecrets(tmp_path)))


CASES: list[tuple[str, dict[str, str], dict[str, Any], tuple[StatusCode, str] | None]] = [
    ("no params: open", {}, {}, None),
    ("matching token", {"X-Gitlab-Token": "tøken-123"}, {"secretRef": REF}, None),
    ("lower-case header names", {"x-gitlab-token": "tøken-123"}, {"secretRef": REF}, None),
    ("wrong token", {"X-Gitlab-Token": "tøken-124"}, {"secretRef": REF}, (IA, "Invalid X-GitLab-Token")),
    ("token prefix only", {"X-Gitlab-Token": "tøken"}, {"secretRef": REF}, (IA, "Invalid X-GitLab-Token")),
    ("missing token header", {}, {"secretRef": REF}, (IA, "no X-Gitlab-Token header set")),
    ("empty token header", {"X-Gitlab-Token": ""}, {"secretRef": REF}, (IA, "no X-Gitlab-Token header set")),
    # A stored secret is its lines too (rotation): a file ending in a newline matches the token
    # without it, and still the value byte for byte, as Tekton compares it.
    ("stored secret's trailing newline", {"X-Gitlab-Token": "abc"}, {"secretRef": NEWLINE}, None),
    ("stored secret byte for byte", {"X-Gitlab-Token": "abc\n"}, {"secretRef": NEWLINE}, None),
    (
        "a line prefix is no match",
        {"X-Gitlab-Token": "ab"},
        {"secretRef": NEWLINE},
        (IA, "Invalid X-GitLab-Token"),
    ),
    (
        "empty secretKey",
        {"X-Gitlab-Token": "x"},
        {"secretRef": {"secretName": "gitlab", "secretKey": ""}},
        (FP, "gitlab interceptor secretRef.secretKey is empty"),
    ),
    (
        "empty secretKey checked before the header",
        {},
        {"secretRef": {"secretName": "gitlab"}},
        (FP, "gitlab interceptor secretRef.secretKey is empty"),
    ),
    (
        "missing secret file",
        {"X-Gitlab-Token": "x"},
        {"secretRef": {"secretName": "gitlab", "secretKey": "absent"}},
        (FP, "error getting secret: cannot find absent key in secret /gitlab"),  # no trigger id: no namespace
    ),
    ("event allowed", {"X-Gitlab-Event": "Push Hook"}, {"eventTypes": ["Push Hook"]}, None),
    (
        "event not allowed",
        {"X-Gitlab-Event": "Tag Push Hook"},
        {"eventTypes": ["Push Hook"]},
        (FP, "event type Tag Push Hook is not allowed"),
    ),
    (
        "empty eventTypes allows nothing",
        {"X-Gitlab-Event": "Push Hook"},
        {"eventTypes": []},
        (FP, "event type Push Hook is not allowed"),
    ),
    (
        "eventTypes before the token",
        {"X-Gitlab-Event": "Issue Hook"},
        {"eventTypes": ["Push Hook"], "secretRef": REF},
        (FP, "event type Issue Hook is not allowed"),
    ),
    (
        "malformed params",
        {"X-Gitlab-Event": "Push Hook"},
        {"eventTypes": {"a": 1}},
        (
            IA,
            "failed to parse interceptor params: invalid json: json: cannot unmarshal object "
            "into Go struct field InterceptorParams.eventTypes of type []string",
        ),
    ),
]


@pytest.mark.parametrize(("headers", "params", "failure"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_gitlab(
    interceptor: GitLabInterceptor,
    headers: dict[str, str],
    params: dict[str, Any],
    failure: tuple[StatusCode, str] | None,
) -> None:
    request = InterceptorRequest(
        body=b"not even json", header={k: [v] for k, v in headers.items()}, interceptor_params=params
    )
    res = interceptor.process(request)
    if failure is None:
        assert (res.continue_, res.status.code) == (True, StatusCode.OK)
    else:
        assert (res.continue_, res.status.code, res.status.message) == (False, *failure)
        assert "tøken-123" not in res.status.message
