"""What intercept does with a trigger the pull request command interceptor accepted (stages/commands.py).

The origin gains the pull request's head commit only under the check that verified the body; a
``/cancel`` cancels only the trigger's unfinished runs of that commit in that repository, and only
the built-in interceptor's own answer counts (a later CEL overlay cannot forge a command).
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from kfp_triggers.adapters.store.base import RunRecord
from kfp_triggers.config.models import CLUSTER_INTERCEPTOR, PR_COMMANDS_INTERCEPTOR, InterceptorSpec
from kfp_triggers.stages.commands import take_over
from kfp_triggers.tekton.chain import ChainOutcome, Decision
from kfp_triggers.tekton.interceptor_protocol import InterceptorResponse
from kfp_triggers.tekton.processing import Interception
from kfp_triggers.wire.events import ObjectRef

SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
OTHER = "3f786850e387550fdab836ed7e6dc881de23001b"
LISTENER = ObjectRef("default", "pr-commands")
PR_SPEC = InterceptorSpec("pr", PR_COMMANDS_INTERCEPTOR, CLUSTER_INTERCEPTOR, {})
CEL_SPEC = InterceptorSpec("cel", "cel", CLUSTER_INTERCEPTOR, {})
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def pull(sha: str = SHA, project: int | None = None) -> dict[str, Any]:
    repo: dict[str, Any] = {"full_name": "Codertocat/Hello-World"} if project is None else {"id": project}
    return {"number": 2, "head": {"sha": sha}, "base": {"repo": repo}}


def item(
    own: dict[str, Any], later: dict[str, Any] | None = None, event: str = "issue_comment"
) -> Interception:
    """An accepted chain: the pr-commands interceptor answered ``own``, a CEL step after it ``later``."""
    decisions = [
        Decision("pr", InterceptorResponse.proceed(own)),
        Decision("cel", InterceptorResponse.proceed(later)),
    ]
    chain = ChainOutcome(True, b"{}", {"X-Github-Event": [event]}, {**own, **(later or {})}, decisions)
    trigger: Any = SimpleNamespace(name="train", namespace="default")
    return Interception(trigger, None, chain, (PR_SPEC, CEL_SPEC))


def run(run_id: str, origin: dict[str, Any], trigger: str = "train", state: str = "RUNNING") -> RunRecord:
    details = {"origin": origin, "triggerNamespace": "default"}
    return RunRecord(run_id, "e0", "default/pr-commands", trigger, "local", state, NOW, NOW, details=details)


class Store:
    def __init__(self, runs: list[RunRecord]) -> None:
        self.runs = runs
        self.notes: list[tuple[str, str, str | None]] = []

    def list_runs(
        self, limit: int, state: str | None = None, non_terminal_only: bool = False
    ) -> list[RunRecord]:
        return [r for r in self.runs if not (non_terminal_only and r.terminal)][:limit]

    def record_launch(
        self, event_id: str, trigger: str, key: str | None, *args: Any, note: str | None = None
    ) -> None:
        self.notes.append((event_id, trigger, note))


class Launcher:
    def __init__(self) -> None:
        self.cancelled: list[str] = []

    def cancel(self, run_id: str) -> None:
        self.cancelled.append(run_id)


def context(runs: list[RunRecord]) -> Any:
    return SimpleNamespace(store=Store(runs), launcher=Launcher())


def github_origin(sha: str, repo: str = "Hello-World") -> dict[str, Any]:
    github = {"owner": "Codertocat", "repo": repo, "sha": sha, "event": "pull_request", "enterpriseHost": ""}
    return {"verifiedBy": "github", "github": github}


def test_a_comment_run_gets_the_head_commit_as_origin_only_when_github_verified_it() -> None:
    retest = item({"pull_request": pull(), "command": {"name": "retest", "author": "Codertocat"}})
    origins: dict[int, dict[str, Any]] = {id(retest): {"verifiedBy": "github"}}
    assert take_over(context([]), retest, LISTENER, "e1", origins) is False
    assert origins[id(retest)]["github"] == {
        "owner": "Codertocat",
        "repo": "Hello-World",
        "sha": SHA,
        "event": "issue_comment",
        "enterpriseHost": "",
    }
    unsigned: dict[int, dict[str, Any]] = {id(retest): {"verifiedBy": None}}
    take_over(context([]), retest, LISTENER, "e1", unsigned)
    assert unsigned[id(retest)] == {"verifiedBy": None}


def test_cancel_stops_only_the_triggers_unfinished_runs_of_the_same_commit_and_repository() -> None:
    runs = [
        run("r-match", github_origin(SHA)),
        run("r-other-commit", github_origin(OTHER)),
        run("r-other-repo", github_origin(SHA, repo="Fork")),
        run("r-other-trigger", github_origin(SHA), trigger="evaluate"),
        run("r-unverified", {"verifiedBy": None}),
        run("r-done", github_origin(SHA), state="SUCCEEDED"),
    ]
    ctx = context(runs)
    cancel = item({"pull_request": pull(), "command": {"name": "cancel", "author": "Codertocat"}})
    assert take_over(ctx, cancel, LISTENER, "e2", {id(cancel): {"verifiedBy": "github"}}) is True
    assert ctx.launcher.cancelled == ["r-match"]
    assert ctx.store.notes == [("e2", "train", "cancelled run r-match by /cancel of Codertocat")]


def test_cancel_with_nothing_in_progress_says_so() -> None:
    ctx = context([run("r-done", github_origin(SHA), state="CANCELED")])
    cancel = item({"pull_request": pull(), "command": {"name": "cancel", "author": "Codertocat"}})
    assert take_over(ctx, cancel, LISTENER, "e3", {id(cancel): {"verifiedBy": "github"}}) is True
    assert ctx.launcher.cancelled == []
    assert ctx.store.notes == [
        ("e3", "train", "nothing to cancel: no run of commit ec26c3e in progress (/cancel of Codertocat)")
    ]


def test_gitlab_runs_are_matched_by_project_and_head_commit() -> None:
    gitlab = {"verifiedBy": "gitlab", "gitlab": {"project": 5, "sha": SHA}}
    ctx = context(
        [run("r1", gitlab), run("r2", {"verifiedBy": "gitlab", "gitlab": {"project": 6, "sha": SHA}})]
    )
    cancel = item(
        {"pull_request": pull(project=5), "command": {"name": "cancel", "author": "root"}}, event=""
    )
    origins: dict[int, dict[str, Any]] = {id(cancel): {"verifiedBy": "gitlab"}}
    assert take_over(ctx, cancel, LISTENER, "e4", origins) is True
    assert origins[id(cancel)]["gitlab"] == {"project": 5, "sha": SHA}
    assert ctx.launcher.cancelled == ["r1"]


def test_only_the_interceptors_own_answer_counts() -> None:
    ctx = context([run("r-match", github_origin(SHA))])
    forged = item({"pull_request": pull()}, later={"command": {"name": "cancel", "author": "x"}})
    assert take_over(ctx, forged, LISTENER, "e5", {id(forged): {"verifiedBy": "github"}}) is False
    assert ctx.launcher.cancelled == [] and ctx.store.notes == []
    plain = Interception(forged.trigger, None, forged.chain, (CEL_SPEC, CEL_SPEC))
    assert take_over(ctx, plain, LISTENER, "e5", {}) is False
