"""GitHub interceptor features that call the GitHub REST API: addChangedFiles and githubOwners.

GitHub cannot run here, so the API tests are contract tests against the published GitHub REST API:
a real local HTTP server checks the exact method, path, query and headers that the REST docs (and
go-github, which Tekton uses) specify, and answers as GitHub does, errors included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.interceptors.github import GitHubInterceptor
from kfp_triggers.interceptors.github_api import api_base_url
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.tekton.interceptor_protocol import InterceptorRequest, InterceptorServices, StatusCode
from tests.unit.local_http import LocalServer, Reply, local_server

PAT = "ghp_example_token"
FILES = "/repos/acme/widgets/pulls/7/files"
TOKEN_REF = {"secretName": "gh", "secretKey": "pat"}


def js(value: Any) -> bytes:
    return json.dumps(value).encode()


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    (tmp_path / "gh").mkdir()
    (tmp_path / "gh" / "pat").write_text(PAT)
    return tmp_path


@pytest.fixture
def github(secrets_dir: Path) -> Iterator[tuple[LocalServer, GitHubInterceptor]]:
    with local_server() as server:
        services = InterceptorServices(
            secrets=FileSecrets(secrets_dir), github_api_url=server.base_url + "/", http_timeout_s=5
        )
        yield server, GitHubInterceptor(services)


def call(interceptor: GitHubInterceptor, event: str, body: Any, params: dict[str, Any]) -> Any:
    raw = body if isinstance(body, bytes) else js(body)
    request = InterceptorRequest(body=raw, header={"X-Github-Event": [event]}, interceptor_params=params)
    return interceptor.process(request)


PR_BODY = {"number": 7, "repository": {"full_name": "acme/widgets"}, "sender": {"login": "alice"}}


# --- addChangedFiles ---------------------------------------------------------------------------


def test_push_changed_files_come_from_the_commits_in_tekton_order(
    github: tuple[LocalServer, GitHubInterceptor],
) -> None:
    server, interceptor = github
    body = {
        "repository": {"full_name": "acme/widgets"},
        "commits": [
            {"added": ["a.txt"], "modified": ["b.txt"], "removed": ["c.txt"]},
            {"added": ["d.txt"], "modified": ["b.txt"], "removed": []},
        ],
    }
    res = call(interceptor, "push", body, {"addChangedFiles": {"enabled": True}})
    assert res.continue_ is True
    assert res.extensions == {"changed_files": "a.txt,b.txt,c.txt,d.txt,b.txt"}
    assert server.requests == []


def test_pull_request_changed_files_follow_pagination_with_bearer_token(
    github: tuple[LocalServer, GitHubInterceptor],
) -> None:
    """Contract test against the published GitHub REST API ("List pull requests files")."""
    server, interceptor = github
    next_link = f'<{server.base_url}{FILES}?page=2&per_page=100>; rel="next", <x?page=2>; rel="last"'
    server.routes[f"GET {FILES}?per_page=100"] = Reply(
        body=js([{"filename": "src/a.py"}, {"filename": "README.md"}]), headers={"Link": next_link}
    )
    server.routes[f"GET {FILES}?page=2&per_page=100"] = Reply(body=js([{"filename": "docs/b.md"}]))
    params = {"addChangedFiles": {"enabled": True, "personalAccessToken": TOKEN_REF}}
    res = call(interceptor, "pull_request", PR_BODY, params)
    assert res.continue_ is True
    assert res.extensions == {"changed_files": "src/a.py,README.md,docs/b.md"}
    assert server.targets() == [f"GET {FILES}?per_page=100", f"GET {FILES}?page=2&per_page=100"]
    for sent in server.requests:
        assert sent.headers["authorization"] == f"Bearer {PAT}"
        assert sent.headers["accept"] == "application/vnd.github.v3+json"


def test_pull_request_changed_files_without_token_sends_no_authorization(
    github: tuple[LocalServer, GitHubInterceptor],
) -> None:
    """Contract test against the published GitHub REST API: public repositories need no token."""
    server, interceptor = github
    server.routes[f"GET {FILES}?per_page=100"] = Reply(body=js([]))
    res = call(interceptor, "pull_request", PR_BODY, {"addChangedFiles": {"enabled": True}})
    assert res.extensions == {"changed_files": ""}
    assert "authorization" not in server.requests[0].headers


def test_pull_request_changed_files_api_error_is_go_githubs_text(
    github: tuple[LocalServer, GitHubInterceptor],
) -> None:
    """Contract test against the published GitHub REST API: a 404 carries a JSON ``message``."""
    server, interceptor = github
    server.routes[f"GET {FILES}?per_page=100"] = Reply(404, js({"message": "Not Found"}))
    res = call(interceptor, "pull_request", PR_BODY, {"addChangedFiles": {"enabled": True}})
    assert res.continue_ is False
    assert res.status.code == StatusCode.FAILED_PRECONDITION
    url = f"{server.base_url}{FILES}?per_page=100"
    assert res.status.message == f"error getting changed files: GET {url}: 404 Not Found []"


CHANGED_FILES_BODY_ERRORS = [
    ("push", b"", "error parsing body: body is empty"),
    ("push", b"hello", "error parsing body: invalid character 'h' looking for beginning of value"),
    ("push", b"tx", "error parsing body: invalid character 'x' in literal true (expecting 'r')"),
    # Go's scanner is fed a space at the end of the input, so a cut-off literal is no "unexpected end"
    ("push", b'{"a": tru', "error parsing body: invalid character ' ' in literal true (expecting 'e')"),
    # Tekton decodes into map[string]interface{}: a number beyond float64 fails
    (
        "push",
        b'{"repository": {"full_name": "a/b"}, "n": 1e400}',
        "error parsing body: json: cannot unmarshal number 1e400 into Go value of type float64",
    ),
    ("pull_request", js({"repository": {}}), "error parsing body: pull_request body missing 'number' field"),
    ("push", js({}), "error parsing body: payload body missing 'repository' field"),
    ("push", js({"repository": {}}), "error parsing body: payload body missing 'repository.full_name' field"),
    (
        "push",
        js({"repository": {"full_name": "a/b"}, "commits": [{"modified": [], "removed": []}]}),
        "error parsing body: payload body missing 'commits.*.added' field",
    ),
    (
        "push",
        js({"repository": {"full_name": "a/b"}, "commits": [{"added": [], "modified": []}]}),
        "error parsing body: payload body missing 'commits.*.removed' field",
    ),
]


@pytest.mark.parametrize(("event", "body", "message"), CHANGED_FILES_BODY_ERRORS)
def test_changed_files_body_errors(
    github: tuple[LocalServer, GitHubInterceptor], event: str, body: bytes, message: str
) -> None:
    server, interceptor = github
    res = call(interceptor, event, body, {"addChangedFiles": {"enabled": True}})
    assert (res.continue_, res.status.code, res.status.message) == (
        False,
        StatusCode.FAILED_PRECONDITION,
        message,
    )
    assert server.requests == []


def test_changed_files_token_with_empty_key(github: tuple[LocalServer, GitHubInterceptor]) -> None:
    _, interceptor = github
    params = {"addChangedFiles": {"enabled": True, "personalAccessToken": {"secretName": "gh"}}}
    res = call(interceptor, "push", PR_BODY, params)
    assert res.status.message == "error getting secret: github interceptor githubToken.secretKey is empty"


def test_enterprise_host_selects_its_api_root() -> None:
    assert api_base_url("https://api.github.com/", "") == "https://api.github.com/"
    assert api_base_url("https://api.github.com/", "ghe.example.com") == "https://ghe.example.com/api/v3/"
    assert (
        api_base_url("https://api.github.com/", "ghe.example.com/api/v3") == "https://ghe.example.com/api/v3/"
    )
    assert api_base_url("http://127.0.0.1:9", "") == "http://127.0.0.1:9/"
