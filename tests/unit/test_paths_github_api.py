"""The changed-path filter's GitHub API calls: compare for cut pushes, pull request files, hostile values.

GitHub cannot run here, so these are contract tests: a real local HTTP server checks the exact
requests against GitHub's published REST API ("Compare two commits":
``GET /repos/{owner}/{repo}/compare/{basehead}``, changed files on the first page only, at most
300; "List pull requests files": ``GET /repos/{owner}/{repo}/pulls/{pull_number}/files``, 100 a
page, ``Link`` header pagination, at most 3000 files; renamed files carry ``previous_filename``)
and answers as GitHub does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.interceptors.paths import PathsInterceptor
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.tekton.interceptor_protocol import (
    InterceptorRequest,
    InterceptorResponse,
    InterceptorServices,
    StatusCode,
)
from tests.unit.local_http import LocalServer, Reply, local_server

DATA = Path(__file__).parent / "paths_data"
PAT = "ghp_paths_token"
TOKEN = {"secretName": "gh", "secretKey": "pat"}
BEFORE = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
AFTER = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
COMPARE = f"/repos/Codertocat/Hello-World/compare/{BEFORE}...{AFTER}?per_page=1"
PR_FILES = "/repos/Codertocat/Hello-World/pulls/2/files"


def js(value: Any) -> bytes:
    return json.dumps(value).encode()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[LocalServer, PathsInterceptor]]:
    (tmp_path / "gh").mkdir()
    (tmp_path / "gh" / "pat").write_text(PAT + "\n")  # as `echo` writes it: the newline is not the token's
    with local_server() as server:
        services = InterceptorServices(
            secrets=FileSecrets(tmp_path), github_api_url=server.base_url + "/", http_timeout_s=5
        )
        yield server, PathsInterceptor(services)


def run(
    interceptor: PathsInterceptor, event: str, body: dict[str, Any], params: dict[str, Any], **headers: str
) -> InterceptorResponse:
    header = {"X-Github-Event": [event], **{k.replace("_", "-"): [v] for k, v in headers.items()}}
    request = InterceptorRequest(body=js(body), header=header, interceptor_params=params)
    return interceptor.process(request)


def cut_push(**fields: Any) -> dict[str, Any]:
    """GitHub's push example, as a push of 25 commits of which the payload lists one (Events API copy)."""
    body: dict[str, Any] = json.loads((DATA / "github-push-new-branch.json").read_text())
    body.update(before=BEFORE, created=False, size=25, distinct_size=25)
    body.update(fields)
    return body


def pr_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((DATA / "github-pull-request-synchronize.json").read_text())
    body.update(fields)
    return body


def test_cut_push_falls_back_to_the_compare_api(api: tuple[LocalServer, PathsInterceptor]) -> None:
    server, interceptor = api
    files = [
        {"filename": "README.md", "status": "modified"},
        {"filename": "training/model.py", "status": "renamed", "previous_filename": "model.py"},
        {"filename": "old/data.csv", "status": "removed"},
    ]
    server.routes[f"GET {COMPARE}"] = Reply(body=js({"status": "ahead", "total_commits": 25, "files": files}))
    res = run(interceptor, "push", cut_push(), {"paths": ["training/**"], "personalAccessToken": TOKEN})
    assert res.continue_ is True
    assert server.targets() == [f"GET {COMPARE}"]
    sent = server.requests[0]
    assert sent.headers["authorization"] == f"Bearer {PAT}"
    assert sent.headers["accept"] == "application/vnd.github.v3+json"
    assert res.extensions is not None
    assert res.extensions["changed_paths"] == {
        "files": ["README.md", "model.py", "training/model.py", "old/data.csv"],
        "matched": ["training/model.py"],
        "complete": True,
        "evaluated": True,
        "source": "compare",
    }


@pytest.mark.parametrize(
    "change",
    [
        {"size": 25},  # Events API copy: size says more than listed
        {"size": None, "commits": [{"id": AFTER, "message": "no lists"}]},  # lists left out
        {
            "size": None,
            "commits": [{"added": [], "modified": ["a"], "removed": []}] * 2048,
        },  # webhook maximum
    ],
)
def test_every_sign_of_a_cut_payload_asks_the_api(
    api: tuple[LocalServer, PathsInterceptor], change: dict[str, Any]
) -> None:
    server, interceptor = api
    server.routes[f"GET {COMPARE}"] = Reply(body=js({"files": [{"filename": "docs/a.md"}]}))
    body = cut_push(**change)
    if body["size"] is None:
        del body["size"]
    res = run(interceptor, "push", body, {"paths": ["docs/**"]})
    assert res.continue_ is True
    assert server.targets() == [f"GET {COMPARE}"]
    assert "authorization" not in server.requests[0].headers  # no token configured, none sent


def test_a_whole_payload_makes_no_api_call(api: tuple[LocalServer, PathsInterceptor]) -> None:
    server, interceptor = api
    body = cut_push()
    del body["size"]
    res = run(interceptor, "push", body, {"paths": ["README.md"], "personalAccessToken": TOKEN})
    assert res.continue_ is True
    assert server.requests == []


def test_compare_at_githubs_300_file_limit_is_filtered_on_what_github_lists(
    api: tuple[LocalServer, PathsInterceptor],
) -> None:
    """GitHub Actions: a match beyond the first 300 files of the diff does not run the workflow."""
    server, interceptor = api
    files = [{"filename": f"docs/{i}.md"} for i in range(300)]
    server.routes[f"GET {COMPARE}"] = Reply(body=js({"files": files}))
    res = run(interceptor, "push", cut_push(), {"paths": ["training/**"]})
    assert res.continue_ is False
    assert res.status.message == "none of the 300 changed files matches paths"


def test_pull_request_files_follow_every_page_and_count_renames_twice(
    api: tuple[LocalServer, PathsInterceptor],
) -> None:
    server, interceptor = api
    first_page = [{"filename": f"src/{i}.py", "status": "modified"} for i in range(100)]
    next_link = f'<{server.base_url}{PR_FILES}?page=2&per_page=100>; rel="next", <x?page=2>; rel="last"'
    server.routes[f"GET {PR_FILES}?per_page=100"] = Reply(body=js(first_page), headers={"Link": next_link})
    last_page = [{"filename": "docs/new.md", "status": "renamed", "previous_filename": "training/old.md"}]
    server.routes[f"GET {PR_FILES}?page=2&per_page=100"] = Reply(body=js(last_page))
    for event in ("pull_request", "pull_request_target"):
        res = run(interceptor, event, pr_body(), {"paths": ["training/**"], "personalAccessToken": TOKEN})
        assert res.continue_ is True, res.status
        assert res.extensions is not None
        paths = res.extensions["changed_paths"]
        assert (len(paths["files"]), paths["files"][-2:]) == (102, ["training/old.md", "docs/new.md"])
        assert (paths["matched"], paths["source"], paths["complete"]) == (
            ["training/old.md"],
            "pull_request_files",
            True,
        )
    assert server.targets() == [f"GET {PR_FILES}?per_page=100", f"GET {PR_FILES}?page=2&per_page=100"] * 2
    assert all(r.headers["authorization"] == f"Bearer {PAT}" for r in server.requests)


def test_api_failure_stops_the_trigger_with_githubs_message(
    api: tuple[LocalServer, PathsInterceptor],
) -> None:
    server, interceptor = api
    server.routes[f"GET {PR_FILES}?per_page=100"] = Reply(404, js({"message": "Not Found"}))
    res = run(interceptor, "pull_request", pr_body(), {"paths": ["**"]})
    assert res.continue_ is False
    assert res.status.code == StatusCode.FAILED_PRECONDITION
    url = f"{server.base_url}{PR_FILES}?per_page=100"
    assert res.status.message == f"error getting changed files: GET {url}: 404 Not Found []"


def test_token_is_not_sent_across_a_redirect_to_another_host(
    api: tuple[LocalServer, PathsInterceptor],
) -> None:
    server, interceptor = api
    with local_server() as elsewhere:
        other = elsewhere.base_url.replace("127.0.0.1", "localhost")
        elsewhere.routes[f"GET {COMPARE}"] = Reply(body=js({"files": [{"filename": "training/a.py"}]}))
        server.routes[f"GET {COMPARE}"] = Reply(302, headers={"Location": f"{other}{COMPARE}"})
        res = run(interceptor, "push", cut_push(), {"paths": ["training/**"], "personalAccessToken": TOKEN})
        assert res.continue_ is True
        assert server.requests[0].headers["authorization"] == f"Bearer {PAT}"
        assert elsewhere.targets() == [f"GET {COMPARE}"]
        assert "authorization" not in elsewhere.requests[0].headers


def test_enterprise_host_header_is_not_followed_unless_allowed(
    api: tuple[LocalServer, PathsInterceptor],
) -> None:
    server, interceptor = api
    res = run(
        interceptor,
        "pull_request",
        pr_body(),
        {"personalAccessToken": TOKEN},
        X_Github_Enterprise_Host="evil.example",
    )
    assert res.continue_ is False
    assert "is not an allowed GitHub Enterprise host" in res.status.message
    assert server.requests == []


HOSTILE_REPOS = [
    "../x",
    "a/../../b",
    "Codertocat/..",
    "a%2Fb/c",
    "a/b?x=1",
    "a/b#frag",
    "a/b/c",
    "a b/c",
    "/c",
    "a/",
]
HOSTILE_SHAS = ["../../orgs/x", "abc", AFTER + "?x=1", AFTER.upper(), AFTER + "/..", "%2e%2e", 7]
HOSTILE_NUMBERS = ["2", "1/../3", -1, 0, 1.5, 2**40, True, None]


@pytest.mark.parametrize("full_name", HOSTILE_REPOS)
def test_hostile_repository_names_never_reach_a_url(
    api: tuple[LocalServer, PathsInterceptor], full_name: str
) -> None:
    server, interceptor = api
    repo = {"full_name": full_name}
    for res in (
        run(interceptor, "push", cut_push(repository=repo), {"paths": ["**"], "personalAccessToken": TOKEN}),
        run(
            interceptor,
            "pull_request",
            pr_body(repository=repo),
            {"paths": ["**"], "personalAccessToken": TOKEN},
        ),
    ):
        assert res.continue_ is False
        assert res.status.message.startswith("error parsing body: 'repository.full_name'")
    assert server.requests == []


@pytest.mark.parametrize("field", ["before", "after"])
@pytest.mark.parametrize("sha", HOSTILE_SHAS)
def test_hostile_commit_shas_never_reach_a_url(
    api: tuple[LocalServer, PathsInterceptor], field: str, sha: object
) -> None:
    server, interceptor = api
    res = run(interceptor, "push", cut_push(**{field: sha}), {"paths": ["**"], "personalAccessToken": TOKEN})
    assert res.continue_ is False
    assert f"'{field}'" in res.status.message and "is not a full commit SHA" in res.status.message
    assert server.requests == []


@pytest.mark.parametrize("number", HOSTILE_NUMBERS)
def test_hostile_pull_request_numbers_never_reach_a_url(
    api: tuple[LocalServer, PathsInterceptor], number: object
) -> None:
    server, interceptor = api
    body = pr_body(number=number)
    body["pull_request"]["number"] = number
    res = run(interceptor, "pull_request", body, {"paths": ["**"], "personalAccessToken": TOKEN})
    assert res.continue_ is False
    assert "is not a positive whole number" in res.status.message
    assert server.requests == []


@pytest.mark.parametrize("owner", ["..", ".", ""])
def test_the_client_refuses_a_path_segment_that_would_move_the_path(owner: str) -> None:
    """Also guards Tekton's addChangedFiles and githubOwners calls, which split full_name as Tekton does."""
    from kfp_triggers.interceptors.github_api import GitHubAPIError, GitHubClient

    with local_server() as server:
        client = GitHubClient(server.base_url + "/")
        with pytest.raises(GitHubAPIError, match="cannot be a segment of a GitHub API path"):
            client.list_pull_request_files(owner, "repo", 1)
        with pytest.raises(GitHubAPIError, match="cannot be a segment"):
            client.list_collaborators("acme", owner)
        assert server.requests == []
