"""The ``paths.kfp-triggers.dev`` interceptor on real webhook payloads, without any API call.

Payloads in ``paths_data/`` are GitHub's published examples (octokit/webhooks) and GitLab's
documented Push Hook shape; the rest are those payloads with their file lists changed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from kfp_triggers.interceptors.core import BUILTIN_INTERCEPTORS, core_interceptor
from kfp_triggers.interceptors.paths import PATHS_INTERCEPTOR, PathsInterceptor
from kfp_triggers.tekton.interceptor_protocol import (
    InterceptorRequest,
    InterceptorResponse,
    InterceptorServices,
    StatusCode,
)

DATA = Path(__file__).parent / "paths_data"
# Nothing listens here: a test that reaches the API fails loudly instead of passing by accident.
NO_API = InterceptorServices(github_api_url="http://127.0.0.1:9/", http_timeout_s=0.5)


def payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


def github_push(*commits: dict[str, list[str]], **fields: Any) -> dict[str, Any]:
    """GitHub's new-branch push example, turned into a push to an existing branch with these commits."""
    body = payload("github-push-new-branch.json")
    template = body["commits"][0]
    body["before"] = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
    body["created"] = False
    body["commits"] = [
        {**copy.deepcopy(template), "added": [], "modified": [], "removed": [], **c} for c in commits
    ]
    body.update(fields)
    return body


def run(
    body: dict[str, Any] | bytes,
    params: dict[str, Any],
    headers: dict[str, list[str]] | None = None,
    extensions: dict[str, Any] | None = None,
) -> InterceptorResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = InterceptorRequest(
        body=raw,
        header=headers if headers is not None else {"X-Github-Event": ["push"]},
        extensions=extensions or {},
        interceptor_params=params,
    )
    return PathsInterceptor(NO_API).process(request)


def test_is_a_builtin_interceptor_named_under_the_projects_domain() -> None:
    assert PATHS_INTERCEPTOR == "paths.kfp-triggers.dev"
    assert PATHS_INTERCEPTOR in BUILTIN_INTERCEPTORS
    assert isinstance(core_interceptor(PATHS_INTERCEPTOR, NO_API), PathsInterceptor)


def test_real_push_payload_passes_paths_and_exposes_both_extension_shapes() -> None:
    res = run(payload("github-push-new-branch.json"), {"paths": ["*.md"]})
    assert res.continue_ is True
    assert res.extensions == {
        "changed_files": "README.md",
        "changed_paths": {
            "files": ["README.md"],
            "matched": ["README.md"],
            "complete": True,
            "evaluated": True,
            "source": "push",
        },
    }


def test_push_that_touches_no_selected_path_stops_with_code_9() -> None:
    res = run(payload("github-push-new-branch.json"), {"paths": ["training/**"]})
    assert res.continue_ is False
    assert res.status.code == StatusCode.FAILED_PRECONDITION
    assert res.status.message == "none of the 1 changed file matches paths"


def test_changed_files_are_the_union_over_commits_renames_and_deletions_included() -> None:
    body = github_push(
        {"added": ["training/new.py"], "modified": ["docs/a.md"], "removed": ["training/old.py"]},
        {"added": ["docs/b.md"], "modified": ["docs/a.md"], "removed": []},
        # A rename: GitHub lists the old name as removed and the new one as added.
        {"added": ["models/v2/net.py"], "removed": ["models/v1/net.py"]},
    )
    res = run(body, {"paths": ["models/v1/**"]})
    assert res.continue_ is True  # the old name of the renamed file counts
    assert res.extensions is not None
    assert res.extensions["changed_paths"]["files"] == [
        "training/new.py",
        "docs/a.md",
        "training/old.py",
        "docs/b.md",
        "models/v2/net.py",
        "models/v1/net.py",
    ]
    assert res.extensions["changed_files"] == ",".join(res.extensions["changed_paths"]["files"])
    assert res.extensions["changed_paths"]["matched"] == ["models/v1/net.py"]


def test_a_deletion_alone_is_a_change() -> None:
    res = run(github_push({"removed": ["training/data.csv"]}), {"paths": ["training/**"]})
    assert res.continue_ is True


@pytest.mark.parametrize(
    ("files", "want"),
    [
        (["docs/a.md", "README.md"], False),  # every file ignored
        (["docs/a.md", "src/app.py"], True),  # one is not
    ],
)
def test_paths_ignore_stops_only_when_every_file_is_ignored(files: list[str], want: bool) -> None:
    res = run(github_push({"modified": files}), {"pathsIgnore": ["docs/**", "*.md"]})
    assert res.continue_ is want
    if not want:
        assert res.status.message == "every changed file (2) matches pathsIgnore"
    else:
        assert res.extensions is not None
        assert res.extensions["changed_paths"]["matched"] == ["src/app.py"]


def test_negation_order_decides_as_in_github_actions() -> None:
    params = {"paths": ["sub-project/**", "!sub-project/docs/**"]}
    assert run(github_push({"modified": ["sub-project/docs/readme.md"]}), params).continue_ is False
    assert run(github_push({"modified": ["sub-project/src/index.js"]}), params).continue_ is True


def test_dotfiles_match_like_any_other_file() -> None:
    res = run(github_push({"modified": [".github/workflows/ci.yml"]}), {"paths": [".github/**"]})
    assert res.continue_ is True


def test_tag_pushes_are_not_filtered() -> None:
    """GitHub Actions: "Path filters are not evaluated for pushes of tags"."""
    res = run(payload("github-push-tag-deleted.json"), {"paths": ["training/**"]})
    assert res.continue_ is True
    assert res.extensions is not None
    assert res.extensions["changed_paths"]["evaluated"] is False


def test_a_deleted_branch_changed_no_files() -> None:
    body = github_push(ref="refs/heads/gone", after="0" * 40)
    res = run(body, {"paths": ["**"]})
    assert res.continue_ is False
    assert res.status.message == "the event changed no files"


def test_new_branch_at_an_existing_commit_reads_the_head_commit() -> None:
    body = payload("github-push-new-branch.json")
    body["commits"] = []
    res = run(body, {"paths": ["README.md"]})
    assert res.continue_ is True


def test_without_lists_nothing_is_filtered_and_files_are_listed_for_cel() -> None:
    res = run(github_push({"modified": ["a.txt"]}), {})
    assert res.continue_ is True
    assert res.extensions is not None
    assert res.extensions["changed_paths"]["evaluated"] is False
    assert res.extensions["changed_paths"]["matched"] == ["a.txt"]
    assert res.extensions["changed_files"] == "a.txt"


def test_incomplete_new_branch_push_runs_unfiltered() -> None:
    """No base to compare with, so no complete list: GitHub Actions runs a workflow it cannot diff."""
    body = payload("github-push-new-branch.json")
    body["size"] = 30  # the Events API's copy of a push says how many commits it had
    res = run(body, {"paths": ["training/**"]})
    assert res.continue_ is True
    assert res.extensions is not None
    assert res.extensions["changed_paths"]["complete"] is False
    assert res.extensions["changed_paths"]["evaluated"] is False
    assert res.extensions["changed_paths"]["matched"] == []


def test_gitlab_push_complete_and_cut() -> None:
    body = payload("gitlab-push.json")
    headers = {"X-Gitlab-Event": ["Push Hook"]}
    cut = run(body, {"paths": ["docs/**"]}, headers)
    assert cut.continue_ is True  # total_commits_count 4, two listed: unfiltered
    assert cut.extensions is not None
    assert cut.extensions["changed_paths"]["complete"] is False
    body["total_commits_count"] = 2
    whole = run(body, {"paths": ["docs/**"]}, headers)
    assert whole.continue_ is False
    matched = run(body, {"paths": ["app/**"]}, headers)
    assert matched.extensions is not None
    assert matched.extensions["changed_paths"] == {
        "files": ["CHANGELOG", "app/controller/application.rb"],
        "matched": ["app/controller/application.rb"],
        "complete": True,
        "evaluated": True,
        "source": "gitlab_push",
    }


def test_gitlab_tag_push_is_not_filtered_and_merge_requests_are_refused() -> None:
    tag = run({"object_kind": "tag_push"}, {"paths": ["x"]}, {"X-Gitlab-Event": ["Tag Push Hook"]})
    assert tag.continue_ is True
    mr = run({"object_kind": "merge_request"}, {"paths": ["x"]}, {"X-Gitlab-Event": ["Merge Request Hook"]})
    assert mr.continue_ is False
    assert "GitLab merge requests are not supported" in mr.status.message


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "only GitHub and GitLab events have changed files to filter"),
        ({"X-Github-Event": ["issues"]}, "GitHub issues events have no changed files to filter"),
        ({"X-Event-Key": ["repo:push"]}, "only GitHub and GitLab events have changed files to filter"),
    ],
)
def test_events_without_changed_files_stop(headers: dict[str, list[str]], message: str) -> None:
    res = run(github_push({"modified": ["a"]}), {"paths": ["**"]}, headers)
    assert (res.continue_, res.status.code, res.status.message) == (
        False,
        StatusCode.FAILED_PRECONDITION,
        message,
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"paths": ["a"], "pathsIgnore": ["b"]}, "paths and pathsIgnore cannot both be given"),
        ({"paths": ["[x"]}, "paths: pattern '[x': '[' at position 1 is never closed"),
        (
            {"paths": "docs/**"},
            "cannot unmarshal string into Go struct field InterceptorParams.paths of type []string",
        ),
    ],
)
def test_bad_params_are_invalid_argument(params: dict[str, Any], message: str) -> None:
    res = run(github_push({"modified": ["a"]}), params)
    assert res.continue_ is False
    assert res.status.code == StatusCode.INVALID_ARGUMENT
    assert message in res.status.message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "error parsing body: body is empty"),
        (b"[1]", "error parsing body"),
        (
            {"commits": [{"added": "a.txt"}]},
            "error parsing body: 'commits[0].added' is not a list of file names",
        ),
        ({"commits": [7]}, "error parsing body: 'commits[0]' is not an object"),
    ],
)
def test_malformed_bodies_stop_with_the_reason(body: Any, message: str) -> None:
    res = run(body, {"paths": ["**"]})
    assert res.continue_ is False
    assert message in res.status.message
