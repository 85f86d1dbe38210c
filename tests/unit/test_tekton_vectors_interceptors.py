"""Tekton v0.37's own interceptor test vectors: a request without context, and missing secrets.

Each test quotes the expected status code and message from Tekton's tests (named in the
docstring) or, where Tekton has no test, from the code path named there. The requests go through
the wire format, as a Tekton EventListener would send them to the served core interceptors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.cel import CelEnvironment
from kfp_triggers.interceptors.bitbucket import BitbucketInterceptor
from kfp_triggers.interceptors.cel import CelInterceptor
from kfp_triggers.interceptors.github import GitHubInterceptor
from kfp_triggers.interceptors.gitlab import GitLabInterceptor
from kfp_triggers.secretstore import FileSecrets, NoSecrets
from kfp_triggers.tekton.interceptor_protocol import (
    InterceptorRequest,
    InterceptorResponse,
    InterceptorServices,
    StatusCode,
)

IA, FP = StatusCode.INVALID_ARGUMENT, StatusCode.FAILED_PRECONDITION
CONTEXT = {
    "event_url": "https://testing.example.com",
    "event_id": "abcde",
    "trigger_id": "namespaces/default/triggers/example-trigger",
}
# pkg/interceptors/github/github_test.go, TestInterceptor_ExecuteTrigger_Changed_Files_Push
PUSH_BODY = (
    '{"repository":{"full_name":"testowner/testrepo","clone_url":"https://github.com/testowner/testrepo.git"},'
    '"commits":[{"added":["api/v1beta1/tektonhelperconfig_types.go",'
    '"config/crd/bases/tekton-helper..com_tektonhelperconfigs.yaml"],'
    '"removed":["config/samples/tektonhelperconfig-oomkillpipeline.yaml",'
    '"config/samples/tektonhelperconfig-timeout.yaml"],'
    '"modified":["controllers/tektonhelperconfig_controller.go"]}]}'
)
MYSECRET = {"secretName": "mysecret", "secretKey": "token"}


@pytest.fixture
def services(tmp_path: Path) -> InterceptorServices:
    (tmp_path / "mysecret").mkdir()
    (tmp_path / "mysecret" / "token").write_bytes(b"secret-token")
    return InterceptorServices(secrets=FileSecrets(tmp_path))


def wire(body: str, header: dict[str, list[str]], params: dict[str, Any], context: Any) -> InterceptorRequest:
    """An InterceptorRequest as JSON; ``context`` is left out when it is ``...``."""
    document: dict[str, Any] = {"body": body, "header": header, "interceptor_params": params}
    if context is not ...:
        document["context"] = context
    return InterceptorRequest.from_wire(json.dumps(document))


def outcome(response: InterceptorResponse) -> tuple[bool, StatusCode, str]:
    return response.continue_, response.status.code, response.status.message


# --- no request context -----------------------------------------------------------------------


@pytest.mark.parametrize("context", [..., None], ids=["absent", "null"])
def test_github_changed_files_without_context(services: InterceptorServices, context: Any) -> None:
    """github_test.go, TestInterceptor_ExecuteTrigger_Changed_Files_Push, "no context": a push with
    ``addChangedFiles`` enabled and no ``context`` gets code 3 ``no request context passed``."""
    params = {
        "eventTypes": ["pull_request", "push"],
        "addChangedFiles": {"enabled": True, "personalAccessToken": MYSECRET},
    }
    request = wire(PUSH_BODY, {"X-Hub-Signature-256": ["foo"], "X-GitHub-Event": ["push"]}, params, context)
    assert outcome(GitHubInterceptor(services).process(request)) == (False, IA, "no request context passed")


def test_github_changed_files_without_context_or_token(services: InterceptorServices) -> None:
    """github.go asks for the context before it looks at ``personalAccessToken``: without a token
    the answer is the same code 3 (only an event it does not list files for goes through)."""
    params = {"addChangedFiles": {"enabled": True}}
    push = wire(PUSH_BODY, {"X-GitHub-Event": ["push"]}, params, ...)
    assert outcome(GitHubInterceptor(services).process(push)) == (False, IA, "no request context passed")
    issues = wire(PUSH_BODY, {"X-GitHub-Event": ["issues"]}, params, ...)
    assert GitHubInterceptor(services).process(issues).continue_


def test_github_secret_ref_without_context(services: InterceptorServices) -> None:
    """github_test.go, TestInterceptor_ExecuteTrigger_Changed_Files_Push, "no context with
    secretRef": the signature step answers first, after its own header check."""
    params = {
        "eventTypes": ["pull_request", "push"],
        "secretRef": MYSECRET,
        "addChangedFiles": {"enabled": True, "personalAccessToken": MYSECRET},
    }
    request = wire(PUSH_BODY, {"X-Hub-Signature-256": ["foo"], "X-GitHub-Event": ["push"]}, params, ...)
    assert outcome(GitHubInterceptor(services).process(request)) == (False, IA, "no request context passed")
    unsigned = wire(PUSH_BODY, {"X-GitHub-Event": ["push"]}, params, ...)
    assert outcome(GitHubInterceptor(services).process(unsigned)) == (
        False,
        FP,
        "no X-Hub-Signature-256 header set",
    )


def test_github_owners_token_without_context(services: InterceptorServices) -> None:
    """github_test.go, TestInterceptor_ExecuteTrigger_owners_data_validation: the owners check
    reading its token without context answers ``error getting github token: no request context
    passed`` (code 9)."""
    params = {"githubOwners": {"enabled": True, "checkType": "all", "personalAccessToken": MYSECRET}}
    request = wire("{}", {"X-GitHub-Event": ["pull_request"]}, params, ...)
    assert outcome(GitHubInterceptor(services).process(request)) == (
        False,
        FP,
        "error getting github token: no request context passed",
    )


@pytest.mark.parametrize(
    ("interceptor", "header"),
    [
        (GitLabInterceptor, {"X-Gitlab-Token": ["secret-token"]}),
        (BitbucketInterceptor, {"X-Event-Key": ["repo:push"], "X-Hub-Signature": ["sha1=00"]}),
    ],
)
def test_gitlab_and_bitbucket_secret_ref_without_context(
    services: InterceptorServices, interceptor: Any, header: dict[str, list[str]]
) -> None:
    """gitlab.go and bitbucket.go: with ``secretRef`` and the token or signature header present,
    a nil context is code 3 ``no request context passed`` (checked before the secret is read)."""
    request = wire("{}", header, {"secretRef": MYSECRET}, ...)
    assert outcome(interceptor(services).process(request)) == (False, IA, "no request context passed")
    with_context = wire("{}", header, {"secretRef": MYSECRET}, CONTEXT)
    assert outcome(interceptor(services).process(with_context))[2] != "no request context passed"


def test_cel_without_context() -> None:
    """cel.go: the CEL interceptor needs the context for ``requestURL`` and the secrets' namespace;
    without one it answers code 3 ``no request context passed`` after decoding its params."""
    cel = CelInterceptor(CelEnvironment())
    assert outcome(cel.process(wire("{}", {}, {"filter": "true"}, ...))) == (
        False,
        IA,
        "no request context passed",
    )
    bad_params = outcome(cel.process(wire("{}", {}, {"filter": 1}, ...)))
    assert bad_params[2].startswith("failed to parse interceptor params: ")
    assert cel.process(wire("{}", {}, {"filter": "true"}, {})).continue_  # an empty context is a context


def test_the_wire_format_keeps_a_missing_context_missing() -> None:
    """``Context *TriggerContext `json:"context"``: nil is written as ``null``, not ``{}``."""
    request = wire("{}", {}, {}, ...)
    assert request.context is None
    assert request.to_wire()["context"] is None
    assert wire("{}", {}, {}, {}).to_wire()["context"] == {}


# --- missing secrets --------------------------------------------------------------------------


def test_github_missing_secret(services: InterceptorServices) -> None:
    """github_test.go, TestInterceptor_ExecuteTrigger_Changed_Files_Push, "invalid secret":
    ``error getting secret: secrets "missingsecret" not found`` (code 9)."""
    params = {
        "eventTypes": ["pull_request", "push"],
        "addChangedFiles": {
            "enabled": True,
            "personalAccessToken": {"secretName": "missingsecret", "secretKey": "token"},
        },
    }
    request = wire(PUSH_BODY, {"X-Hub-Signature-256": ["foo"], "X-GitHub-Event": ["push"]}, params, CONTEXT)
    assert outcome(GitHubInterceptor(services).process(request)) == (
        False,
        FP,
        'error getting secret: secrets "missingsecret" not found',
    )


@pytest.mark.parametrize("interceptor", [GitHubInterceptor, GitLabInterceptor, BitbucketInterceptor])
def test_secret_ref_missing_secret_and_missing_key(services: InterceptorServices, interceptor: Any) -> None:
    """secret_getter.go: a missing Secret is the API's ``secrets "<name>" not found``; a missing key
    is ``cannot find <key> key in secret <trigger namespace>/<name>``; both after ``error getting
    secret: `` (code 9) in the GitHub, GitLab and Bitbucket interceptors."""
    header = {
        "X-Hub-Signature-256": ["sha256=00"],
        "X-Hub-Signature": ["sha256=00"],
        "X-Gitlab-Token": ["x"],
        "X-Event-Key": ["repo:push"],
    }
    absent = wire("{}", header, {"secretRef": {"secretName": "nosuch", "secretKey": "token"}}, CONTEXT)
    assert outcome(interceptor(services).process(absent)) == (
        False,
        FP,
        'error getting secret: secrets "nosuch" not found',
    )
    no_key = wire("{}", header, {"secretRef": {"secretName": "mysecret", "secretKey": "other"}}, CONTEXT)
    assert outcome(interceptor(services).process(no_key)) == (
        False,
        FP,
        "error getting secret: cannot find other key in secret default/mysecret",
    )


def test_secret_ref_without_any_secrets_directory() -> None:
    """With no secrets configured every secret is missing, worded as Kubernetes words it."""
    request = wire("{}", {"X-Gitlab-Token": ["x"]}, {"secretRef": MYSECRET}, CONTEXT)
    assert outcome(GitLabInterceptor(InterceptorServices(secrets=NoSecrets())).process(request)) == (
        False,
        FP,
        'error getting secret: secrets "mysecret" not found',
    )


def test_cel_compare_secret_missing_secret(services: InterceptorServices) -> None:
    """cel_test.go, TestExpressionEvaluation_Error, "missing secret" (wants ``failed to find
    secret.*testing.*``): the full text is triggers.go's, around the secret getter's error."""
    cel = CelInterceptor(CelEnvironment(secrets=services.secrets))
    expression = "'testing'.compareSecret('testing', 'testSecret', 'mytoken')"
    res = cel.process(wire("{}", {}, {"filter": expression}, CONTEXT))
    assert outcome(res) == (
        False,
        IA,
        f'error evaluating cel expression: expression "{expression}" failed to evaluate: '
        "failed to find secret "
        '\'v1beta1.SecretRef{SecretKey:"testing", SecretName:"testSecret"}\' in compareSecret: '
        'secrets "testSecret" not found',
    )
    no_key = "'x'.compareSecret('other', 'mysecret')"
    res = cel.process(wire("{}", {}, {"filter": no_key}, CONTEXT))
    assert res.status.message.endswith(
        '\'v1beta1.SecretRef{SecretKey:"other", SecretName:"mysecret"}\' in compareSecret: '
        "cannot find other key in secret default/mysecret"
    )
