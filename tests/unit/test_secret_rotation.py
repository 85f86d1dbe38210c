"""Webhook secret rotation: a stored secret holding the old and the new key, one per line.

During a rotation a delivery may be signed with either key (one the sender queued or retries
may still carry the old one), so each signature-checking interceptor must accept both, compare
every key in constant time, and still refuse anything else.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.interceptors import signature
from kfp_triggers.interceptors.bitbucket import BitbucketInterceptor
from kfp_triggers.interceptors.github import GitHubInterceptor
from kfp_triggers.interceptors.gitlab import GitLabInterceptor
from kfp_triggers.interceptors.signature import secret_candidates, sign
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.tekton.interceptor_protocol import InterceptorRequest, InterceptorServices, StatusCode

OLD, NEW, STRANGER = b"old-secret", b"new-secret", b"someone-else"
BODY = b'{"ref": "refs/heads/main"}'
REF = {"secretName": "hook", "secretKey": "keys"}


@pytest.fixture
def services(tmp_path: Path) -> InterceptorServices:
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "keys").write_bytes(OLD + b"\r\n\n" + NEW + b"\n")
    return InterceptorServices(secrets=FileSecrets(tmp_path))


def test_candidates_are_the_value_then_each_non_blank_line() -> None:
    assert secret_candidates(b"abc") == (b"abc",)
    assert secret_candidates(b"abc\n") == (b"abc\n", b"abc")
    assert secret_candidates(b"old\r\n\n  \nnew\n") == (b"old\r\n\n  \nnew\n", b"old", b"new")
    assert secret_candidates(b" padded \n") == (b" padded \n", b" padded ")  # lines are not trimmed


def test_every_candidate_is_compared_even_after_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        calls.append(b)
        return real(a, b)

    monkeypatch.setattr(signature.hmac, "compare_digest", counting)
    assert signature.matches_any(b"x", (b"x", b"y", b"z")) is True
    assert calls == [b"x", b"y", b"z"]


def github(services: InterceptorServices, key: bytes) -> Any:
    header = {"X-Github-Event": ["push"], "X-Hub-Signature-256": [sign(BODY, key)]}
    request = InterceptorRequest(body=BODY, header=header, interceptor_params={"secretRef": REF})
    return GitHubInterceptor(services).process(request)


def bitbucket(services: InterceptorServices, key: bytes) -> Any:
    header = {"X-Event-Key": ["repo:refs_changed"], "X-Hub-Signature": [sign(BODY, key)]}
    request = InterceptorRequest(body=BODY, header=header, interceptor_params={"secretRef": REF})
    return BitbucketInterceptor(services).process(request)


def gitlab(services: InterceptorServices, key: bytes) -> Any:
    header = {"X-Gitlab-Event": ["Push Hook"], "X-Gitlab-Token": [key.decode()]}
    request = InterceptorRequest(body=BODY, header=header, interceptor_params={"secretRef": REF})
    return GitLabInterceptor(services).process(request)


@pytest.mark.parametrize("check", [github, bitbucket, gitlab])
def test_old_and_new_keys_are_both_accepted_and_nothing_else(
    services: InterceptorServices, check: Any
) -> None:
    assert check(services, OLD).continue_ is True
    assert check(services, NEW).continue_ is True
    refused = check(services, STRANGER)
    assert refused.continue_ is False
    assert refused.status.code in (StatusCode.FAILED_PRECONDITION, StatusCode.INVALID_ARGUMENT)
    assert "secret" not in refused.status.message or b"old" not in refused.status.message.encode()


@pytest.mark.parametrize("check", [github, bitbucket])
def test_the_whole_value_still_signs_as_tekton_reads_it(services: InterceptorServices, check: Any) -> None:
    whole = OLD + b"\r\n\n" + NEW + b"\n"
    assert check(services, whole).continue_ is True


@pytest.mark.parametrize("check", [github, bitbucket, gitlab])
def test_a_secret_of_blank_lines_is_still_refused(tmp_path: Path, check: Any) -> None:
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "keys").write_bytes(b"\n \r\n")
    res = check(InterceptorServices(secrets=FileSecrets(tmp_path)), b" ")
    assert res.continue_ is False
    assert res.status.message == 'error getting secret: secrets "hook" key "keys" is empty'
