"""Concurrency groups at launch and at status: admit, cancel what a newer run displaces, hand slots on.

Launch admits each run request into its trigger's group (the key rendered from the request's
params, so launch never takes a group from a message) while it holds the request's ledger claim:

* ``launch``: create the run; runs the admission displaced (``cancel-in-progress``) are cancelled
  on the backend, queued invocations it replaced (``queue-latest``) are journalled as superseded;
* ``queued``: the request is kept in the group and the claim released; status hands it back to
  launch when a slot frees up;
* ``skipped`` / ``superseded``: nothing is launched; the key is completed with that verdict, so a
  redelivery gets the same answer.

Once the run exists, the group learns its id; if a newer invocation displaced this one meanwhile,
the run is cancelled at once. Status removes a run from its group when the run ends and hands
the next queued requests to launch again (``run.requested``); a hand-off lost in a crash is found
on a later tick and sent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from kfp_triggers.adapters.launchers.base import LaunchError
from kfp_triggers.adapters.store import Admission, GroupMember, GroupRules, RunRecord
from kfp_triggers.config import ResolvedTrigger
from kfp_triggers.errors import KfptError
from kfp_triggers.stages.context import StageContext
from kfp_triggers.tekton.templates import PARAM_REFERENCE
from kfp_triggers.wire.events import RunRequested, event_for, topic_for

if TYPE_CHECKING:
    from kfp_triggers.adapters.notifiers.base import Supersession

log = logging.getLogger(__name__)

DETAILS_KEY = "concurrencyGroup"
"""Where a run record keeps the group it holds a slot in (``run.details``)."""


@dataclass(frozen=True)
class GroupRef:
    """The group one run request belongs to, and how the group behaves."""

    group_id: str
    action: str
    rules: GroupRules


def group_of(trigger: ResolvedTrigger, params: dict[str, str]) -> GroupRef | None:
    """The group of a run request of ``trigger`` with bound ``params``; ``None`` without one.

    The key is rendered with the bound params over the template's defaults; a param with neither
    renders empty. Groups are per namespace.
    """
    spec = trigger.concurrency
    gated = spec is not None and (spec.rate_limit > 0 or spec.debounce_s > 0)
    if spec is None or (spec.policy == "allow" and spec.action == "launch" and not gated):
        return None
    values = {p.name: p.default for p in trigger.template.params if isinstance(p.default, str)}
    values.update({k: v for k, v in params.items() if isinstance(v, str)})
    if spec.group:
        key = PARAM_REFERENCE.sub(lambda m: values.get(m.group(1), ""), spec.group)
    else:  # a rate limit or a debounce of the trigger alone
        key = f"trigger {trigger.name}"
    policy = "cancel-in-progress" if spec.action == "cancel-group" else spec.policy
    rules = GroupRules(policy, spec.max_running, spec.rate_limit, spec.rate_window_s, spec.debounce_s)
    return GroupRef(f"{trigger.namespace}/{key}", spec.action, rules)


def order_of(ctx: StageContext, requested: RunRequested, key: str) -> str:
    """The invocation's place in time: when its event was received (from the journal), then its key."""
    record = ctx.store.get_event(requested.event_id)
    received = record.received_at if record is not None and record.received_at else ctx.clock()
    return f"{received.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}/{key}"


def admit(ctx: StageContext, group: GroupRef, requested: RunRequested, key: str) -> Admission:
    """Admit the request ``key`` into ``group``, the request kept for a later start if it queues."""
    member = GroupMember(
        key=key,
        event_id=requested.event_id,
        order=order_of(ctx, requested, key),
        trigger=requested.trigger.name,
        request=requested.to_data(),
    )
    return ctx.store.admit_to_group(group.group_id, member, group.rules, ctx.clock())


def settle_displaced(ctx: StageContext, admission: Admission, key: str, event_id: str) -> list[str]:
    """Cancel the runs ``admission`` displaced and journal the queued ones it superseded.

    Returns the ids of the runs asked to stop. A displaced member still launching has no run yet:
    it cancels its own run once it records it (see :func:`run_started`).
    """
    cancelled: list[str] = []
    for member in admission.displaced:
        if member.key == key:
            continue
        if member.run_id:
            cancel_run(ctx, member.run_id)
            cancelled.append(member.run_id)
        elif member.status == "QUEUED":
            ctx.store.record_launch(
                member.event_id,
                member.trigger,
                member.key,
                None,
                None,
                None,
                note=f"superseded by event {event_id}",
            )
    return cancelled


def cancel_run(ctx: StageContext, run_id: str) -> None:
    """Ask the backend to stop ``run_id``; a refusal is logged (the run may have ended already)."""
    try:
        ctx.launcher.cancel(run_id)
    except LaunchError as exc:
        if exc.retryable:
            raise
        log.warning("run %s could not be cancelled: %s", run_id, exc)


def run_started(ctx: StageContext, group: GroupRef, key: str, run_id: str) -> bool:
    """Tell the group ``key``'s run exists; False (and the run cancelled) when it was displaced meanwhile."""
    if ctx.store.group_run_started(group.group_id, key, run_id):
        return True
    log.info(
        "run %s of %s was displaced in group %s while launching; cancelling it", run_id, key, group.group_id
    )
    cancel_run(ctx, run_id)
    return False


def note_for(admission: Admission, cancelled: list[str], rules: GroupRules | None = None) -> str | None:
    """What the policy did, in the journal's words."""
    by = admission.by
    ahead = None if by is None else (f"run {by.run_id}" if by.run_id else f"event {by.event_id}")
    if admission.verdict == "queued" and admission.until is not None:
        until = admission.until.astimezone(UTC).isoformat(timespec="seconds")
        return f"delayed until {until} ({gate_of(rules)})"
    if admission.verdict == "queued":
        return f"queued behind {ahead}" if ahead else "queued"
    if admission.verdict == "skipped":
        return f"skipped: {ahead} in progress" if ahead else "skipped: a run is in progress"
    if admission.verdict == "superseded":
        return f"superseded by event {by.event_id}" if by else "superseded by a newer event"
    if cancelled:
        return f"launched; cancelled run{'s' if len(cancelled) > 1 else ''} {', '.join(cancelled)}"
    return None


def superseded_by(ctx: StageContext, run: RunRecord, state: str) -> Supersession | None:
    """The newer invocation that cancelled ``run`` (``cancel-in-progress``), for a run seen canceled.

    In such a group every active member is newer than the runs it displaced; the newest one is
    named, with its run when it has one.
    """
    group_id = run.details.get(DETAILS_KEY)
    if state not in ("CANCELED", "CANCELING") or not isinstance(group_id, str):
        return None
    namespace, _, name = run.listener.rpartition("/")
    try:
        listener = ctx.listener(namespace, name)
        trigger = ctx.trigger(listener, str(run.details.get("triggerNamespace", namespace)), run.trigger)
    except KfptError:
        return None  # the trigger is gone from the configuration: nothing more to say
    if trigger.concurrency is None or trigger.concurrency.policy != "cancel-in-progress":
        return None
    active = [
        m for m in ctx.store.group_members(group_id) if m.key != run.idempotency_key and m.status != "QUEUED"
    ]
    if not active:
        return None
    from kfp_triggers.adapters.notifiers.base import Supersession

    newest = active[-1]
    newer_run = ctx.store.get_run(newest.run_id) if newest.run_id else None
    return Supersession(newest.event_id, newest.run_id, newer_run.run_url if newer_run else None)


def hand_on(ctx: StageContext, members: list[GroupMember]) -> None:
    """Send the run requests of members just given a slot back to launch."""
    for member in members:
        if member.request is None:
            log.error("group member %s has no run request to start", member.key)
            continue
        requested = RunRequested.from_data(member.request)
        ctx.publish(
            topic_for(requested.TYPE), event_for(requested, source=f"{ctx.source}/status", traceparent=None)
        )
        log.info(
            "event %s: run request %s handed to launch (a group slot is free)", member.event_id, member.key
        )


def release_slot(ctx: StageContext, group_id: str, key: str) -> None:
    """The run of ``key`` ended: free its slot and start whoever waits for it."""
    hand_on(ctx, ctx.store.leave_group(group_id, key, ctx.clock()))


def gate_of(rules: GroupRules | None) -> str:
    """The gates of ``rules`` in words (``rate limit 5 per 3600 s, debounce 30 s``)."""
    if rules is None:
        return "a rate limit or debounce"
    parts = []
    if rules.rate_limit:
        parts.append(f"rate limit {rules.rate_limit} per {rules.rate_window_s:g} s")
    if rules.debounce_s:
        parts.append(f"debounce {rules.debounce_s:g} s")
    return ", ".join(parts) or "a gate"


def start_due(ctx: StageContext, now: datetime) -> int:
    """Start the waiting run requests whose rate limit or debounce has let them go by ``now``."""
    started = 0
    for group_id in ctx.store.due_groups(now):
        members = ctx.store.promote_group(group_id, now)
        hand_on(ctx, members)
        started += len(members)
    return started


def resend_stale(ctx: StageContext, now: datetime, after_s: float) -> int:
    """Send again the run requests reserved a slot more than ``after_s`` ago that never came back."""
    stale = ctx.store.stale_reservations(now - timedelta(seconds=after_s))
    hand_on(ctx, [member for _, member in stale])
    return len(stale)
