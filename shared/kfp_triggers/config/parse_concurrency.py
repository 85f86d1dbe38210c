"""Concurrency groups from ``kfp-triggers.dev/concurrency-*`` annotations.

On a Trigger object they apply to that trigger; on an EventListener they apply to its inline
triggers (a Trigger object keeps its own). The annotations:

* ``kfp-triggers.dev/concurrency-group``: the group key, text with ``$(tt.params.<name>)``
  references to the trigger's template params (required by the others);
* ``kfp-triggers.dev/concurrency-policy``: ``allow``, ``cancel-in-progress``, ``queue``,
  ``queue-latest`` (the default with a group, as GitHub Actions' ``concurrency:``) or ``skip``;
* ``kfp-triggers.dev/max-running``: how many runs of the group may run at once under ``queue`` and
  ``queue-latest`` (default 1);
* ``kfp-triggers.dev/concurrency-action``: ``launch`` (default) or ``cancel-group``.
"""

from __future__ import annotations

import re

from kfp_triggers.config.fields import Ctx
from kfp_triggers.config.models import CONCURRENCY_POLICIES, GROUP_ACTIONS, Concurrency

PREFIX = "kfp-triggers.dev/"
GROUP = PREFIX + "concurrency-group"
POLICY = PREFIX + "concurrency-policy"
MAX_RUNNING = PREFIX + "max-running"
ACTION = PREFIX + "concurrency-action"
ANNOTATIONS = (GROUP, POLICY, MAX_RUNNING, ACTION)
DEFAULT_POLICY = "queue-latest"
MAX_RUNNING_LIMIT = 1000

_REFERENCE = re.compile(r"\$\(([^)]*)\)")
_PARAM = re.compile(r"tt\.params\.([_a-zA-Z][_a-zA-Z0-9.-]*)")


def group_params(key: str) -> list[str]:
    """The template params a group key references, in order (each once)."""
    names: list[str] = []
    for match in _REFERENCE.finditer(key):
        param = _PARAM.fullmatch(match.group(1))
        if param is not None and param.group(1) not in names:
            names.append(param.group(1))
    return names


def parse_concurrency(ctx: Ctx, annotations: dict[str, str], line: int, what: str) -> Concurrency | None:
    """The concurrency settings in ``annotations``; ``None`` when there are none (or they are broken).

    Every problem is reported at ``line`` (the object's ``metadata.name``) with the annotation's name.
    """
    given = {k: v for k, v in annotations.items() if k in ANNOTATIONS}
    unknown = sorted(k for k in annotations if k.startswith(PREFIX + "concurrency") and k not in ANNOTATIONS)
    for key in unknown:
        ctx.error(line, f"{what}: unknown annotation {key} (known: {', '.join(ANNOTATIONS)})")
    if not given:
        return None
    group = given.get(GROUP)
    if group is None:
        ctx.error(line, f"{what}: {', '.join(sorted(given))} needs {GROUP} (the group key)")
        return None
    ok = not unknown and _check_group(ctx, group, line, what)
    policy = given.get(POLICY, DEFAULT_POLICY).strip()
    if policy not in CONCURRENCY_POLICIES:
        ctx.error(line, f"{what}: {POLICY} must be one of {', '.join(CONCURRENCY_POLICIES)}, not {policy!r}")
        ok = False
    max_running = 1
    if MAX_RUNNING in given:
        raw = given[MAX_RUNNING].strip()
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_RUNNING_LIMIT:
            ctx.error(
                line,
                f"{what}: {MAX_RUNNING} must be a whole number from 1 to {MAX_RUNNING_LIMIT}, not {raw!r}",
            )
            ok = False
        elif policy in CONCURRENCY_POLICIES and policy not in ("queue", "queue-latest"):
            ctx.error(
                line, f"{what}: {MAX_RUNNING} applies to the queue and queue-latest policies, not {policy}"
            )
            ok = False
        else:
            max_running = int(raw)
    action = given.get(ACTION, "launch").strip()
    if action not in GROUP_ACTIONS:
        ctx.error(line, f"{what}: {ACTION} must be one of {', '.join(GROUP_ACTIONS)}, not {action!r}")
        ok = False
    if not ok:
        return None
    return Concurrency(group, policy, max_running, action, ctx.source(line))


def _check_group(ctx: Ctx, group: str, line: int, what: str) -> bool:
    if not group.strip():
        ctx.error(line, f"{what}: {GROUP} is empty")
        return False
    for match in _REFERENCE.finditer(group):
        if _PARAM.fullmatch(match.group(1)) is None:
            ctx.error(
                line, f"{what}: {GROUP} may only reference $(tt.params.<name>), not $({match.group(1)})"
            )
            return False
    return True
