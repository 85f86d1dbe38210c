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
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

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
            displaced=tuple(GroupMember.from_json(m) for m in data.get("displaced") or []),
        )


@dataclass(frozen=True)
class GroupState:
    """A group's record: its policy, its run limit, the newest order admitted, its active members."""

    policy: str
    max_running: int
    latest: str = ""
    members: dict[str, GroupMember] = field(default_factory=dict)

    def dumps(self) -> str:
        """The record as stored (JSON text)."""
        members = [m.to_json() for m in sorted(self.members.values(), key=lambda m: m.order)]
        data = {
            "policy": self.policy,
            "maxRunning": self.max_running,
            "latest": self.latest,
            "members": members,
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str) -> GroupState:
        """Inverse of :meth:`dumps`."""
        data = json.loads(text)
        members = {m["key"]: GroupMember.from_json(m) for m in data.get("members") or []}
        return cls(str(data["policy"]), int(data["maxRunning"]), str(data.get("latest") or ""), members)

    def active(self) -> list[GroupMember]:
        """Members holding a slot (launching, running or reserved), oldest first."""
        return sorted((m for m in self.members.values() if m.status in _ACTIVE), key=lambda m: m.order)

    def queued(self) -> list[GroupMember]:
        """Members waiting for a slot, oldest first."""
        return sorted((m for m in self.members.values() if m.status == QUEUED), key=lambda m: m.order)

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


def admit(
    state: GroupState | None, member: GroupMember, policy: str, max_running: int
) -> tuple[Admission, GroupState]:
    """Admit ``member`` into the group under ``policy``; the answer and the group's new record.

    An invocation already in the group gets its standing back (a redelivery, or a reserved
    member's run request coming back to launch).
    """
    group = state or GroupState(policy, max_running)
    group = replace(group, policy=policy, max_running=max_running)
    existing = group.members.get(member.key)
    if existing is not None:
        return _readmit(group, existing)
    newest = group.latest
    latest = max(newest, member.order)
    active = [m for m in group.active() if m.key != member.key]
    if policy == "skip":
        if active:
            return Admission(SKIP, active[0]), group
        return Admission(LAUNCH), _with(group, replace(member, status=LAUNCHING), latest)
    if policy in ("cancel-in-progress", "queue-latest") and newest > member.order:
        # A newer invocation was admitted already: this one is obsolete, however late it came.
        return Admission(SUPERSEDE, _member_of_order(group, newest)), group
    if policy == "cancel-in-progress":
        displaced = tuple(
            replace(m, displaced=(), request=None)
            for m in sorted(group.members.values(), key=lambda m: m.order)
        )
        admitted = replace(member, status=LAUNCHING, displaced=displaced)
        return Admission(LAUNCH, displaced=displaced), replace(
            group, latest=latest, members={member.key: admitted}
        )
    queued = group.queued()
    if len(active) < group.max_running and not queued:
        return Admission(LAUNCH), _with(group, replace(member, status=LAUNCHING), latest)
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
    """Remove ``key`` (its run ended, or it will never launch); the queued members now given a slot.

    The members returned are ``RESERVED``: the caller hands their run requests to launch again.
    """
    if state is None:
        return [], None
    members = {k: m for k, m in state.members.items() if k != key}
    group = replace(state, members=members)
    promoted: list[GroupMember] = []
    free = group.max_running - len(group.active())
    for waiting in group.queued()[: max(free, 0)] if state.policy in ("queue", "queue-latest") else []:
        reserved = replace(waiting, status=RESERVED, reserved_at=now)
        members[waiting.key] = reserved
        promoted.append(reserved)
    if key not in state.members and not promoted:
        return [], None  # nothing to write
    return promoted, replace(group, members=members)


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
        members = {**group.members, existing.key: replace(existing, status=LAUNCHING, reserved_at=None)}
        return Admission(LAUNCH), replace(group, members=members)
    # Launching (or running): what it displaced is cancelled again, in case that was cut short.
    return Admission(LAUNCH, displaced=existing.displaced), group


def _with(group: GroupState, member: GroupMember, latest: str) -> GroupState:
    return replace(group, latest=latest, members={**group.members, member.key: member})


def _member_of_order(group: GroupState, order: str) -> GroupMember | None:
    return next((m for m in group.members.values() if m.order == order), None)
