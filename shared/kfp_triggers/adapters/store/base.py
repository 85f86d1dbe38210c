"""The store port: event journal, idempotency ledger and run records, and their record types.

Stages are stateless and delivery is at-least-once, so everything a stage remembers lives here:

* the **journal** keeps the whole story of an event (the request, every trigger's interceptor
  decisions, bound params, rendered resources, the run it launched) so that ``events show`` and
  ``replay`` can explain and repeat it. A request is written once and never replaced: a second
  request claiming the same eventID with another body or for another listener is journalled as an
  event of its own (see :meth:`EventJournal.record_event`). The later records are keyed by event and
  trigger, so a redelivered stage that writes the same record again replaces its own copy;
* the **ledger** makes launching exactly-once: a launcher first *claims* the idempotency key with a
  lease (an in-progress record with an expiry, as Powertools' idempotency utility does), creates the
  run, then *completes* the key with the run id. A second claimer sees ``in_progress`` (retry later)
  or ``completed`` (reuse the stored result), and a crashed holder's lease can be taken over once it
  has expired. Claims are conditional writes, so two concurrent claimers cannot both acquire;
* the **runs** table tracks each launched run; :meth:`RunStore.record_state` is a compare-and-set
  that reports a transition only once, so status updates and notifications happen on changes only.

Times are timezone-aware UTC datetimes, always passed in by the caller (the store has no clock).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from kfp_triggers.adapters.store._groups import Admission, GroupMember, GroupRules
from kfp_triggers.adapters.store._time import format_time, parse_time
from kfp_triggers.errors import KfptError

TERMINAL_STATES = frozenset({"SUCCEEDED", "SKIPPED", "FAILED", "CANCELED"})
"""KFP ``RuntimeState`` names after which a run no longer changes by itself."""


class StoreError(KfptError):
    """The store refused a request or answered something unusable; retrying will not help."""


class StoreUnavailableError(StoreError):
    """The store could not be reached or was overloaded (timeouts, 429, 5xx); retry later."""

    retryable = True


class LeaseLostError(StoreError):
    """The caller no longer holds the ledger claim it tries to complete or release."""


class RunNotFoundError(StoreError, LookupError):
    """No run record exists under the given run id."""


class InvalidStoreUrlError(StoreError, ValueError):
    """A store URL (``KFPT_STORE``) is malformed or names an unknown kind of store."""


@dataclass(frozen=True)
class TriggerDecision:
    """One trigger's interceptor chain outcome for an event, as intercept journals it."""

    trigger: str
    group: str | None
    decisions: list[dict[str, Any]]
    accepted: bool
    extensions: dict[str, Any]
    error: str | None


@dataclass(frozen=True)
class TriggerRecord:
    """What happened to one event under one trigger, stage by stage (``None``: not reached yet)."""

    trigger: str
    group: str | None = None
    decided: bool = False
    accepted: bool | None = None
    decisions: list[dict[str, Any]] = field(default_factory=list)
    extensions: dict[str, Any] = field(default_factory=dict)
    decision_error: str | None = None
    rendered: bool = False
    params: dict[str, Any] | None = None
    resources: list[dict[str, Any]] | None = None
    idempotency_key: str | None = None
    render_error: str | None = None
    launched: bool = False
    run_id: str | None = None
    backend: str | None = None
    launch_error: str | None = None
    run_state: str | None = None
    launch_note: str | None = None

    @property
    def error(self) -> str | None:
        """The first stage error recorded for this trigger, if any."""
        return self.decision_error or self.render_error or self.launch_error


@dataclass(frozen=True)
class EventRecord:
    """The whole journalled story of one event.

    ``received_at``/``request`` are ``None`` when a later stage was journalled but the ingest record
    is missing (it was written elsewhere, or is still in flight). Triggers are sorted by name.
    """

    event_id: str
    listener: str | None
    received_at: datetime | None
    request: dict[str, Any] | None
    config_version: str | None
    triggers: tuple[TriggerRecord, ...] = ()

    def trigger(self, name: str) -> TriggerRecord | None:
        """The record of trigger ``name``, if that trigger was journalled for this event."""
        return next((t for t in self.triggers if t.trigger == name), None)


@dataclass(frozen=True)
class EventSummary:
    """One line of ``events list``: who received what, which triggers accepted, which runs resulted."""

    event_id: str
    listener: str | None
    received_at: datetime | None
    config_version: str | None
    accepted: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()
    run_ids: tuple[str, ...] = ()
    errors: int = 0

    @classmethod
    def of(cls, event: EventRecord) -> EventSummary:
        """Summarise a full event record."""
        return cls(
            event_id=event.event_id,
            listener=event.listener,
            received_at=event.received_at,
            config_version=event.config_version,
            accepted=tuple(t.trigger for t in event.triggers if t.accepted),
            rejected=tuple(t.trigger for t in event.triggers if t.decided and not t.accepted),
            run_ids=tuple(t.run_id for t in event.triggers if t.run_id),
            errors=sum(1 for t in event.triggers if t.error),
        )


class ClaimStatus(StrEnum):
    """The outcome of :meth:`IdempotencyLedger.claim`."""

    ACQUIRED = "acquired"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


@dataclass(frozen=True)
class Claim:
    """The ledger's answer to a claim.

    ``owner`` is who holds the key now (the caller when ``ACQUIRED``). ``takeover`` is true when the
    caller acquired by replacing ``previous_owner``, whose lease had expired: that holder may have
    created a run already, so the caller should check the backend before creating another.
    ``attempt`` counts acquisitions of the key. ``result`` is set when ``COMPLETED``.
    """

    key: str
    status: ClaimStatus
    owner: str
    lease_expires_at: datetime | None = None
    takeover: bool = False
    previous_owner: str | None = None
    attempt: int = 1
    result: dict[str, Any] | None = None

    @property
    def acquired(self) -> bool:
        """True when the caller now holds the key and must complete or release it."""
        return self.status is ClaimStatus.ACQUIRED

    @property
    def first(self) -> bool:
        """True for the first acquisition of a key no invocation ever held or released.

        Nothing can have been launched for such a key yet, so a launcher may skip asking its
        backend for an existing run (a list query that is a table scan on a KFP server).
        """
        return self.acquired and self.attempt == 1 and not self.takeover

    @property
    def run_id(self) -> str | None:
        """The run id stored with a completed key."""
        value = (self.result or {}).get("run_id")
        return str(value) if value is not None else None

    @property
    def backend(self) -> str | None:
        """The backend stored with a completed key."""
        value = (self.result or {}).get("backend")
        return str(value) if value is not None else None


@dataclass(frozen=True)
class RunRecord:
    """One launched run, as ``runs list``/``runs show`` print it (see :meth:`to_json`)."""

    run_id: str
    event_id: str
    listener: str
    trigger: str
    backend: str
    state: str
    created_at: datetime
    updated_at: datetime
    run_url: str | None = None
    idempotency_key: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def terminal(self) -> bool:
        """True once the run's state can no longer change by itself."""
        return self.state in TERMINAL_STATES

    def to_json(self) -> dict[str, Any]:
        """The public JSON shape (DESIGN section 6) with camelCase keys and RFC 3339 times."""
        return {
            "runID": self.run_id,
            "eventID": self.event_id,
            "listener": self.listener,
            "trigger": self.trigger,
            "backend": self.backend,
            "state": self.state,
            "createdAt": format_time(self.created_at),
            "updatedAt": format_time(self.updated_at),
            "runURL": self.run_url,
            "idempotencyKey": self.idempotency_key,
            "details": self.details,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRecord:
        """Inverse of :meth:`to_json`."""
        return cls(
            run_id=str(data["runID"]),
            event_id=str(data["eventID"]),
            listener=str(data["listener"]),
            trigger=str(data["trigger"]),
            backend=str(data["backend"]),
            state=str(data["state"]),
            created_at=parse_time(str(data["createdAt"])),
            updated_at=parse_time(str(data["updatedAt"])),
            run_url=data.get("runURL"),
            idempotency_key=data.get("idempotencyKey"),
            details=dict(data.get("details") or {}),
        )


@runtime_checkable
class EventJournal(Protocol):
    """Journal of events and per-trigger decisions; every write replaces its own earlier copy."""

    def record_event(
        self,
        event_id: str,
        listener: str,
        received_at: datetime,
        request: dict[str, Any],
        config_version: str | None,
        *,
        expires_at: datetime | None = None,
    ) -> str:
        """Journal an incoming request once; return the eventID it is journalled and processed under.

        The first request under ``event_id`` is kept for good (until it expires). The same request
        again (same listener, same body: a redelivery) returns ``event_id`` and writes nothing. A
        request for another listener or with another body gets an id of its own,
        :func:`~kfp_triggers.adapters.store._rules.conflict_event_id`, written the same way: it can never
        replace the first one, whose runs and statuses depend on it.

        ``expires_at`` lets the journal forget the event (with its triggers) after that time
        (``None``: kept for good); see :meth:`Store.purge`.
        """

    def first_event_with_body(
        self, listener: str, digest: str, event_id: str, now: datetime, *, expires_at: datetime | None = None
    ) -> str:
        """The first event ``listener`` received with a body of SHA-256 ``digest``.

        When none is recorded (or its record expired before ``now``), ``event_id`` is recorded as
        that first event and returned.

        A webhook signature covers the body and not the delivery id, so a captured request can be
        sent again under a new id; a verified body seen before under another id is a replay.
        """

    def record_decisions(self, event_id: str, outcomes: Sequence[TriggerDecision]) -> None:
        """Record each trigger's interceptor chain outcome (each interceptor's answer, in order).

        One write for the whole event, however many triggers the listener has: a listener of a
        hundred triggers costs one round trip, not a hundred.
        """

    def record_render(
        self,
        event_id: str,
        trigger: str,
        params: dict[str, Any],
        resources: list[dict[str, Any]],
        idempotency_key: str | None,
        error: str | None,
    ) -> None:
        """Record a trigger's bound params and rendered resources (or why rendering failed)."""

    def record_launch(
        self,
        event_id: str,
        trigger: str,
        idempotency_key: str | None,
        run_id: str | None,
        backend: str | None,
        error: str | None,
        note: str | None = None,
    ) -> None:
        """Record the run a trigger launched (or why launching failed); ``note`` says what a policy did."""

    def get_event(self, event_id: str) -> EventRecord | None:
        """The whole story of one event, with the current state of its runs; ``None`` if unknown."""

    def list_events(self, limit: int, listener: str | None = None) -> list[EventSummary]:
        """The most recently received events first, optionally of one listener only."""


@runtime_checkable
class IdempotencyLedger(Protocol):
    """Exactly-once guard: claim a key under a lease, then complete it with the result."""

    def claim(self, key: str, owner: str, lease_s: float, now: datetime) -> Claim:
        """Claim ``key`` for ``owner`` until ``now + lease_s``.

        Acquires when the key is new, when its lease has expired (a takeover), when ``owner``
        already holds it (the lease is renewed) or when its completed record has expired.
        """

    def complete(
        self, key: str, owner: str, result: dict[str, Any], *, expires_at: datetime | None = None
    ) -> None:
        """Mark ``key`` done with ``result`` (``run_id``, ``backend``, ...).

        Succeeds only while ``owner`` holds the key (completing twice is fine); an expired lease that
        nobody has taken over is still held. ``expires_at`` lets the record be forgotten later
        (``None``: kept for good).

        Raises:
            LeaseLostError: another owner took the key over, or it was released.
        """

    def adopt(
        self, key: str, owner: str, result: dict[str, Any], *, expires_at: datetime | None = None
    ) -> Claim:
        """Complete ``key`` with ``result`` for a run found on the backend, whoever holds the claim.

        Returns the key's completed claim: ``result`` itself, or the result stored by whoever
        completed it first.
        """

    def release(self, key: str, owner: str) -> None:
        """End ``owner``'s in-progress claim after a failure, so a later attempt may retry.

        The key's record stays, its lease over, so the next claim counts as a later attempt (its
        :attr:`Claim.first` is false) and checks the backend for a run this attempt may have
        created. Releasing a key that does not exist is a no-op.

        Raises:
            LeaseLostError: the key is held by another owner or already completed.
        """


@runtime_checkable
class RunStore(Protocol):
    """Records of launched runs and their state."""

    def upsert_run(self, run: RunRecord) -> None:
        """Insert or replace a run record (an existing record keeps its ``created_at``)."""

    def get_run(self, run_id: str) -> RunRecord | None:
        """One run record, or ``None``."""

    def list_runs(
        self, limit: int, state: str | None = None, non_terminal_only: bool = False
    ) -> list[RunRecord]:
        """The most recently created runs first, optionally filtered by state or to live runs only."""

    def record_state(self, run_id: str, state: str, at: datetime) -> str | None:
        """Compare-and-set a run's state observed at ``at``.

        Returns the previous state when the state changed, ``None`` when it was already ``state``
        or when the stored record was updated after ``at`` (a stale observation).

        Raises:
            RunNotFoundError: no such run.
        """


@runtime_checkable
@runtime_checkable
class ConcurrencyGroups(Protocol):
    """Concurrency groups: who may launch, who waits and who is displaced (see :mod:`._groups`)."""

    def admit_to_group(self, group: str, member: GroupMember, rules: GroupRules, now: datetime) -> Admission:
        """Admit an invocation into ``group`` under ``rules`` (a redelivery gets its earlier answer)."""

    def group_run_started(self, group: str, key: str, run_id: str) -> bool:
        """Record that ``key``'s run exists; False when ``key`` was displaced meanwhile."""

    def leave_group(self, group: str, key: str, now: datetime) -> list[GroupMember]:
        """Remove ``key`` from ``group``; the queued members now reserved a slot, to start again."""

    def stale_reservations(self, before: datetime) -> list[tuple[str, GroupMember]]:
        """Members reserved a slot before ``before`` whose run request has not come back, by group."""

    def group_members(self, group: str) -> list[GroupMember]:
        """The group's members now, oldest first (empty for an unknown group)."""

    def promote_group(self, group: str, now: datetime) -> list[GroupMember]:
        """Reserve a slot for each waiting member its gates now allow; those members, to start again."""

    def due_groups(self, now: datetime) -> list[str]:
        """Groups whose first waiting member may be started at ``now`` (its gate has passed)."""


class Store(EventJournal, IdempotencyLedger, RunStore, ConcurrencyGroups, Protocol):
    """Everything the stages persist, behind one object built by :func:`store_from_url`."""

    def finish_launch(
        self,
        key: str,
        owner: str,
        run: RunRecord,
        *,
        adopt: bool,
        expires_at: datetime | None = None,
        note: str | None = None,
    ) -> bool:
        """Record a launched run, complete its key and journal the launch, in one transaction.

        Does what :meth:`RunStore.upsert_run`, :meth:`IdempotencyLedger.complete` (``adopt``:
        :meth:`IdempotencyLedger.adopt`) and :meth:`EventJournal.record_launch` do, atomically, so
        a crash leaves either all three or none, and it costs one read and one write. The key's
        result is the run's id, backend and URL.

        Returns False when ``owner`` no longer held the key (another invocation took it over or
        adopted the run): the run and the journal are recorded all the same, the key is left as
        the other invocation left it.
        """

    def purge(self, now: datetime, unstamped_before: datetime | None = None) -> int:
        """Forget journal entries and completed ledger records whose expiry has passed.

        ``unstamped_before`` also forgets journal entries written without an expiry (before
        retention existed) that were received before it. Returns how many records went. A store
        whose database expires records itself (Firestore's TTL policies on ``expireAt``) has
        nothing to do here and returns 0.
        """

    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""
