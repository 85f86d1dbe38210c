"""Concurrency-group rules shared by every store adapter: who launches, who waits, who is cancelled.

A group is one record holding its active members (the invocations admitted and not yet finished)
and ``latest``, the newest order ever admitted. An invocation's *order* is a sortable text (when
its event was received, then its idempotency key), so "newer" never depends on the order in which
messages happen to be delivered. Each adapter reads the record, applies a rule here and writes the
result back conditionally (SQLite's write lock, a Firestore precondition), so concurrent
invocations of one group are serialised and a redelivered invocation gets the answer it got
before.

Member statuses: ``LAUNCHING`` (admitted, creating its run), ``RUNNING`` (its run exists),
``QUEUED`` (waiting; its run request is kept to start it later) and ``RESERVED`` (a slot freed
for it; its run request is being handed to launch again).

Two gates can hold an invocation back whatever the policy: a rate limit (at most N launches in
any window; the launches of the last window are kept in the record) and a debounce (an invocation
waits its window out, and a newer one arriving meanwhile takes its place). A gated invocation
waits as ``QUEUED`` with the time before which it may not start (``not_before``); the record says
when its first waiting member may next be started (:meth:`GroupState.due_at`), and the status
stage's tick starts it then (:func:`promote`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from kfp_triggers.adapters.store._time import format_time, parse_time

LAUNCHING = "LAUNCHING"
RUNNING = "RUNNING"
QUEUED = "QUEUED"
RESERVED = "RESERVED"
_ACTIVE = (LAUNCHING, RUNNING, RESERVED)

LAUNCH = "launch"
QUEUE = "queued"
SKIP = "skipped"
SUPERSEDE = "superseded"


@dataclass(frozen=True)
class GroupRules:
    """How a group behaves: its policy, its run limit and its gates (see the module docstring)."""

    policy: str
    max_running: int = 1
    rate_limit: int = 0
    rate_window_s: float = 0.0
    debounce_s: float = 0.0

    @property
    def slots(self) -> int | None:
        """How many runs may hold a slot at once; ``None`` when the policy does not count them."""
        return self.max_running if self.policy in ("queue", "queue-latest") else None


@dataclass(frozen=True)
class GroupMember:
    """One invocation in a group: its idempotency key, event, trigger, order and where it stands."""

    key: str
    event_id: str
    order: str
    status: str = LAUNCHING
    trigger: str = ""
    run_id: str | None = None
    request: dict[str, Any] | None = None
    reserved_at: datetime | None = None
    not_before: datetime | None = None
    # The members this one displaced, kept until its run exists, so that a redelivery of an
    # invocation whose cancellations failed half-way cancels them again.
    displaced: tuple[GroupMember, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The member as stored."""
        return {
            "key": self.key,
            "eventID": self.event_id,
            "order": self.order,
            "status": self.status,
            "trigger": self.trigger,
            "runID": self.run_id,
            "request": self.request,
            "reservedAt": format_time(self.reserved_at) if self.reserved_at else None,
            "notBefore": format_time(self.not_before) if self.not_before else None,
            "displaced": [m.to_json() for m in self.displaced],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroupMember:
        """Inverse of :meth:`to_json`."""
        reserved = data.get("reservedAt")
        return cls(
            key=str(data["key"]),
            event_id=str(data["eventID"]),
            order=str(data["order"]),
            status=str(data["status"]),
            trigger=str(data.get("trigger") or ""),
            run_id=data.get("runID"),
            request=data.get("request"),
            reserved_at=parse_time(reserved) if reserved else None,
            not_before=parse_time(data["notBefore"]) if data.get("notBefore") else None,
            displaced=tuple(GroupMember.from_json(m) for m in data.get("displaced") or []),
        )


@dataclass(frozen=True)
class GroupState:
    """A group's record: its policy, its run limit, the newest order admitted, its active members."""

    rules: GroupRules
    latest: str = ""
    members: dict[str, GroupMember] = field(default_factory=dict)
    launches: tuple[datetime, ...] = ()  # when runs were started, within the rate window

    def dumps(self) -> str:
        """The record as stored (JSON text)."""
        members = [m.to_json() for m in sorted(self.members.values(), key=lambda m: m.order)]
        rules = self.rules
        data = {
            "policy": rules.policy,
            "maxRunning": rules.max_running,
            "rateLimit": rules.rate_limit,
            "rateWindowS": rules.rate_window_s,
            "debounceS": rules.debounce_s,
            "latest": self.latest,
            "launches": [format_time(t) for t in self.launches],
            "members": members,
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> GroupState:
        """Inverse of :meth:`dumps`."""
        data = json.loads(text)
        rules = GroupRules(
            str(data["policy"]),
            int(data["maxRunning"]),
            int(data.get("rateLimit") or 0),
            float(data.get("rateWindowS") or 0.0),
            float(data.get("debounceS") or 0.0),
        )
        members = {m["key"]: GroupMember.from_json(m) for m in data.get("members") or []}
        launches = tuple(parse_time(t) for t in data.get("launches") or [])
        return cls(rules, str(data.get("latest") or ""), members, launches)

    def active(self) -> list[GroupMember]:
        """Members holding a slot (launching, running or reserved), oldest first."""
        return sorted((m for m in self.members.values() if m.status in _ACTIVE), key=lambda m: m.order)

    def queued(self) -> list[GroupMember]:
        """Members waiting for a slot, oldest first."""
        return sorted((m for m in self.members.values() if m.status == QUEUED), key=lambda m: m.order)

    def recent_launches(self, now: datetime) -> tuple[datetime, ...]:
        """The launches that still count against the rate limit at ``now``."""
        if not self.rules.rate_limit:
            return ()
        return tuple(t for t in self.launches if (now - t).total_seconds() < self.rules.rate_window_s)

    def budget_at(self, now: datetime) -> datetime | None:
        """When the rate limit next allows a launch: ``None`` when it allows one at ``now``."""
        recent = sorted(self.recent_launches(now))
        if len(recent) < self.rules.rate_limit or not self.rules.rate_limit:
            return None
        return recent[-self.rules.rate_limit] + timedelta(seconds=self.rules.rate_window_s)

    def due_at(self, now: datetime) -> datetime | None:
        """When the first waiting member may be started by a tick; ``None`` when no time will do.

        A member held only by a full group waits for a run to end, not for a time.
        """
        queued = self.queued()
        if not queued:
            return None
        slots = self.rules.slots
        if slots is not None and len(self.active()) >= slots:
            return None
        times = [t for t in (queued[0].not_before, self.budget_at(now)) if t is not None]
        return max(times) if times else now

    def reserved_since(self) -> datetime | None:
        """When the oldest reservation was made (``None``: no member is reserved)."""
        times = [m.reserved_at for m in self.members.values() if m.status == RESERVED and m.reserved_at]
        return min(times) if times else None


@dataclass(frozen=True)
class Admission:
    """What the group decided for an invocation.

    ``verdict`` is ``launch``, ``queued``, ``skipped`` or ``superseded``. ``by`` is the member the
    invocation queued behind, was skipped for or was superseded by (when known). ``displaced``
    are the members this admission pushed out: runs to cancel (``cancel-in-progress``) or a queued
    invocation replaced by this newer one (``queue-latest``).
    """

    verdict: str
    by: GroupMember | None = None
    displaced: tuple[GroupMember, ...] = ()
    until: datetime | None = None  # a gate holds it back until then (rate limit, debounce)


def admit(
    state: GroupState | None, member: GroupMember, rules: GroupRules, now: datetime
) -> tuple[Admission, GroupState]:
    """Admit ``member`` into the group under ``rules`` at ``now``; the answer and the group's new record.

    An invocation already in the group gets its standing back (a redelivery, or a reserved
    member's run request coming back to launch).
    """
    group = replace(state, rules=rules) if state is not None else GroupState(rules)
    existing = group.members.get(member.key)
    if existing is not None:
        return _readmit(group, existing)
    policy = rules.policy
    newest = group.latest
    latest = max(newest, member.order)
    active = [m for m in group.active() if m.key != member.key]
    if policy == "skip":
        if active:
            return Admission(SKIP, active[0]), group
        return Admission(LAUNCH), _launching(group, member, latest, now)
    obsolete = policy in ("cancel-in-progress", "queue-latest") or rules.debounce_s > 0
    if obsolete and newest > member.order:
        # A newer invocation was admitted already: this one is obsolete, however late it came.
        return Admission(SUPERSEDE, _member_of_order(group, newest)), group
    queued = group.queued()
    budget = group.budget_at(now)
    if rules.debounce_s > 0 or budget is not None:
        # Held back by a gate: it waits, and under a debounce (or queue-latest) it alone waits.
        until = now + timedelta(seconds=rules.debounce_s) if rules.debounce_s > 0 else None
        waiting = replace(member, status=QUEUED, not_before=until)
        only_one = rules.debounce_s > 0 or policy in ("queue-latest", "cancel-in-progress")
        members = {k: m for k, m in group.members.items() if not (only_one and m.status == QUEUED)}
        members[member.key] = waiting
        displaced = tuple(queued) if only_one else ()
        ahead = None if only_one or not queued else queued[0]
        gate = max(t for t in (until, budget) if t is not None)
        return Admission(QUEUE, ahead or (active[0] if active else None), displaced, gate), replace(
            group, latest=latest, members=members
        )
    if policy == "cancel-in-progress":
        admitted, displaced = _displacing(group, member)
        fresh = replace(group, latest=latest, members={member.key: admitted})
        return Admission(LAUNCH, displaced=displaced), _count_launch(fresh, now)
    slots = rules.slots
    if (slots is None or len(active) < slots) and not queued:
        return Admission(LAUNCH), _launching(group, member, latest, now)
    if policy == "queue-latest" and queued:
        members = {k: m for k, m in group.members.items() if m.status != QUEUED}
        members[member.key] = replace(member, status=QUEUED)
        return Admission(QUEUE, active[0] if active else None, tuple(queued)), replace(
            group, latest=latest, members=members
        )
    ahead = active[0] if active else queued[0]
    return Admission(QUEUE, ahead), _with(group, replace(member, status=QUEUED), latest)


def started(state: GroupState | None, key: str, run_id: str) -> tuple[bool, GroupState | None]:
    """Record that ``key``'s run exists; False when the key was displaced meanwhile (cancel its run)."""
    if state is None or key not in state.members:
        return False, None
    member = replace(
        state.members[key], status=RUNNING, run_id=run_id, request=None, reserved_at=None, displaced=()
    )
    return True, replace(state, members={**state.members, key: member})


def leave(state: GroupState | None, key: str, now: datetime) -> tuple[list[GroupMember], GroupState | None]:
    """Remove ``key`` (its run ended, or it will never launch); the waiting members now given a slot.

    The members returned are ``RESERVED``: the caller hands their run requests to launch again.
    """
    if state is None:
        return [], None
    group = replace(state, members={k: m for k, m in state.members.items() if k != key})
    promoted, after = promote(group, now)
    if key not in state.members and not promoted:
        return [], None  # nothing to write
    return promoted, after


def promote_if_any(state: GroupState | None, now: datetime) -> tuple[list[GroupMember], GroupState | None]:
    """:func:`promote` for a group that may not exist (nothing to write then)."""
    return ([], None) if state is None else promote(state, now)


def promote(state: GroupState, now: datetime) -> tuple[list[GroupMember], GroupState]:
    """Reserve a slot for each waiting member, in order, that its gates and the group's slots allow.

    A reserved member's start counts against the rate limit from now on.
    """
    group = state
    promoted: list[GroupMember] = []
    for waiting in state.queued():
        slots = group.rules.slots
        if slots is not None and len(group.active()) >= slots:
            break
        if (waiting.not_before is not None and now < waiting.not_before) or group.budget_at(now) is not None:
            break
        reserved = replace(waiting, status=RESERVED, reserved_at=now, not_before=None)
        group = _count_launch(replace(group, members={**group.members, waiting.key: reserved}), now)
        promoted.append(reserved)
    return promoted, group


def due(state: GroupState, now: datetime | None) -> datetime | None:
    """When a tick should next try to start the group's waiting members (``None``: no time will do).

    Without ``now`` the latest launch stands in for it: the time found is then never later than
    the true one, so a tick is at worst early and tries again.
    """
    at = now or max(state.launches, default=None) or datetime(1970, 1, 1, tzinfo=UTC)
    return state.due_at(at)


def members_of(state: GroupState | None) -> list[GroupMember]:
    """A group's members, oldest first."""
    return [] if state is None else sorted(state.members.values(), key=lambda m: m.order)


def stale_reservations(state: GroupState, before: datetime) -> list[GroupMember]:
    """Reserved members whose hand-off to launch should have arrived before ``before``."""
    return [
        m for m in state.members.values() if m.status == RESERVED and m.reserved_at and m.reserved_at < before
    ]


def _readmit(group: GroupState, existing: GroupMember) -> tuple[Admission, GroupState]:
    if existing.status == QUEUED:
        active = group.active()
        return Admission(QUEUE, active[0] if active else None), group
    if existing.status == RESERVED:
        if group.rules.policy == "cancel-in-progress":  # it waited out a gate: now it displaces the rest
            admitted, displaced = _displacing(group, existing)
            return Admission(LAUNCH, displaced=displaced), replace(group, members={existing.key: admitted})
        members = {**group.members, existing.key: replace(existing, status=LAUNCHING, reserved_at=None)}
        return Admission(LAUNCH), replace(group, members=members)
    # Launching (or running): what it displaced is cancelled again, in case that was cut short.
    return Admission(LAUNCH, displaced=existing.displaced), group


def _displacing(group: GroupState, member: GroupMember) -> tuple[GroupMember, tuple[GroupMember, ...]]:
    """``member`` launching alone in the group, and everyone else it displaces."""
    displaced = tuple(
        replace(m, displaced=(), request=None)
        for m in sorted(group.members.values(), key=lambda m: m.order)
        if m.key != member.key
    )
    return replace(
        member, status=LAUNCHING, reserved_at=None, not_before=None, displaced=displaced
    ), displaced


def _launching(group: GroupState, member: GroupMember, latest: str, now: datetime) -> GroupState:
    return _count_launch(_with(group, replace(member, status=LAUNCHING), latest), now)


def _count_launch(group: GroupState, now: datetime) -> GroupState:
    """``group`` with a launch at ``now`` counted against its rate limit (when it has one)."""
    if not group.rules.rate_limit:
        return group
    return replace(group, launches=(*group.recent_launches(now), now))


def _with(group: GroupState, member: GroupMember, latest: str) -> GroupState:
    return replace(group, latest=latest, members={**group.members, member.key: member})


def _member_of_order(group: GroupState, order: str) -> GroupMember | None:
    return next((m for m in group.members.values() if m.order == order), None)


T = TypeVar("T")


class GroupRecords:
    """A store's concurrency-group methods, over the one read-modify-write each store provides.

    A store implements :meth:`_group_change` (read a group's record, let a rule answer and change
    it, write it back only if nobody changed it meanwhile); the rules above do the rest, the same
    for every store.
    """

    def _group_change(
        self,
        group: str,
        change: Callable[[GroupState | None], tuple[T, GroupState | None]],
        now: datetime | None = None,
    ) -> T:
        raise NotImplementedError

    def admit_to_group(self, group: str, member: GroupMember, rules: GroupRules, now: datetime) -> Admission:
        """Admit ``member`` (see :func:`admit`)."""
        return self._group_change(group, lambda state: admit(state, member, rules, now), now)

    def group_run_started(self, group: str, key: str, run_id: str) -> bool:
        """Mark ``key`` running (see :func:`started`)."""
        return self._group_change(group, lambda state: started(state, key, run_id))

    def leave_group(self, group: str, key: str, now: datetime) -> list[GroupMember]:
        """Remove ``key`` and reserve slots for the next waiting members (see :func:`leave`)."""
        return self._group_change(group, lambda state: leave(state, key, now), now)

    def promote_group(self, group: str, now: datetime) -> list[GroupMember]:
        """Reserve slots for the waiting members the gates now allow (see :func:`promote`)."""
        return self._group_change(group, lambda state: promote_if_any(state, now), now)
