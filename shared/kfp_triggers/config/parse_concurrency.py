"""Concurrency groups from ``kfp-triggers.dev/concurrency-*`` annotations.

On a Trigger object they apply to that trigger; on an EventListener they apply to its inline
triggers (a Trigger object keeps its own). The annotations:

* ``kfp-triggers.dev/concurrency-group``: the group key, text with ``$(tt.params.<name>)``
  references to the trigger's template params (required by the others);
* ``kfp-triggers.dev/concurrency-policy``: ``allow``, ``cancel-in-progress``, ``queue``,
  ``queue-latest`` (the default with a group, as GitHub Actions' ``concurrency:``) or ``skip``;
* ``kfp-triggers.dev/max-running``: how many runs of the group may run at once under ``queue`` and
  ``queue-latest`` (default 1);
* ``kfp-triggers.dev/concurrency-action``: ``launch`` (default) or ``cancel-group``;
* ``kfp-triggers.dev/rate-limit``: ``N/DURATION`` (``10/1h``), at most N launches in any such window;
* ``kfp-triggers.dev/debounce``: ``DURATION`` (``30s``), launch only the last invocation of a burst.

Durations are Go's: ``90s``, ``5m``, ``1h30m``. A rate limit or a debounce without a group key
applies to the trigger alone.
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
RATE_LIMIT = PREFIX + "rate-limit"
DEBOUNCE = PREFIX + "debounce"
ANNOTATIONS = (GROUP, POLICY, MAX_RUNNING, ACTION, RATE_LIMIT, DEBOUNCE)
MAX_WINDOW_S = 7 * 86400.0
DEFAULT_POLICY = "queue-latest"
MAX_RUNNING_LIMIT = 1000

_REFERENCE = re.compile(r"\$\(([^)]*)\)")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
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
    gated = RATE_LIMIT in given or DEBOUNCE in given
    group = given.get(GROUP)
    if group is None and not gated:
        ctx.error(line, f"{what}: {', '.join(sorted(given))} needs {GROUP} (the group key)")
        return None
    ok = not unknown and (group is None or _check_group(ctx, group, line, what))
    policy = given.get(POLICY, DEFAULT_POLICY if group is not None else "allow").strip()
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
    rate_limit, window_s = 0, 0.0
    if RATE_LIMIT in given:
        parsed = _rate(given[RATE_LIMIT])
        if parsed is None:
            ctx.error(
                line,
                f"{what}: {RATE_LIMIT} must be N/DURATION (at most N launches per window, as 10/1h), "
                f"with N from 1 to {MAX_RUNNING_LIMIT} and a window up to 7 days, not {given[RATE_LIMIT]!r}",
            )
            ok = False
        else:
            rate_limit, window_s = parsed
    debounce_s = 0.0
    if DEBOUNCE in given:
        found = parse_duration(given[DEBOUNCE])
        if found is None or not 0 < found <= MAX_WINDOW_S:
            ctx.error(
                line,
                f"{what}: {DEBOUNCE} must be a duration up to 7 days (as 30s or 5m), not {given[DEBOUNCE]!r}",
            )
            ok = False
        else:
            debounce_s = found
    if gated and (policy == "skip" or action == "cancel-group"):
        what_it_is = "the skip policy" if policy == "skip" else "a cancel-group action"
        ctx.error(
            line, f"{what}: {RATE_LIMIT} and {DEBOUNCE} delay launches; they do not combine with {what_it_is}"
        )
        ok = False
    if not ok:
        return None
    return Concurrency(
        group or "", policy, max_running, action, ctx.source(line), rate_limit, window_s, debounce_s
    )


def parse_duration(raw: str) -> float | None:
    """Seconds of a Go duration (``90s``, ``1h30m``, ``1.5h``); ``None`` when it is not one."""
    text = raw.strip()
    parts = _DURATION.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


def _rate(raw: str) -> tuple[int, float] | None:
    """``(N, window seconds)`` of ``N/DURATION``; ``None`` when malformed or out of range."""
    count, sep, window = raw.strip().partition("/")
    seconds = parse_duration(window) if sep else None
    if not count.isdigit() or seconds is None:
        return None
    if not 1 <= int(count) <= MAX_RUNNING_LIMIT or not 0 < seconds <= MAX_WINDOW_S:
        return None
    return int(count), seconds


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
