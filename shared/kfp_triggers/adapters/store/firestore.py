"""The store on Firestore (native mode), spoken over REST with the standard library only.

Document layout (document ids are the raw ids when they are plain, else ``~`` + base64url):

* ``kfpt_events/{eventId}``: ``eventID``, ``listener``, ``receivedAt`` (timestamp), ``request``
  (without its body, replaced by ``bodyOmitted: {bytes, sha256}``, when over 512 KiB),
  ``bodySha256``, ``configVersion``, ``expireAt`` (a TTL policy may use it), and ``triggers``: a map
  from trigger name to ``{decision, render, launch}`` maps. The request fields are written once,
  by a conditional commit, and never replaced (a conflicting request gets a document of its own);
  each stage overwrites only its own trigger map through an update mask, so a redelivered stage
  replaces its record and concurrent stages never overwrite each other.
* ``kfpt_bodies/{sha256(listener, body digest)}``: ``listener``, ``digest``, ``eventID`` (the first
  event with that body), ``expireAt``.
* ``kfpt_ledger/{key}``: ``key``, ``status`` (``IN_PROGRESS``/``COMPLETED``), ``owner``,
  ``leaseExpiresAt``, ``attempt``, ``result``, ``expireAt`` (a TTL policy may use it).
* ``kfpt_runs/{runId}``: ``runID``, ``eventID``, ``listener``, ``trigger``, ``backend``, ``state``,
  ``terminal`` (bool), ``createdAt``, ``updatedAt``, ``runURL``, ``idempotencyKey``, ``details``.

Opaque JSON payloads (request, decisions, extensions, params, resources, details, result) are stored
as JSON text: Firestore forbids arrays directly inside arrays and caps nesting depth, and arbitrary
webhook bodies break both rules. Read-modify-writes (ledger claims, run-state compare-and-set, run
upserts) are conditional commits: ``currentDocument.exists=false`` to create, ``updateTime`` to change
what was read; a failed precondition re-reads and decides again. Filtered listings use equality
filters only and sort on the client, so no composite index has to be deployed first.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from kfp_triggers.adapters.store import _firestore_docs as docs
from kfp_triggers.adapters.store import _groups, _rules
from kfp_triggers.adapters.store._firestore_rest import (
    ConflictError,
    FirestoreClient,
    decode_fields,
    encode_fields,
    field_path,
)
from kfp_triggers.adapters.store._groups import GroupMember, GroupState
from kfp_triggers.adapters.store._time import format_time, utc
from kfp_triggers.adapters.store.base import (
    TERMINAL_STATES,
    Claim,
    EventRecord,
    EventSummary,
    RunNotFoundError,
    RunRecord,
    StoreError,
    StoreUnavailableError,
    TriggerDecision,
)

EVENTS = "kfpt_events"
BODIES = "kfpt_bodies"
LEDGER = "kfpt_ledger"
RUNS = "kfpt_runs"
GROUPS = "kfpt_groups"
_MAX_ATTEMPTS = 25
# A document holds at most 1 MiB; the request shares its event's document with the triggers' records.
JOURNAL_REQUEST_LIMIT = 512 * 1024
_SUMMARY_FIELDS = ("eventID", "listener", "receivedAt", "configVersion", "triggers")

T = TypeVar("T")


Write = dict[str, Any] | None
"""What a compare-and-set decides: the document's new fields, or nothing to write."""


class FirestoreStore(_groups.GroupRecords):
    """A :class:`~kfp_triggers.adapters.store.base.Store` in a Firestore database.

    ``emulator_host`` (default: ``FIRESTORE_EMULATOR_HOST``) points it at an emulator, which takes
    the ``owner`` token; otherwise it authenticates with Application Default Credentials or the
    metadata server.
    """

    def __init__(
        self,
        project: str,
        database: str = "(default)",
        emulator_host: str | None = None,
        *,
        timeout_s: float = 10.0,
    ) -> None:
        host = emulator_host or os.environ.get("FIRESTORE_EMULATOR_HOST") or None
        self.project, self.database, self.emulator_host = project, database, host
        self._client = FirestoreClient(project, database, host, timeout_s=timeout_s)

    def purge(self, now: datetime, unstamped_before: datetime | None = None) -> int:
        """Nothing to do: TTL policies on ``expireAt`` (see infra/terraform) delete expired documents."""
        return 0

    def close(self) -> None:
        """Nothing to release: every request opens and closes its own connection."""

    # -- plumbing ----------------------------------------------------------------------------

    def _patch(self, name: str, fields: dict[str, Any], paths: list[str]) -> None:
        """Overwrite exactly ``paths`` of a document (creating it if needed), unconditionally."""
        update = {"name": name, "fields": encode_fields(fields)}
        self._client.commit([{"update": update, "updateMask": {"fieldPaths": paths}}])

    def _cas(
        self,
        name: str,
        decide: Callable[[dict[str, Any] | None], tuple[T, Write]],
        *,
        likely_new: bool = False,
    ) -> T:
        """Read a document, let ``decide`` answer and pick a write, commit it only if unchanged.

        ``likely_new``: the document usually does not exist yet (a new event, claim or run), so
        the write for a missing document is tried first, as a create, without reading: one round
        trip instead of two; when the document exists after all, the create fails and the usual
        read-decide-commit loop takes over.
        """
        if likely_new:
            result, write = decide(None)
            if write is not None:
                create = {
                    "update": {"name": name, "fields": encode_fields(write)},
                    "currentDocument": {"exists": False},
                }
                try:
                    self._client.commit([create])
                except ConflictError:
                    pass  # it exists: read it and decide again below
                else:
                    return result
        for _ in range(_MAX_ATTEMPTS):
            doc = self._client.get(name)
            result, write = decide(None if doc is None else decode_fields(doc.get("fields", {})))
            if write is None:
                return result
            try:
                self._client.commit([_conditional(name, write, doc)])
            except ConflictError:
                continue
            return result
        raise StoreUnavailableError(f"too much contention on {name}; retry later")

    def _query(
        self,
        collection: str,
        filters: list[dict[str, Any]],
        order: str,
        limit: int,
        select: tuple[str, ...] = (),
    ) -> list[dict[str, Any]]:
        """Documents of ``collection``: newest ``limit`` by ``order`` when unfiltered, else all matches."""
        query: dict[str, Any] = {"from": [{"collectionId": collection}]}
        if select:
            query["select"] = {"fields": [{"fieldPath": f} for f in select]}
        if len(filters) == 1:
            query["where"] = filters[0]
        elif filters:
            query["where"] = {"compositeFilter": {"op": "AND", "filters": filters}}
        else:
            query["orderBy"] = [
                {"field": {"fieldPath": order}, "direction": "DESCENDING"},
                {"field": {"fieldPath": "__name__"}, "direction": "DESCENDING"},
            ]
            query["limit"] = limit
        return [decode_fields(doc.get("fields", {})) for doc in self._client.run_query(query)]

    # -- journal -----------------------------------------------------------------------------

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
        """Write the request fields once (see :meth:`EventJournal.record_event`); the id kept under.

        A document that holds only trigger records (a later stage journalled before this one, or
        the request's retention ran out) gets the request fields added, its triggers kept.
        """
        digest = _rules.request_digest(request)
        fields = {
            "eventID": event_id,
            "listener": listener,
            "receivedAt": utc(received_at),
            "request": _rules.journal_request(request, JOURNAL_REQUEST_LIMIT),
            "bodySha256": digest,
            "configVersion": config_version,
            "expireAt": utc(expires_at) if expires_at is not None else None,
        }
        for candidate in (event_id, _rules.conflict_event_id(event_id, listener, digest)):

            def decide(stored: dict[str, Any] | None, candidate: str = candidate) -> tuple[bool, Write]:
                if stored is None or not stored.get("request"):
                    return True, {**(stored or {}), **fields, "eventID": candidate}
                stored_digest = stored.get("bodySha256") or _rules.request_digest(
                    _rules.loads(stored.get("request")) or {}
                )
                return _rules.same_request(stored.get("listener"), stored_digest, listener, digest), None

            if self._cas(self._client.name(EVENTS, candidate), decide, likely_new=True):
                return candidate
        raise StoreError(f"event {event_id!r}: its conflict id is held by yet another request")

    def first_event_with_body(
        self, listener: str, digest: str, event_id: str, now: datetime, *, expires_at: datetime | None = None
    ) -> str:
        """The first event of ``listener`` with this body digest (see :class:`EventJournal`)."""
        fields = {
            "listener": listener,
            "digest": digest,
            "eventID": event_id,
            "expireAt": utc(expires_at) if expires_at is not None else None,
        }

        def decide(stored: dict[str, Any] | None) -> tuple[str, Write]:
            expired = (
                stored is not None and stored.get("expireAt") is not None and stored["expireAt"] <= utc(now)
            )
            if stored is None or expired:
                return event_id, fields
            return str(stored.get("eventID")), None

        return self._cas(
            self._client.name(BODIES, _rules.body_key(listener, digest)), decide, likely_new=True
        )

    def _patch_trigger(self, event_id: str, trigger: str, stage: str, part: dict[str, Any]) -> None:
        fields = {"eventID": event_id, "triggers": {trigger: {stage: part}}}
        paths = ["eventID", field_path("triggers", trigger, stage)]
        self._patch(self._client.name(EVENTS, event_id), fields, paths)

    def record_decisions(self, event_id: str, outcomes: Sequence[TriggerDecision]) -> None:
        """Overwrite ``triggers.<trigger>.decision`` of every trigger in ``outcomes``, in one commit."""
        if not outcomes:
            return
        triggers: dict[str, Any] = {}
        paths = ["eventID"]
        for outcome in outcomes:
            triggers[outcome.trigger] = {
                "decision": {
                    "group": outcome.group,
                    "accepted": outcome.accepted,
                    "decisions": _rules.dumps(outcome.decisions),
                    "extensions": _rules.dumps(outcome.extensions),
                    "error": outcome.error,
                }
            }
            paths.append(field_path("triggers", outcome.trigger, "decision"))
        fields = {"eventID": event_id, "triggers": triggers}
        self._patch(self._client.name(EVENTS, event_id), fields, paths)

    def record_render(
        self,
        event_id: str,
        trigger: str,
        params: dict[str, Any],
        resources: list[dict[str, Any]],
        idempotency_key: str | None,
        error: str | None,
    ) -> None:
        """Overwrite ``triggers.<trigger>.render``."""
        part = {
            "params": _rules.dumps(params),
            "resources": _rules.dumps(resources),
            "idempotencyKey": idempotency_key,
            "error": error,
        }
        self._patch_trigger(event_id, trigger, "render", part)

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
        """Overwrite ``triggers.<trigger>.launch``."""
        part = {
            "idempotencyKey": idempotency_key,
            "runID": run_id,
            "backend": backend,
            "error": error,
            "note": note,
        }
        self._patch_trigger(event_id, trigger, "launch", part)

    def get_event(self, event_id: str) -> EventRecord | None:
        """The event document, with the current state of the runs it led to."""
        doc = self._client.get(self._client.name(EVENTS, event_id))
        if doc is None:
            return None
        fields = decode_fields(doc.get("fields", {}))
        run_ids = [run_id for p in (fields.get("triggers") or {}).values() if (run_id := docs.run_of(p))]
        runs = self._client.batch_get([self._client.name(RUNS, r) for r in run_ids])
        states = {
            str(f.get("runID")): str(f.get("state"))
            for f in (decode_fields(d.get("fields", {})) for d in runs.values())
        }
        return docs.event_record(event_id, fields, states)

    def list_events(self, limit: int, listener: str | None = None) -> list[EventSummary]:
        """Newest events first (by ``receivedAt``)."""
        filters = [] if listener is None else [docs.equal("listener", listener)]
        found = self._query(EVENTS, filters, "receivedAt", limit, _SUMMARY_FIELDS)
        events = [docs.event_record(str(f.get("eventID")), f, {}) for f in found if f.get("receivedAt")]
        events.sort(key=lambda e: (e.received_at, e.event_id), reverse=True)
        return [EventSummary.of(event) for event in events[:limit]]

    # -- ledger ------------------------------------------------------------------------------

    def claim(self, key: str, owner: str, lease_s: float, now: datetime) -> Claim:
        """Claim ``key`` with a conditional commit (see :meth:`IdempotencyLedger.claim`)."""

        def decide(fields: dict[str, Any] | None) -> tuple[Claim, Write]:
            claim, write = _rules.decide_claim(docs.ledger_entry(key, fields), key, owner, lease_s, now)
            return claim, None if write is None else docs.ledger_fields(write)

        return self._cas(self._client.name(LEDGER, key), decide, likely_new=True)

    def complete(
        self, key: str, owner: str, result: dict[str, Any], *, expires_at: datetime | None = None
    ) -> None:
        """Mark ``key`` completed by ``owner`` with ``result``."""

        def decide(fields: dict[str, Any] | None) -> tuple[None, Write]:
            entry = _rules.completed_entry(docs.ledger_entry(key, fields), key, owner, result, expires_at)
            return None, docs.ledger_fields(entry)

        self._cas(self._client.name(LEDGER, key), decide)

    def adopt(
        self, key: str, owner: str, result: dict[str, Any], *, expires_at: datetime | None = None
    ) -> Claim:
        """Complete ``key`` for a run found on the backend (see :meth:`IdempotencyLedger.adopt`)."""

        def decide(fields: dict[str, Any] | None) -> tuple[Claim, Write]:
            claim, write = _rules.adopted(docs.ledger_entry(key, fields), key, owner, result, expires_at)
            return claim, None if write is None else docs.ledger_fields(write)

        return self._cas(self._client.name(LEDGER, key), decide)

    def release(self, key: str, owner: str) -> None:
        """End ``owner``'s in-progress claim on ``key`` (see :func:`_rules.released_entry`)."""

        def decide(fields: dict[str, Any] | None) -> tuple[None, Write]:
            released = _rules.released_entry(docs.ledger_entry(key, fields), key, owner)
            return None, None if released is None else docs.ledger_fields(released)

        self._cas(self._client.name(LEDGER, key), decide)

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
        """Record the run, complete or adopt ``key`` and journal the launch: one read, one commit.

        The ledger and run documents are read together; the commit writes both (each on the
        condition that it did not change since) and the event's ``triggers.<trigger>.launch``.
        """
        ledger_name = self._client.name(LEDGER, key)
        run_name = self._client.name(RUNS, run.run_id)
        launch = {
            "idempotencyKey": key,
            "runID": run.run_id,
            "backend": run.backend,
            "error": None,
            "note": note,
        }
        journal = {
            "update": {
                "name": self._client.name(EVENTS, run.event_id),
                "fields": encode_fields(
                    {"eventID": run.event_id, "triggers": {run.trigger: {"launch": launch}}}
                ),
            },
            "updateMask": {"fieldPaths": ["eventID", field_path("triggers", run.trigger, "launch")]},
        }
        for _ in range(_MAX_ATTEMPTS):
            found = self._client.batch_get([ledger_name, run_name])
            ledger, stored_run = found.get(ledger_name), found.get(run_name)
            held, entry = _rules.finished_entry(
                docs.ledger_entry(key, None if ledger is None else decode_fields(ledger.get("fields", {}))),
                key,
                owner,
                run,
                adopt,
                expires_at,
            )
            created = (
                run.created_at if stored_run is None else decode_fields(stored_run["fields"])["createdAt"]
            )
            writes = [_conditional(run_name, docs.run_fields(run, created), stored_run)]
            if entry is not None:
                writes.append(_conditional(ledger_name, docs.ledger_fields(entry), ledger))
            try:
                self._client.commit([*writes, journal])
            except ConflictError:
                continue
            return held
        raise StoreUnavailableError(f"too much contention on {ledger_name}; retry later")

    # -- concurrency groups --------------------------------------------------------------------

    def _group_change(
        self,
        group: str,
        change: Callable[[GroupState | None], tuple[T, GroupState | None]],
        now: datetime | None = None,
    ) -> T:
        def decide(fields: dict[str, Any] | None) -> tuple[T, Write]:
            answer, state = change(None if fields is None else GroupState.loads(str(fields["state"])))
            if state is None:
                return answer, None
            since, due = state.reserved_since(), _groups.due(state, now)
            return answer, {
                "groupID": group,
                "state": state.dumps(),
                "reservedSince": since and utc(since),
                "dueAt": due and utc(due),
            }

        return self._cas(self._client.name(GROUPS, group), decide)

    def due_groups(self, now: datetime) -> list[str]:
        """Groups whose first waiting member may be started at ``now`` (a query on ``dueAt``)."""
        where = {
            "fieldFilter": {
                "field": {"fieldPath": "dueAt"},
                "op": "LESS_THAN_OR_EQUAL",
                "value": {"timestampValue": format_time(now)},
            }
        }
        return [str(f["groupID"]) for f in self._query(GROUPS, [where], "dueAt", 1000, select=("groupID",))]

    def group_members(self, group: str) -> list[GroupMember]:
        """The group's members, oldest first."""
        doc = self._client.get(self._client.name(GROUPS, group))
        fields = None if doc is None else decode_fields(doc.get("fields", {}))
        return _groups.members_of(None if fields is None else GroupState.loads(str(fields["state"])))

    def stale_reservations(self, before: datetime) -> list[tuple[str, GroupMember]]:
        """Reserved members older than ``before``, by group (a query on ``reservedSince``)."""
        where = {
            "fieldFilter": {
                "field": {"fieldPath": "reservedSince"},
                "op": "LESS_THAN",
                "value": {"timestampValue": format_time(before)},
            }
        }
        found = self._query(GROUPS, [where], "reservedSince", 1000)
        return [
            (str(f["groupID"]), m)
            for f in found
            for m in _groups.stale_reservations(GroupState.loads(str(f["state"])), before)
        ]

    # -- runs --------------------------------------------------------------------------------

    def upsert_run(self, run: RunRecord) -> None:
        """Insert or replace ``run`` (keeping the stored ``createdAt`` if there is one)."""

        def decide(fields: dict[str, Any] | None) -> tuple[None, Write]:
            created = run.created_at if fields is None else fields["createdAt"]
            return None, docs.run_fields(run, created)

        self._cas(self._client.name(RUNS, run.run_id), decide, likely_new=True)

    def get_run(self, run_id: str) -> RunRecord | None:
        """One run, or ``None``."""
        doc = self._client.get(self._client.name(RUNS, run_id))
        return None if doc is None else docs.run_record(decode_fields(doc.get("fields", {})))

    def list_runs(
        self, limit: int, state: str | None = None, non_terminal_only: bool = False
    ) -> list[RunRecord]:
        """Newest runs first (by ``createdAt``)."""
        filters = [] if state is None else [docs.equal("state", state)]
        if non_terminal_only:
            filters.append(docs.equal("terminal", False))
        runs = [docs.run_record(fields) for fields in self._query(RUNS, filters, "createdAt", limit)]
        runs.sort(key=lambda r: (r.created_at, r.run_id), reverse=True)
        return runs[:limit]

    def record_state(self, run_id: str, state: str, at: datetime) -> str | None:
        """Compare-and-set the run's state; the previous state on a change, else ``None``."""

        def decide(fields: dict[str, Any] | None) -> tuple[str | None, Write]:
            if fields is None:
                raise RunNotFoundError(f"no run {run_id!r}")
            current = docs.run_record(fields)
            if not _rules.state_changes(current, state, at):
                return None, None
            changed = {**fields, "state": state, "terminal": state in TERMINAL_STATES, "updatedAt": utc(at)}
            return current.state, changed

        return self._cas(self._client.name(RUNS, run_id), decide)


def _conditional(name: str, fields: dict[str, Any], read: dict[str, Any] | None) -> dict[str, Any]:
    """A write of ``fields`` to ``name`` that fails if the document changed since it was ``read``."""
    current = {"exists": False} if read is None else {"updateTime": read["updateTime"]}
    return {"update": {"name": name, "fields": encode_fields(fields)}, "currentDocument": current}
