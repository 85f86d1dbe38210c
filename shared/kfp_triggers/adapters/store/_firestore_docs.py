"""Firestore documents to and from the store's records (see :mod:`kfp_triggers.adapters.store.firestore`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kfp_triggers.adapters.store import _rules
from kfp_triggers.adapters.store._firestore_rest import encode_value
from kfp_triggers.adapters.store._rules import LedgerEntry
from kfp_triggers.adapters.store._time import utc
from kfp_triggers.adapters.store.base import EventRecord, RunRecord, TriggerRecord

Filter = dict[str, Any]


def equal(field: str, value: Any) -> Filter:
    """A query filter ``field == value``."""
    return {"fieldFilter": {"field": {"fieldPath": field}, "op": "EQUAL", "value": encode_value(value)}}


def run_of(parts: dict[str, Any]) -> str | None:
    """The run id a trigger's ``{decision, render, launch}`` map recorded, if any."""
    launch = parts.get("launch") or {}
    run_id = launch.get("runID")
    return str(run_id) if run_id else None


def event_record(event_id: str, fields: dict[str, Any], states: dict[str, str]) -> EventRecord:
    """An event document's fields as a record; ``states`` gives the state of each run by id."""
    triggers = []
    for name, parts in sorted((fields.get("triggers") or {}).items()):
        decision, render, launch = parts.get("decision"), parts.get("render"), parts.get("launch")
        run_id = run_of(parts)
        triggers.append(
            TriggerRecord(
                trigger=name,
                group=(decision or {}).get("group"),
                decided=decision is not None,
                accepted=None if decision is None else bool(decision.get("accepted")),
                decisions=_rules.loads((decision or {}).get("decisions")) or [],
                extensions=_rules.loads((decision or {}).get("extensions")) or {},
                decision_error=(decision or {}).get("error"),
                rendered=render is not None,
                params=None if render is None else _rules.loads(render.get("params")),
                resources=None if render is None else _rules.loads(render.get("resources")),
                idempotency_key=(render or {}).get("idempotencyKey") or (launch or {}).get("idempotencyKey"),
                render_error=(render or {}).get("error"),
                launched=launch is not None,
                run_id=run_id,
                backend=(launch or {}).get("backend"),
                launch_error=(launch or {}).get("error"),
                launch_note=(launch or {}).get("note"),
                run_state=states.get(run_id) if run_id else None,
            )
        )
    return EventRecord(
        event_id=str(fields.get("eventID", event_id)),
        listener=fields.get("listener"),
        received_at=fields.get("receivedAt"),
        request=_rules.loads(fields.get("request")),
        config_version=fields.get("configVersion"),
        triggers=tuple(triggers),
    )


def ledger_entry(key: str, fields: dict[str, Any] | None) -> LedgerEntry | None:
    """A ledger document's fields as an entry (``None`` for a missing document)."""
    if fields is None:
        return None
    return LedgerEntry(
        key=key,
        status=str(fields["status"]),
        owner=str(fields["owner"]),
        lease_expires_at=fields.get("leaseExpiresAt"),
        attempt=int(fields.get("attempt", 1)),
        result=_rules.loads(fields.get("result")),
        expires_at=fields.get("expireAt"),
    )


def ledger_fields(entry: LedgerEntry) -> dict[str, Any]:
    """Inverse of :func:`ledger_entry`."""
    return {
        "key": entry.key,
        "status": entry.status,
        "owner": entry.owner,
        "leaseExpiresAt": entry.lease_expires_at,
        "attempt": entry.attempt,
        "result": None if entry.result is None else _rules.dumps(entry.result),
        "expireAt": entry.expires_at,
    }


def run_fields(run: RunRecord, created_at: datetime) -> dict[str, Any]:
    """A run document's fields, with ``created_at`` (kept from an earlier record) and ``terminal``."""
    fields = run.to_json()
    fields.update(
        createdAt=utc(created_at),
        updatedAt=utc(run.updated_at),
        terminal=run.terminal,
        details=_rules.dumps(run.details),
    )
    return fields


def run_record(fields: dict[str, Any]) -> RunRecord:
    """Inverse of :func:`run_fields`."""
    data = dict(fields)
    data["details"] = _rules.loads(fields.get("details")) or {}
    data["createdAt"] = fields["createdAt"].isoformat()
    data["updatedAt"] = fields["updatedAt"].isoformat()
    return RunRecord.from_json(data)
