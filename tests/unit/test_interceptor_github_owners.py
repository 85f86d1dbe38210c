"""GitHub interceptor ``githubOwners``: member checks, the OWNERS file and ``/ok-to-test`` comments.

GitHub cannot run here, so these are contract tests against the published GitHub REST API: a real
local HTTP server checks the exact paths and headers of "list public organization members",
"list repository collaborators" and "get repository content" (as go-github v31, used by Tekton,
calls them) and answers as GitHub does.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.interceptors.github import OK_TO_TEST, GitHubInterceptor
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.tekton.interceptor_protocol import InterceptorRequest, InterceptorServices, StatusCode
from tests.unit.local_http import LocalServer, Reply, local_server

PAT = "ghp_owner_token"
OWNERS = "GET /repos/acme/widgets/contents/OWNERS"
MEMBERS = "GET /orgs/acme/public_members"
COLLABORATORS = "GET /repos/acme/widgets/collaborators"
TOKEN_REF = {"secretName": "gh", "secretKey": "pat"}
NOT_MET = "owners check requirements not met"


def js(value: Any) -> bytes:
    return json.dumps(value).encode()


def owners_reply(text: str) -> Reply:
    encoded = base64.encodebytes(text.encode()).decode()  # GitHub wraps base64 at 60 columns
    return Reply(body=js({"type": "file", "encoding": "base64", "content": encoded, "path": "OWNERS"}))


def default_routes() -> dict[str, Reply]:
    return {
        MEMBERS: Reply(body=js([{"login": "orgie"}])),
        COLLABORATORS: Reply(body=js([{"login": "collab"}])),
        OWNERS: owners_reply("approvers:\n- Alice\nreviewers:\n- bob\n"),
    }


@pytest.fixture
def github(tmp_path: Path) -> Iterator[tuple[LocalServer, GitHubInterceptor]]:
    (tmp_path / "gh").mkdir()
    (tmp_path / "gh" / "pat").write_text(PAT)
    with local_server(default_routes()) as server:
        services = InterceptorServices(secrets=FileSecrets(tmp_path), github_api_url=server.base_url)
        yield server, GitHubInterceptor(services)


def pr(sender: str) -> dict[str, Any]:
    return {"number": 7, "repository": {"full_name": "acme/widgets"}, "sender": {"login": sender}}


def comment(sender: str, text: str) -> dict[str, Any]:
    return {
        "issue": {"number": 7},
        "comment": {"body": text},
        "repository": {"full_name": "acme/widgets"},
        "sender": {"login": sender},
    }


def call(interceptor: GitHubInterceptor, event: str, body: Any, owners: dict[str, Any]) -> Any:
    request = InterceptorRequest(
        body=js(body), header={"X-Github-Event": [event]}, interceptor_params={"githubOwners": owners}
    )
    return interceptor.process(request)


def owners(check_type: str, token: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"enabled": True, "checkType": check_type}
    if token:
        out["personalAccessToken"] = TOKEN_REF
    return out


PR_CASES = [
    ("org member passes on membership alone", "orgMembers", "orgie", True, [MEMBERS]),
    ("org check falls back to OWNERS", "orgMembers", "collab", False, [MEMBERS, OWNERS]),
    ("collaborator passes", "repoMembers", "collab", True, [COLLABORATORS]),
    ("all: org first, then collaborators", "all", "collab", True, [MEMBERS, COLLABORATORS]),
    ("all: OWNERS approver, any case", "all", "alice", True, [MEMBERS, COLLABORATORS, OWNERS]),
    ("OWNERS reviewer", "repoMembers", "BOB", True, [COLLABORATORS, OWNERS]),
    ("stranger", "all", "mallory", False, [MEMBERS, COLLABORATORS, OWNERS]),
    ("unknown checkType only reads OWNERS", "both", "orgie", False, [OWNERS]),
]


@pytest.mark.parametrize(
    ("check_type", "sender", "allowed", "calls"), [c[1:] for c in PR_CASES], ids=[c[0] for c in PR_CASES]
)
def test_pull_request_owner_checks(
    github: tuple[LocalServer, GitHubInterceptor],
    check_type: str,
    sender: str,
    allowed: bool,
    calls: list[str],
) -> None:
    """Contract test against the published GitHub REST API (members, collaborators, contents)."""
    server, interceptor = github
    res = call(interceptor, "pull_request", pr(sender), owners(check_type))
    assert res.continue_ is allowed
    if not allowed:
        assert (res.status.code, res.status.message) == (StatusCode.FAILED_PRECONDITION, NOT_MET)
    assert server.targets() == calls
    assert all(r.headers.get("authorization") == f"Bearer {PAT}" for r in server.requests)
    assert all(r.headers.get("accept") == "application/vnd.github.v3+json" for r in server.requests)


def test_check_type_none_needs_no_token(github: tuple[LocalServer, GitHubInterceptor]) -> None:
    """Contract test against the published GitHub REST API: public contents read anonymously."""
    server, interceptor = github
    res = call(interceptor, "pull_request", pr("alice"), owners("none", token=False))
    assert res.continue_ is True
    assert server.targets() == [OWNERS]
    assert "authorization" not in server.requests[0].headers


@pytest.mark.parametrize("check_type", ["orgMembers", "repoMembers", "all", ""])
def test_member_checks_without_token_fail(
    github: tuple[LocalServer, GitHubInterceptor], check_type: str
) -> None:
    server, interceptor = github
    res = call(interceptor, "pull_request", pr("orgie"), owners(check_type, token=False))
    assert res.continue_ is False
    assert res.status.message == (
        "checkType is set to check org or repo members but no personalAccessToken was supplied"
    )
    assert server.requests == []


COMMENT_CASES = [
    ("owner says /ok-to-test", "alice", "/ok-to-test", True),
    ("on a later line, CRLF", "alice", "looks fine\r\n/ok-to-test\r\n", True),
    ("owner says something else", "alice", "lgtm", False),
    ("suffix does not count", "alice", "/ok-to-test-please", False),
    ("mid-line does not count", "alice", "please /ok-to-test", False),
    ("stranger says /ok-to-test", "mallory", "/ok-to-test", False),
]


@pytest.mark.parametrize(
    ("sender", "text", "allowed"), [c[1:] for c in COMMENT_CASES], ids=[c[0] for c in COMMENT_CASES]
)
def test_issue_comment_ok_to_test(
    github: tuple[LocalServer, GitHubInterceptor], sender: str, text: str, allowed: bool
) -> None:
    """Contract test against the published GitHub REST API: Tekton checks the sender twice."""
    server, interceptor = github
    res = call(interceptor, "issue_comment", comment(sender, text), owners("none"))
    assert res.continue_ is allowed
    assert server.targets() == ([OWNERS, OWNERS] if OK_TO_TEST.search(text) else [OWNERS])


def test_org_members_404_means_not_a_member(github: tuple[LocalServer, GitHubInterceptor]) -> None:
    """Contract test against the published GitHub REST API: unknown org answers 404."""
    server, interceptor = github
    server.routes[MEMBERS] = Reply(404, js({"message": "Not Found"}))
    res = call(interceptor, "pull_request", pr("alice"), owners("orgMembers"))
    assert res.continue_ is True
    assert server.targets() == [MEMBERS, OWNERS]


def test_missing_owners_file_means_not_allowed(github: tuple[LocalServer, GitHubInterceptor]) -> None:
    """Contract test against the published GitHub REST API: a missing file answers 404."""
    server, interceptor = github
    server.routes[OWNERS] = Reply(404, js({"message": "Not Found"}))
    res = call(interceptor, "pull_request", pr("alice"), owners("none"))
    assert (res.continue_, res.status.message) == (False, NOT_MET)


def test_owners_api_error_is_reported(github: tuple[LocalServer, GitHubInterceptor]) -> None:
    """Contract test against the published GitHub REST API: server errors carry a message."""
    server, interceptor = github
    server.routes[OWNERS] = Reply(500, js({"message": "Server Error"}))
    res = call(interceptor, "pull_request", pr("alice"), owners("none"))
    url = f"{server.base_url}/repos/acme/widgets/contents/OWNERS"
    assert res.continue_ is False
    assert res.status.code == StatusCode.FAILED_PRECONDITION
    assert res.status.message == f"error checking owner verification: GET {url}: 500 Server Error []"


def test_collaborators_forbidden_is_reported(github: tuple[LocalServer, GitHubInterceptor]) -> None:
    """Contract test against the published GitHub REST API: a 403 with validation errors."""
    server, interceptor = github
    errors = [{"resource": "Repository", "field": "", "code": "forbidden", "message": ""}]
    server.routes[COLLABORATORS] = Reply(403, js({"message": "Must have push access", "errors": errors}))
    res = call(interceptor, "pull_request", pr("alice"), owners("repoMembers"))
    url = f"{server.base_url}/repos/acme/widgets/collaborators"
    assert res.status.message == (
        f"error checking owner verification: GET {url}: 403 Must have push access "
        "[{Resource:Repository Field: Code:forbidden Message:}]"
    )


def test_owners_path_that_is_a_directory(github: tuple[LocalServer, GitHubInterceptor]) -> None:
    """Contract test against the published GitHub REST API: a directory answers a JSON array."""
    server, interceptor = github
    server.routes[OWNERS] = Reply(body=js([{"type": "file", "name": "x"}]))
    res = call(interceptor, "pull_request", pr("alice"), owners("none"))
    assert res.status.message == (
        "error checking owner verification: "
        "referenced file inside the Github Repository OWNERS is a directory"
    )


def test_owners_not_checked_for_other_events(github: tuple[LocalServer, GitHubInterceptor]) -> None:
    server, interceptor = github
    res = call(interceptor, "push", pr("mallory"), owners("all"))
    assert res.continue_ is True
    assert server.requests == []


OWNERS_BODY_ERRORS = [
    ("pull_request", {"repository": {"full_name": "a/b"}}, "pull_request body missing 'number' field"),
    ("issue_comment", {"comment": {"body": "x"}}, "issue_comment body missing 'issue' section"),
    ("issue_comment", {"issue": {}}, "'number' field missing in the issue section of issue_comment body"),
    ("issue_comment", {"issue": {"number": 1}}, "issue_comment body missing 'comment' section"),
    (
        "issue_comment",
        {"issue": {"number": 1}, "comment": {}},
        "'body' field missing in the comment section of issue_comment body",
    ),
    (
        "pull_request",
        {"number": 1, "repository": {"full_name": "a/b"}},
        "payload body missing 'sender' field",
    ),
]


@pytest.mark.parametrize(("event", "body", "message"), OWNERS_BODY_ERRORS)
def test_owners_body_errors(
    github: tuple[LocalServer, GitHubInterceptor], event: str, body: dict[str, Any], message: str
) -> None:
    _, interceptor = github
    res = call(interceptor, event, body, owners("none"))
    assert (res.continue_, res.status.message) == (False, f"error parsing body: {message}")
