"""The embedded store: one SQLite file holding the journal, the ledger and the runs.

Several threads and several processes (functions-framework workers, the CLI) may share the file
(see :mod:`kfp_triggers.adapters.store._sqlite_db`). Every read-modify-write (ledger claims, the run-state
compare-and-set, admitting a request to the journal) runs in a ``BEGIN IMMEDIATE`` transaction, which
takes the single write lock before reading, so two claimers can never both see a key free. A request
is journalled once and never replaced; the later journal writes are upserts keyed by event and
trigger, so a redelivered stage replaces its own record. The schema is created on first use and
versioned in ``kfpt_schema``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from kfp_triggers.adapters.store import _groups, _rules
from kfp_triggers.adapters.store._groups import GroupMember, GroupState
from kfp_triggers.adapters.store._rules import LedgerEntry
from kfp_triggers.adapters.store._sqlite_db import SqliteDatabase
from kfp_triggers.adapters.store._time import format_time, parse_time
from kfp_triggers.adapters.store.base import (
    TERMINAL_STATES,
    Claim,
    EventRecord,
    EventSummary,
    RunNotFoundError,
    RunRecord,
    StoreError,
    TriggerDecision,
    TriggerRecord,
)

SCHEMA_VERSION = 5
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, listener TEXT NOT NULL, received_at TEXT NOT NULL,
    request TEXT NOT NULL, config_version TEXT, expires_at TEXT, body_sha256 TEXT);
CREATE INDEX IF NOT EXISTS events_by_expiry ON events (expires_at);
CREATE INDEX IF NOT EXISTS events_by_time ON events (received_at);
CREATE INDEX IF NOT EXISTS events_by_listener ON events (listener, received_at);
CREATE TABLE IF NOT EXISTS event_triggers (
    event_id TEXT NOT NULL, trigger_name TEXT NOT NULL,
    trigger_group TEXT, decided INTEGER NOT NULL DEFAULT 0, accepted INTEGER, decisions TEXT,
    extensions TEXT, decision_error TEXT,
    rendered INTEGER NOT NULL DEFAULT 0, params TEXT, resources TEXT, idempotency_key TEXT,
    render_error TEXT,
    launched INTEGER NOT NULL DEFAULT 0, launch_key TEXT, run_id TEXT, backend TEXT, launch_error TEXT,
    launch_note TEXT,
    PRIMARY KEY (event_id, trigger_name));
CREATE TABLE IF NOT EXISTS concurrency_groups (
    group_id TEXT PRIMARY KEY, state TEXT NOT NULL, reserved_since TEXT, due_at TEXT);
CREATE TABLE IF NOT EXISTS body_digests (
    listener TEXT NOT NULL, digest TEXT NOT NULL, event_id TEXT NOT NULL, expires_at TEXT,
    PRIMARY KEY (listener, digest));
CREATE TABLE IF NOT EXISTS ledger (
    key TEXT PRIMARY KEY, status TEXT NOT NULL, owner TEXT NOT NULL, lease_expires_at TEXT,
    attempt INTEGER NOT NULL, result TEXT, expires_at TEXT);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, event_id TEXT NOT NULL, listener TEXT NOT NULL, trigger_name TEXT NOT NULL,
    backend TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    run_url TEXT, idempotency_key TEXT, details TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs (created_at);
CREATE INDEX IF NOT EXISTS runs_by_state ON runs (state, created_at);
"""

# Version 2: events expire (``expires_at``), so the journal can be purged.
# Version 3: events keep their body's digest, and the first event per (listener, body) is indexed.
# Version 4: concurrency groups, and what a group's policy did to each launch.
# Version 5: when a group's waiting member is next due (rate limits, debounce).
_MIGRATIONS = {
    1: """
ALTER TABLE events ADD COLUMN expires_at TEXT;
CREATE INDEX IF NOT EXISTS events_by_expiry ON events (expires_at);
""",
    2: """
ALTER TABLE events ADD COLUMN body_sha256 TEXT;
CREATE TABLE IF NOT EXISTS body_digests (
    listener TEXT NOT NULL, digest TEXT NOT NULL, event_id TEXT NOT NULL, expires_at TEXT,
    PRIMARY KEY (listener, digest));
""",
    3: """
ALTER TABLE event_triggers ADD COLUMN launch_note TEXT;
CREATE TABLE IF NOT EXISTS concurrency_groups (
    group_id TEXT PRIMARY KEY, state TEXT NOT NULL, reserved_since TEXT);
""",
    4: """
ALTER TABLE concurrency_groups ADD COLUMN due_at TEXT;
""",
}

_TRIGGER_COLUMNS = (
    "trigger_name, trigger_group, decided, accepted, decisions, extensions, decision_error, rendered, "
    "params, resources, idempotency_key, render_error, launched, launch_key, run_id, backend, launch_error, "
    "launch_note"
)
_RUN_COLUMNS = (
    "run_id, event_id, listener, trigger_name, backend, state, created_at, updated_at, run_url, "
    "idempotency_key, details"
)


class SqliteStore(_groups.GroupRecords):
    """A :class:`~kfp_triggers.adapters.store.base.Store` in one SQLite file (created on demand)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._db = SqliteDatabase(path, _SCHEMA, SCHEMA_VERSION, _MIGRATIONS)
        self.path = self._db.path
        self._write = self._db.write
        self._read = self._db.read

    def close(self) -> None:
        """Close every connection this process opened."""
        self._db.close()

    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        return int(self._read("SELECT version FROM kfpt_schema")[0][0])

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
        """Journal the request once (see :meth:`EventJournal.record_event`); the id it is kept under."""
        digest = _rules.request_digest(request)
        row = {
            "listener": listener,
            "received_at": format_time(received_at),
            "request": _rules.dumps(request),
            "config_version": config_version,
            "expires_at": format_time(expires_at) if expires_at is not None else None,
            "body_sha256": digest,
        }
        candidates = (event_id, _rules.conflict_event_id(event_id, listener, digest))
        with self._write() as conn:
            for candidate in candidates:
                stored = conn.execute(
                    "SELECT listener, body_sha256, request FROM events WHERE event_id = ?", (candidate,)
                ).fetchone()
                if stored is None:
                    conn.execute(
                        f"INSERT INTO events (event_id, {', '.join(row)}) VALUES (?{', ?' * len(row)})",
                        (candidate, *row.values()),
                    )
                    return candidate
                stored_digest = stored[1] or _rules.request_digest(_rules.loads(stored[2]) or {})
                if _rules.same_request(stored[0], stored_digest, listener, digest):
                    return candidate
        raise StoreError(f"event {event_id!r}: its conflict id is held by yet another request")

    def first_event_with_body(
        self, listener: str, digest: str, event_id: str, now: datetime, *, expires_at: datetime | None = None
    ) -> str:
        """The first event of ``listener`` with this body digest (see :class:`EventJournal`)."""
        cutoff = format_time(now)
        with self._write() as conn:
            stored = conn.execute(
                "SELECT event_id, expires_at FROM body_digests WHERE listener = ? AND digest = ?",
                (listener, digest),
            ).fetchone()
            if stored is not None and (stored[1] is None or stored[1] > cutoff):
                return str(stored[0])
            conn.execute(
                "INSERT OR REPLACE INTO body_digests (listener, digest, event_id, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (listener, digest, event_id, _text(expires_at)),
            )
        return event_id

    def _upsert(
        self,
        table: str,
        keys: dict[str, Any],
        values: dict[str, Any],
        insert_only: dict[str, Any] | None = None,
    ) -> None:
        """Insert a row, or overwrite ``values`` (never ``keys`` nor ``insert_only``) of the existing one."""
        with self._write() as conn:
            _upsert_in(conn, table, keys, values, insert_only)

    def record_decisions(self, event_id: str, outcomes: Sequence[TriggerDecision]) -> None:
        """Insert or replace the decision part of each outcome's trigger, in one transaction."""
        if not outcomes:
            return
        columns = ("trigger_group", "decided", "accepted", "decisions", "extensions", "decision_error")
        updates = ", ".join(f"{column} = excluded.{column}" for column in columns)
        rows = [
            (
                event_id,
                outcome.trigger,
                outcome.group,
                1,
                int(outcome.accepted),
                _rules.dumps(outcome.decisions),
                _rules.dumps(outcome.extensions),
                outcome.error,
            )
            for outcome in outcomes
        ]
        with self._write() as conn:
            conn.executemany(
                f"INSERT INTO event_triggers (event_id, trigger_name, {', '.join(columns)}) "
                f"VALUES (?, ?{', ?' * len(columns)}) "
                f"ON CONFLICT (event_id, trigger_name) DO UPDATE SET {updates}",
                rows,
            )

    def record_render(
        self,
        event_id: str,
        trigger: str,
        params: dict[str, Any],
        resources: list[dict[str, Any]],
        idempotency_key: str | None,
        error: str | None,
    ) -> None:
        """Insert or replace the render part of ``(event_id, trigger)``."""
        values = {
            "rendered": 1,
            "params": _rules.dumps(params),
            "resources": _rules.dumps(resources),
            "idempotency_key": idempotency_key,
            "render_error": error,
        }
        self._upsert("event_triggers", {"event_id": event_id, "trigger_name": trigger}, values)

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
        """Insert or replace the launch part of ``(event_id, trigger)``."""
        with self._write() as conn:
            _upsert_launch(conn, event_id, trigger, idempotency_key, run_id, backend, error, note)

    def _triggers(self, event_ids: Sequence[str]) -> dict[str, list[TriggerRecord]]:
        marks = ", ".join("?" for _ in event_ids)
        rows = self._read(
            f"SELECT t.event_id, {', '.join('t.' + c for c in _TRIGGER_COLUMNS.split(', '))}, r.state "
            f"FROM event_triggers t LEFT JOIN runs r ON r.run_id = t.run_id "
            f"WHERE t.event_id IN ({marks}) ORDER BY t.event_id, t.trigger_name",
            event_ids,
        )
        found: dict[str, list[TriggerRecord]] = {}
        for row in rows:
            found.setdefault(row[0], []).append(_trigger_record(row[1:]))
        return found

    def get_event(self, event_id: str) -> EventRecord | None:
        """The event with its triggers and the current state of their runs."""
        rows = self._read(
            "SELECT listener, received_at, request, config_version FROM events WHERE event_id = ?",
            (event_id,),
        )
        triggers = tuple(self._triggers([event_id]).get(event_id, ()))
        if not rows and not triggers:
            return None
        if not rows:
            return EventRecord(event_id, None, None, None, None, triggers)
        listener, received_at, request, config_version = rows[0]
        return EventRecord(
            event_id, listener, parse_time(received_at), _rules.loads(request), config_version, triggers
        )

    def list_events(self, limit: int, listener: str | None = None) -> list[EventSummary]:
        """Newest events first (by ``received_at``)."""
        where, args = ("WHERE listener = ?", [listener]) if listener is not None else ("", [])
        rows = self._read(
            f"SELECT event_id, listener, received_at, config_version FROM events {where} "
            "ORDER BY received_at DESC, event_id DESC LIMIT ?",
            [*args, limit],
        )
        triggers = self._triggers([r[0] for r in rows]) if rows else {}
        return [
            EventSummary.of(
                EventRecord(eid, lst, parse_time(at), None, version, tuple(triggers.get(eid, ())))
            )
            for eid, lst, at, version in rows
        ]

    # -- ledger ------------------------------------------------------------------------------

    @staticmethod
    def _entry(conn: sqlite3.Connection, key: str) -> LedgerEntry | None:
        row = conn.execute(
            "SELECT status, owner, lease_expires_at, attempt, result, expires_at FROM ledger WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        status, owner, lease, attempt, result, expires = row
        return LedgerEntry(
            key, status, owner, _time(lease), int(attempt), _rules.loads(result), _time(expires)
        )

    @staticmethod
    def _put(conn: sqlite3.Connection, entry: LedgerEntry) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO ledger (key, status, owner, lease_expires_at, attempt, result, "
            "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                entry.key,
                entry.status,
                entry.owner,
                _text(entry.lease_expires_at),
                entry.attempt,
                None if entry.result is None else _rules.dumps(entry.result),
                _text(entry.expires_at),
            ),
        )

    def claim(self, key: str, owner: str, lease_s: float, now: datetime) -> Claim:
        """Claim ``key`` (see :meth:`IdempotencyLedger.claim`), atomically under the write lock."""
        with self._write() as conn:
            claim, write = _rules.decide_claim(self._entry(conn, key), key, owner, lease_s, now)
            if write is not None:
                self._put(conn, write)
        return claim

    def complete(
        self, key: str, owner: str, result: dict[str, Any], *, expires_at: datetime | None = None
    ) -> None:
        """Mark ``key`` completed by ``owner`` with ``result``."""
        with self._write() as conn:
            self._put(conn, _rules.completed_entry(self._entry(conn, key), key, owner, result, expires_at))

    def adopt(
        self, key: str, owner: str, result: dict[str, Any], *, expires_at: datetime | None = None
    ) -> Claim:
        """Complete ``key`` for a run found on the backend (see :meth:`IdempotencyLedger.adopt`)."""
        with self._write() as conn:
            claim, write = _rules.adopted(self._entry(conn, key), key, owner, result, expires_at)
            if write is not None:
                self._put(conn, write)
        return claim

    def release(self, key: str, owner: str) -> None:
        """End ``owner``'s in-progress claim on ``key`` (see :func:`_rules.released_entry`)."""
        with self._write() as conn:
            released = _rules.released_entry(self._entry(conn, key), key, owner)
            if released is not None:
                self._put(conn, released)

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
        """Record the run, complete or adopt ``key`` and journal the launch in one transaction."""
        with self._write() as conn:
            held, entry = _rules.finished_entry(self._entry(conn, key), key, owner, run, adopt, expires_at)
            _upsert_run(conn, run)
            if entry is not None:
                self._put(conn, entry)
            _upsert_launch(conn, run.event_id, run.trigger, key, run.run_id, run.backend, None, note)
        return held

    # -- concurrency groups --------------------------------------------------------------------

    def _group_change(
        self,
        group: str,
        change: Callable[[GroupState | None], tuple[T, GroupState | None]],
        now: datetime | None = None,
    ) -> T:
        with self._write() as conn:
            row = conn.execute("SELECT state FROM concurrency_groups WHERE group_id = ?", (group,)).fetchone()
            answer, state = change(None if row is None else GroupState.loads(row[0]))
            if state is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO concurrency_groups (group_id, state, reserved_since, due_at) "
                    "VALUES (?, ?, ?, ?)",
                    (group, state.dumps(), _text(state.reserved_since()), _text(_groups.due(state, now))),
                )
        return answer

    def due_groups(self, now: datetime) -> list[str]:
        """Groups whose first waiting member may be started at ``now``."""
        rows = self._read(
            "SELECT group_id FROM concurrency_groups WHERE due_at IS NOT NULL AND due_at <= ?",
            (format_time(now),),
        )
        return [str(r[0]) for r in rows]

    def group_members(self, group: str) -> list[GroupMember]:
        """The group's members, oldest first."""
        rows = self._read("SELECT state FROM concurrency_groups WHERE group_id = ?", (group,))
        return _groups.members_of(GroupState.loads(rows[0][0]) if rows else None)

    def stale_reservations(self, before: datetime) -> list[tuple[str, GroupMember]]:
        """Reserved members older than ``before``, by group."""
        rows = self._read(
            "SELECT group_id, state FROM concurrency_groups "
            "WHERE reserved_since IS NOT NULL AND reserved_since < ?",
            (format_time(before),),
        )
        return [
            (g, m) for g, text in rows for m in _groups.stale_reservations(GroupState.loads(text), before)
        ]

    # -- housekeeping ------------------------------------------------------------------------

    def purge(self, now: datetime, unstamped_before: datetime | None = None) -> int:
        """Delete expired events (with their triggers) and expired completed ledger records."""
        cutoff = format_time(now)
        # An unstamped event (written by schema version 1) goes once received before the bound.
        bound = format_time(unstamped_before) if unstamped_before is not None else ""
        expired = "(expires_at IS NOT NULL AND expires_at <= ?) OR (expires_at IS NULL AND received_at < ?)"
        with self._write() as conn:
            conn.execute(
                f"DELETE FROM event_triggers WHERE event_id IN (SELECT event_id FROM events WHERE {expired})",
                (cutoff, bound),
            )
            events = conn.execute(f"DELETE FROM events WHERE {expired}", (cutoff, bound)).rowcount
            ledger = conn.execute(
                "DELETE FROM ledger WHERE status = ? AND expires_at IS NOT NULL AND expires_at <= ?",
                (_rules.COMPLETED, cutoff),
            ).rowcount
            conn.execute(
                "DELETE FROM body_digests WHERE expires_at IS NOT NULL AND expires_at <= ?", (cutoff,)
            )
        return int(events) + int(ledger)

    # -- runs --------------------------------------------------------------------------------

    def upsert_run(self, run: RunRecord) -> None:
        """Insert or replace ``run`` (keeping the stored ``created_at`` if there is one)."""
        with self._write() as conn:
            _upsert_run(conn, run)

    def get_run(self, run_id: str) -> RunRecord | None:
        """One run, or ``None``."""
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,))
        return _run_record(rows[0]) if rows else None

    def list_runs(
        self, limit: int, state: str | None = None, non_terminal_only: bool = False
    ) -> list[RunRecord]:
        """Newest runs first (by ``created_at``)."""
        clauses: list[str] = []
        args: list[Any] = []
        if state is not None:
            clauses.append("state = ?")
            args.append(state)
        if non_terminal_only:
            clauses.append(f"state NOT IN ({', '.join('?' for _ in TERMINAL_STATES)})")
            args.extend(sorted(TERMINAL_STATES))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._read(
            f"SELECT {_RUN_COLUMNS} FROM runs {where} ORDER BY created_at DESC, run_id DESC LIMIT ?",
            [*args, limit],
        )
        return [_run_record(row) for row in rows]

    def record_state(self, run_id: str, state: str, at: datetime) -> str | None:
        """Set the run's state if it changed; return the previous state on a change only."""
        with self._write() as conn:
            row = conn.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise RunNotFoundError(f"no run {run_id!r}")
            current = _run_record(row)
            if not _rules.state_changes(current, state, at):
                return None
            conn.execute(
                "UPDATE runs SET state = ?, updated_at = ? WHERE run_id = ?",
                (state, format_time(at), run_id),
            )
        return current.state


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else format_time(moment)


def _time(text: str | None) -> datetime | None:
    return None if text is None else parse_time(text)


def _trigger_record(row: Sequence[Any]) -> TriggerRecord:
    (name, group, decided, accepted, decisions, extensions, decision_error, rendered, params) = row[:9]
    (resources, key, render_error, launched, launch_key, run_id, backend, launch_error, note, state) = row[9:]
    return TriggerRecord(
        trigger=name,
        group=group,
        decided=bool(decided),
        accepted=None if accepted is None else bool(accepted),
        decisions=_rules.loads(decisions) or [],
        extensions=_rules.loads(extensions) or {},
        decision_error=decision_error,
        rendered=bool(rendered),
        params=_rules.loads(params),
        resources=_rules.loads(resources),
        idempotency_key=key if key is not None else launch_key,
        render_error=render_error,
        launched=bool(launched),
        run_id=run_id,
        backend=backend,
        launch_error=launch_error,
        run_state=state,
        launch_note=note,
    )


def _run_record(row: Sequence[Any]) -> RunRecord:
    run_id, event_id, listener, trigger, backend, state, created, updated, url, key, details = row
    created_at, updated_at = parse_time(created), parse_time(updated)
    fields = (run_id, event_id, listener, trigger, backend, state, created_at, updated_at, url, key)
    return RunRecord(*fields, details=_rules.loads(details) or {})


def _upsert_in(
    conn: sqlite3.Connection,
    table: str,
    keys: dict[str, Any],
    values: dict[str, Any],
    insert_only: dict[str, Any] | None = None,
) -> None:
    """Insert a row, or overwrite ``values`` (never ``keys`` nor ``insert_only``) of the existing one."""
    row = {**keys, **(insert_only or {}), **values}
    updates = ", ".join(f"{column} = excluded.{column}" for column in values)
    conn.execute(
        f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}",
        tuple(row.values()),
    )


def _upsert_run(conn: sqlite3.Connection, run: RunRecord) -> None:
    values = {
        "event_id": run.event_id,
        "listener": run.listener,
        "trigger_name": run.trigger,
        "backend": run.backend,
        "state": run.state,
        "updated_at": format_time(run.updated_at),
        "run_url": run.run_url,
        "idempotency_key": run.idempotency_key,
        "details": _rules.dumps(run.details),
    }
    _upsert_in(conn, "runs", {"run_id": run.run_id}, values, {"created_at": format_time(run.created_at)})


def _upsert_launch(
    conn: sqlite3.Connection,
    event_id: str,
    trigger: str,
    idempotency_key: str | None,
    run_id: str | None,
    backend: str | None,
    error: str | None,
    note: str | None,
) -> None:
    values = {
        "launched": 1,
        "launch_key": idempotency_key,
        "run_id": run_id,
        "backend": backend,
        "launch_error": error,
        "launch_note": note,
    }
    _upsert_in(conn, "event_triggers", {"event_id": event_id, "trigger_name": trigger}, values)
