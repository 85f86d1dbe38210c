"""The ``pr-commands.kfp-triggers.dev`` interceptor against a contract server for GitHub's and GitLab's APIs.

GitHub and GitLab cannot run here, so these are contract tests: a real local HTTP server checks the
exact requests against the published APIs and answers as they do. GitHub REST: "Get repository
permissions for a user", ``GET /repos/{owner}/{repo}/collaborators/{username}/permission`` (its
``permission`` is ``admin``, ``maintain``, ``write``, ``triage``, ``read`` or ``none``; 404 for an
unknown user) and "Get a pull request", ``GET /repos/{owner}/{repo}/pulls/{pull_number}``, both with
``Authorization: Bearer <token>``. GitLab REST v4: "Get a member of a group or project, including
inherited members", ``GET /projects/:id/members/all/:user_id`` (``access_level``; 404 when not a
member) and "Get single MR", ``GET /projects/:id/merge_requests/:merge_request_iid``, both with
``PRIVATE-TOKEN``. Payloads are GitHub's and GitLab's published examples (pr_commands_data/SOURCE.md).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.interceptors.pr_api import AccessCache
from kfp_triggers.interceptors.pr_commands import Command, PrCommandsInterceptor, parse_command
from kfp_triggers.secretstore import FileSecrets
from kfp_triggers.tekton.interceptor_protocol import (
    InterceptorRequest,
    InterceptorResponse,
    InterceptorServices,
    StatusCode,
    TriggerContext,
)
from tests.unit.local_http import LocalServer, Reply, local_server

DATA = Path(__file__).parent / "pr_commands_data"
TOKEN = "ghp_commands_token"
PARAMS: dict[str, Any] = {"secretRef": {"secretName": "api", "secretKey": "token"}}
PERMISSION = "GET /repos/Codertocat/Hello-World/collaborators/Codertocat/permission"
PULL = "GET /repos/Codertocat/Hello-World/pulls/1"
MEMBER = "GET /projects/5/members/all/1"
MERGE_REQUEST = "GET /projects/5/merge_requests/1"
HEAD_SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
TRAIN = TriggerContext(event_id="e1", trigger_id="namespaces/default/triggers/train")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


def js(value: Any) -> bytes:
    return json.dumps(value).encode()


def pr_comment(text: str, **changes: Any) -> dict[str, Any]:
    """GitHub's comment example on pull request 1: GitHub adds ``issue.pull_request`` for those."""
    body = load("github-issue-comment-created.json")
    body["issue"]["pull_request"] = {
        "url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1",
        "html_url": "https://github.com/Codertocat/Hello-World/pull/1",
    }
    body["comment"]["body"] = text
    body.update(changes)
    return body


def pull_request_api() -> dict[str, Any]:
    """What "Get a pull request" answers: the webhook's pull request object."""
    pull: dict[str, Any] = load("github-pull-request-opened.json")["pull_request"]
    pull["number"] = 1
    return pull


def fork_pull_request() -> dict[str, Any]:
    body = load("github-pull-request-opened.json")
    body["pull_request"]["head"]["repo"]["full_name"] = "Forker/Hello-World"
    return body


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[LocalServer, PrCommandsInterceptor]]:
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "token").write_text(TOKEN + "\n")
    with local_server() as server:
        services = InterceptorServices(
            secrets=FileSecrets(tmp_path), github_api_url=server.base_url + "/", http_timeout_s=5
        )
        yield server, PrCommandsInterceptor(services)


def github(
    interceptor: PrCommandsInterceptor,
    event: str,
    body: dict[str, Any],
    params: dict[str, Any] | None = None,
    context: TriggerContext = TRAIN,
) -> InterceptorResponse:
    request = InterceptorRequest(
        body=js(body),
        header={"X-Github-Event": [event]},
        interceptor_params=PARAMS if params is None else params,
        context=context,
    )
    return interceptor.process(request)


def gitlab(
    server: LocalServer, interceptor: PrCommandsInterceptor, event: str, body: dict[str, Any], **params: Any
) -> InterceptorResponse:
    params = {**PARAMS, "gitlabApiUrl": server.base_url + "/", **params}
    request = InterceptorRequest(
        body=js(body), header={"X-Gitlab-Event": [event]}, interceptor_params=params, context=TRAIN
    )
    return interceptor.process(request)


def permission(level: str) -> Reply:
    return Reply(200, js({"permission": level, "user": {"login": "Codertocat"}}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/retest", Command("retest")),
        ("  /retest train  \nand a second line", Command("retest", ("train",))),
        ("/retest\r\n", Command("retest")),
        ("/cancel train", Command("cancel", ("train",))),
        ("/ok-to-test", Command("ok-to-test")),
        ("/retesting", None),
        ("please /retest", None),
        ("looks good\n/retest", None),  # only the first line is read
        ("/deploy", None),
        ("", None),
    ],
)
def test_the_command_is_read_from_the_first_line(text: str, expected: Command | None) -> None:
    assert parse_command(text) == expected


def test_a_pull_request_event_continues_with_its_pull_request_and_calls_nothing(
    api: tuple[LocalServer, PrCommandsInterceptor],
) -> None:
    server, interceptor = api
    body = load("github-pull-request-opened.json")
    response = github(interceptor, "pull_request", body, {**PARAMS, "okToTest": True})
    assert response.continue_ and response.extensions == {"pull_request": body["pull_request"]}
    assert server.targets() == []  # not a fork: nobody's access is asked


def test_a_fork_pull_request_waits_for_ok_to_test_unless_its_author_may_write(
    api: tuple[LocalServer, PrCommandsInterceptor],
) -> None:
    server, interceptor = api
    server.routes[PERMISSION] = permission("read")
    response = github(interceptor, "pull_request", fork_pull_request(), {**PARAMS, "okToTest": True})
    assert not response.continue_ and response.status.code == StatusCode.PERMISSION_DENIED
    assert response.status.message == (
        "awaiting /ok-to-test from a collaborator: pull request #2 comes from a fork and its author "
        "Codertocat has no write access to Codertocat/Hello-World"
    )
    [sent] = server.requests
    assert sent.headers["authorization"] == f"Bearer {TOKEN}"
    assert sent.headers["accept"] == "application/vnd.github.v3+json"
    # Without okToTest a fork runs as any pull request.
    assert github(interceptor, "pull_request", fork_pull_request()).continue_
    # An author with write access is not held; a fresh interceptor has a fresh cache.
    fresh = PrCommandsInterceptor(interceptor.services)
    server.routes[PERMISSION] = permission("maintain")
    assert github(fresh, "pull_request", fork_pull_request(), {**PARAMS, "okToTest": True}).continue_


def test_an_authorised_retest_continues_with_the_fresh_pull_request_and_the_command(
    api: tuple[LocalServer, PrCommandsInterceptor],
) -> None:
    server, interceptor = api
    server.routes[PERMISSION] = permission("write")
    server.routes[PULL] = Reply(200, js(pull_request_api()))
    response = github(interceptor, "issue_comment", pr_comment("/retest"))
    assert response.continue_, response.status
    assert response.extensions is not None
    assert response.extensions["pull_request"]["head"]["sha"] == HEAD_SHA
    assert response.extensions["command"] == {
        "name": "retest",
        "args": [],
        "author": "Codertocat",
        "comment_id": 492700400,
    }
    assert type(response.extensions["command"]["comment_id"]) is int
    assert server.targets() == [PERMISSION, PULL]
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in server.requests)


@pytest.mark.parametrize(
    ("permission_reply", "shown"),
    [(permission("read"), "read"), (permission("triage"), "triage"), (Reply(404, b"{}"), "404")],
)
def test_a_commenter_without_write_access_is_refused_and_the_pull_request_not_fetched(
    api: tuple[LocalServer, PrCommandsInterceptor], permission_reply: Reply, shown: str
) -> None:
    server, interceptor = api
    server.routes[PERMISSION] = permission_reply
    response = github(interceptor, "issue_comment", pr_comment("/retest"))
    assert not response.continue_ and response.status.code == StatusCode.PERMISSION_DENIED, shown
    assert response.status.message == (
        "Codertocat may not run /retest: it needs write access to Codertocat/Hello-World"
    )
    assert server.targets() == [PERMISSION]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (pr_comment("You are totally right!"), "not a command"),
        (load("github-issue-comment-created.json"), "not a pull request comment"),
        (pr_comment("/retest", action="edited"), "a comment edited is not read: only new comments are"),
        (pr_comment("/retest other"), "/retest names trigger 'other', not 'train'"),
    ],
)
def test_comments_that_are_no_command_for_this_trigger_stop_quietly_without_a_call(
    api: tuple[LocalServer, PrCommandsInterceptor], body: dict[str, Any], message: str
) -> None:
    server, interceptor = api
    response = github(interceptor, "issue_comment", body)
    assert (response.continue_, response.status.code, response.status.message) == (
        False,
        StatusCode.FAILED_PRECONDITION,
        message,
    )
    assert server.targets() == []


def test_a_command_naming_this_trigger_continues_and_commands_can_be_limited(
    api: tuple[LocalServer, PrCommandsInterceptor],
) -> None:
    server, interceptor = api
    server.routes[PERMISSION] = permission("admin")
    server.routes[PULL] = Reply(200, js(pull_request_api()))
    named = github(interceptor, "issue_comment", pr_comment("/cancel train"))
    assert named.continue_ and named.extensions is not None
    assert named.extensions["command"]["name"] == "cancel"
    assert named.extensions["command"]["args"] == ["train"]
    limited = github(interceptor, "issue_comment", pr_comment("/cancel"), {**PARAMS, "commands": ["retest"]})
    assert limited.status.message == "/cancel is not enabled for this trigger"


def test_access_answers_are_kept_per_user_and_token_for_a_few_minutes(
    api: tuple[LocalServer, PrCommandsInterceptor],
) -> None:
    server, interceptor = api
    now = [1000.0]
    interceptor.cache = AccessCache(ttl_s=300, clock=lambda: now[0])
    server.routes[PERMISSION] = permission("read")
    for _ in range(3):
        assert not github(interceptor, "issue_comment", pr_comment("/retest")).continue_
    assert server.targets() == [PERMISSION]  # a refusal is kept too: a stranger costs one call
    server.routes[PERMISSION] = permission("write")
    server.routes[PULL] = Reply(200, js(pull_request_api()))
    now[0] += 301
    assert github(interceptor, "issue_comment", pr_comment("/retest")).continue_
    assert server.targets() == [PERMISSION, PERMISSION, PULL]


@pytest.mark.parametrize(
    "hostile",
    [
        {"repository": {"full_name": "Codertocat/.."}},
        {"repository": {"full_name": "../../orgs/x"}},
        {"comment_user": "Codertocat/../../x"},
        {"issue_number": "1/../../../user"},
    ],
)
def test_hostile_values_never_reach_a_url(
    api: tuple[LocalServer, PrCommandsInterceptor], hostile: dict[str, Any]
) -> None:
    server, interceptor = api
    body = pr_comment("/retest")
    if "repository" in hostile:
        body["repository"] = hostile["repository"]
    if "comment_user" in hostile:
        body["comment"]["user"]["login"] = hostile["comment_user"]
    if "issue_number" in hostile:
        server.routes[PERMISSION] = permission("write")
        body["issue"]["number"] = hostile["issue_number"]
    response = github(interceptor, "issue_comment", body)
    assert not response.continue_ and response.status.message.startswith("error parsing body:")
    assert all("/pulls/" not in t and ".." not in t for t in server.targets())


def test_an_api_failure_stops_the_trigger_with_the_api_message(
    api: tuple[LocalServer, PrCommandsInterceptor],
) -> None:
    server, interceptor = api
    server.routes[PERMISSION] = Reply(500, js({"message": "Server Error"}))
    response = github(interceptor, "issue_comment", pr_comment("/retest"))
    assert response.status.code == StatusCode.FAILED_PRECONDITION
    assert response.status.message.startswith("error calling the API: GET ")
    assert "500 Server Error" in response.status.message


def test_without_a_secret_ref_a_command_is_refused_as_misconfigured(
    api: tuple[LocalServer, PrCommandsInterceptor],
) -> None:
    server, interceptor = api
    response = github(interceptor, "issue_comment", pr_comment("/retest"), params={})
    assert response.status.code == StatusCode.INVALID_ARGUMENT
    assert "needs a secretRef" in response.status.message and server.targets() == []


def gitlab_note(text: str) -> dict[str, Any]:
    body = load("gitlab-note-merge-request.json")
    body["object_attributes"]["note"] = text
    return body


def gitlab_mr_api() -> dict[str, Any]:
    return {
        "iid": 1,
        "title": "Tests",
        "state": "opened",
        "web_url": "https://gitlab.example.com/gitlab-org/gitlab-test/-/merge_requests/1",
        "sha": HEAD_SHA,
        "source_branch": "tests",
        "target_branch": "master",
        "source_project_id": 5,
        "target_project_id": 5,
        "author": {"id": 1, "username": "root"},
    }


def test_gitlab_retest_by_a_developer_continues_with_the_merge_request_mapped(
    api: tuple[LocalServer, PrCommandsInterceptor],
) -> None:
    server, interceptor = api
    server.routes[MEMBER] = Reply(200, js({"id": 1, "username": "root", "access_level": 30}))
    server.routes[MERGE_REQUEST] = Reply(200, js(gitlab_mr_api()))
    response = gitlab(server, interceptor, "Note Hook", gitlab_note("/retest"))
    assert response.continue_, response.status
    assert response.extensions == {
        "pull_request": {
            "number": 1,
            "title": "Tests",
            "state": "opened",
            "html_url": "https://gitlab.example.com/gitlab-org/gitlab-test/-/merge_requests/1",
            "user": {"id": 1, "login": "root"},
            "head": {"sha": HEAD_SHA, "ref": "tests", "repo": {"id": 5}},
            "base": {"ref": "master", "repo": {"id": 5}},
        },
        "command": {"name": "retest", "args": [], "author": "root", "comment_id": 1244},
    }
    assert server.targets() == [MEMBER, MERGE_REQUEST]
    assert all(r.headers["private-token"] == TOKEN for r in server.requests)
    assert all("authorization" not in r.headers for r in server.requests)


@pytest.mark.parametrize(
    "reply", [Reply(200, js({"access_level": 20})), Reply(404, js({"message": "404 Not found"}))]
)
def test_gitlab_reporters_and_strangers_are_refused(
    api: tuple[LocalServer, PrCommandsInterceptor], reply: Reply
) -> None:
    server, interceptor = api
    server.routes[MEMBER] = reply
    response = gitlab(server, interceptor, "Note Hook", gitlab_note("/cancel"))
    assert response.status.code == StatusCode.PERMISSION_DENIED
    assert response.status.message == "root may not run /cancel: it needs write access to project 5"
    assert server.targets() == [MEMBER]


def test_gitlab_merge_request_events_pass_and_forks_wait_for_ok_to_test(
    api: tuple[LocalServer, PrCommandsInterceptor],
) -> None:
    server, interceptor = api
    body = load("gitlab-merge-request.json")
    passed = gitlab(server, interceptor, "Merge Request Hook", body, okToTest=True)
    assert passed.continue_ and passed.extensions is not None
    pull = passed.extensions["pull_request"]
    assert (pull["number"], pull["head"]["sha"], pull["head"]["ref"], pull["base"]["ref"]) == (
        1,
        "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        "ms-viewport",
        "master",
    )
    assert pull["base"]["repo"] == {"id": 14} and type(pull["base"]["repo"]["id"]) is int  # not 14.0
    assert server.targets() == []
    fork = copy.deepcopy(body)
    fork["object_attributes"]["source_project_id"] = 99
    server.routes["GET /projects/1/members/all/51"] = Reply(404, js({"message": "404 Not found"}))
    held = gitlab(server, interceptor, "Merge Request Hook", fork, okToTest=True)
    assert held.status.code == StatusCode.PERMISSION_DENIED
    assert held.status.message.startswith("awaiting /ok-to-test from a collaborator: merge request !1")


def test_gitlab_notes_on_anything_but_a_merge_request_stop(
    api: tuple[LocalServer, PrCommandsInterceptor],
) -> None:
    server, interceptor = api
    body = gitlab_note("/retest")
    body["object_attributes"]["noteable_type"] = "Issue"
    response = gitlab(server, interceptor, "Note Hook", body)
    assert response.status.message == "not a merge request comment" and server.targets() == []
