"""What intercept does with a trigger the ``pr-commands.kfp-triggers.dev`` interceptor accepted.

Two things, both decided from what that interceptor itself answered (its own extensions in the
chain's decisions, never the merged extensions a later interceptor could have overwritten):

* **The origin gets the pull request's head commit.** A comment's payload names a pull request, not
  a commit; the interceptor fetched the pull request from the API with the configured token, for
  the repository the signed (GitHub) or token-checked (GitLab) body names. That commit becomes the
  trigger's origin commit, so the run it launches gets commit statuses like a pull request's own
  run, and a later ``/cancel`` finds it. GitHub: ``origin.github`` (only when the GitHub signature
  was verified and the origin names no commit yet); GitLab: ``origin.gitlab = {project, sha}``
  (only when the GitLab token was verified).
* **``/cancel`` launches nothing.** The trigger is not handed to render; instead its runs that are
  not finished and whose verified origin commit is the pull request's head are cancelled on their
  backend, and the trigger's journal entry says so: ``cancelled run X by /cancel of alice`` (or
  ``nothing to cancel ...``). Their commit statuses follow as for any cancelled run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kfp_triggers.config.models import CLUSTER_INTERCEPTOR, PR_COMMANDS_INTERCEPTOR
from kfp_triggers.stages.context import StageContext
from kfp_triggers.tekton.github_commit import commit_from_origin, header
from kfp_triggers.wire.events import ObjectRef

if TYPE_CHECKING:  # intercept imports this module for every event; a /cancel loads the rest
    from kfp_triggers.tekton.processing import Interception

log = logging.getLogger(__name__)

CANCEL = "cancel"
RUNS_SCANNED = 1000
"""How many of the newest unfinished runs a ``/cancel`` looks through."""
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def take_over(
    ctx: StageContext,
    item: Interception,
    listener: ObjectRef,
    event_id: str,
    origins: dict[int, dict[str, Any]],
) -> bool:
    """Complete the origin of an accepted trigger from its pull request; True when a command consumed it.

    ``origins`` maps ``id(item)`` to the trigger's origin (see :mod:`kfp_triggers.tekton.origin`);
    the item's entry gains the head commit. True means the trigger must not go on to render
    (``/cancel``, already carried out and journalled here).
    """
    own = _own_extensions(item)
    if own is None:
        return False
    pull = own.get("pull_request")
    head = _head_sha(pull)
    origin = origins.get(id(item))
    if origin is not None and head is not None and isinstance(pull, Mapping):
        _add_commit(origin, pull, head, item)
    command = own.get("command")
    if not isinstance(command, Mapping) or command.get("name") != CANCEL:
        return False
    author = str(command.get("author") or "someone")
    trigger = item.trigger
    cancelled = _cancel_runs(ctx, listener, trigger.namespace, trigger.name, origin or {}, head)
    if cancelled:
        runs = f"run{'s' if len(cancelled) > 1 else ''} {', '.join(cancelled)}"
        note = f"cancelled {runs} by /cancel of {author}"
    else:
        short = head[:7] if head else "?"
        note = f"nothing to cancel: no run of commit {short} in progress (/cancel of {author})"
    from kfp_triggers.stages.pipeline import idempotency_key  # the module that calls this one

    key = idempotency_key(listener, ObjectRef(trigger.namespace, trigger.name), event_id)
    ctx.store.record_launch(event_id, trigger.name, key, None, None, None, note=note)
    log.info("event %s trigger %s: %s", event_id, trigger.name, note)
    return True


def _own_extensions(item: Interception) -> dict[str, Any] | None:
    """The extensions the built-in ``pr-commands`` interceptor answered in this chain (the last one)."""
    found: dict[str, Any] | None = None
    for spec, decision in zip(item.specs, item.chain.decisions, strict=False):
        builtin = spec.webhook is None and spec.url is None and spec.ref_kind == CLUSTER_INTERCEPTOR
        if builtin and spec.ref_name == PR_COMMANDS_INTERCEPTOR and decision.response is not None:
            found = dict(decision.response.extensions or {})
    return found


def _head_sha(pull: object) -> str | None:
    head = pull.get("head") if isinstance(pull, Mapping) else None
    sha = head.get("sha") if isinstance(head, Mapping) else None
    return sha if isinstance(sha, str) and _SHA.match(sha) else None


def _add_commit(origin: dict[str, Any], pull: Mapping[str, Any], sha: str, item: Interception) -> None:
    verifier = origin.get("verifiedBy")
    base = pull.get("base")
    repo = base.get("repo") if isinstance(base, Mapping) else None
    if verifier == "github" and "github" not in origin and isinstance(repo, Mapping):
        owner, _, name = str(repo.get("full_name") or "").partition("/")
        candidate = {
            "owner": owner,
            "repo": name,
            "sha": sha,
            "event": header(item.chain.header, "X-GitHub-Event"),
            "enterpriseHost": header(item.chain.header, "X-GitHub-Enterprise-Host"),
        }
        if commit_from_origin({"verifiedBy": "github", "github": candidate}) is not None:
            origin["github"] = candidate
    elif verifier == "gitlab" and isinstance(repo, Mapping) and isinstance(repo.get("id"), int):
        origin["gitlab"] = {"project": repo["id"], "sha": sha}


def _origin_commit(origin: Mapping[str, Any]) -> tuple[str, str] | None:
    """(repository, sha) of a verified origin, GitHub's or GitLab's; ``None`` without one."""
    commit = commit_from_origin(origin)
    if commit is not None:
        return f"github:{commit.owner}/{commit.repo}".lower(), commit.sha
    found = origin.get("gitlab")
    if origin.get("verifiedBy") == "gitlab" and isinstance(found, Mapping):
        sha = found.get("sha")
        if isinstance(sha, str) and _SHA.match(sha):
            return f"gitlab:{found.get('project')}", sha
    return None


def _cancel_runs(
    ctx: StageContext,
    listener: ObjectRef,
    namespace: str,
    trigger: str,
    origin: Mapping[str, Any],
    head: str | None,
) -> list[str]:
    """Cancel the trigger's unfinished runs of the same repository's ``head`` commit; their ids."""
    wanted = _origin_commit(origin)
    if head is None or wanted is None or wanted[1] != head:
        return []
    from kfp_triggers.stages.groups import cancel_run  # only a /cancel needs the launchers

    cancelled: list[str] = []
    for run in ctx.store.list_runs(RUNS_SCANNED, non_terminal_only=True):
        if run.terminal or run.trigger != trigger or run.listener != f"{listener.namespace}/{listener.name}":
            continue
        if str(run.details.get("triggerNamespace", namespace)) != namespace:
            continue
        run_origin = run.details.get("origin")
        if isinstance(run_origin, Mapping) and _origin_commit(run_origin) == wanted:
            cancel_run(ctx, run.run_id)
            cancelled.append(run.run_id)
    return cancelled
