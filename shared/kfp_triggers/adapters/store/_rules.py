"""Ledger and run-state rules shared by every store adapter.

The adapters only differ in how they read a record and write it back *conditionally* (an SQLite
``BEGIN IMMEDIATE`` transaction, a Firestore precondition); what to write is decided here, once, so
both behave identically.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from kfp_triggers.adapters.store._time import utc
from kfp_triggers.adapters.store.base import Claim, ClaimStatus, LeaseLostError, RunRecord

IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"

RELEASED_AT = datetime(1970, 1, 1, tzinfo=UTC)
"""The lease end a released claim is written with: over, so the next claim takes the key over.

A released key keeps its record (rather than being deleted) so the next claim counts as a later
attempt: whoever launches after a release must ask the backend for a run first, since the
released attempt may have created one (a create that timed out on our side, for example).
"""


@dataclass(frozen=True)
class LedgerEntry:
    """A ledger record as stored: ``IN_PROGRESS`` with a lease, or ``COMPLETED`` with a result."""

    key: str
    status: str
    owner: str
    lease_expires_at: datetime | None
    attempt: int
    result: dict[str, Any] | None = None
    expires_at: datetime | None = None


def decide_claim(
    entry: LedgerEntry | None, key: str, owner: str, lease_s: float, now: datetime
) -> tuple[Claim, LedgerEntry | None]:
    """The answer to a claim on ``entry`` and the record to write for it (``None``: write nothing)."""
    now = utc(now)
    until = now + timedelta(seconds=lease_s)
    if entry is None or (
        entry.status == COMPLETED and entry.expires_at is not None and entry.expires_at <= now
    ):
        attempt = 1 if entry is None else entry.attempt + 1
        fresh = LedgerEntry(key, IN_PROGRESS, owner, until, attempt)
        return Claim(key, ClaimStatus.ACQUIRED, owner, until, attempt=attempt), fresh
    if entry.status == COMPLETED:
        claim = Claim(key, ClaimStatus.COMPLETED, entry.owner, attempt=entry.attempt, result=entry.result)
        return claim, None
    live = entry.lease_expires_at is not None and entry.lease_expires_at > now
    if entry.owner == owner and live:
        renewed = replace(entry, lease_expires_at=until)
        return Claim(key, ClaimStatus.ACQUIRED, owner, until, attempt=entry.attempt), renewed
    if live:
        held = Claim(key, ClaimStatus.IN_PROGRESS, entry.owner, entry.lease_expires_at, attempt=entry.attempt)
        return held, None
    # A lapsed or released lease, even the caller's own: a later attempt, which must check the backend.
    attempt = entry.attempt + 1
    taken = LedgerEntry(key, IN_PROGRESS, owner, until, attempt)
    claim = Claim(
        key, ClaimStatus.ACQUIRED, owner, until, takeover=True, previous_owner=entry.owner, attempt=attempt
    )
    return claim, taken


def completed_entry(
    entry: LedgerEntry | None, key: str, owner: str, result: dict[str, Any], expires_at: datetime | None
) -> LedgerEntry:
    """The record that marks ``key`` completed by ``owner``; raises unless ``owner`` holds it."""
    if entry is None:
        raise LeaseLostError(f"ledger key {key!r} is not claimed (released or never claimed)")
    if entry.owner != owner:
        raise LeaseLostError(f"ledger key {key!r} is held by {entry.owner!r}, not {owner!r}")
    if entry.status == IN_PROGRESS and entry.lease_expires_at == RELEASED_AT:
        raise LeaseLostError(f"ledger key {key!r} was released by {owner!r}")
    return replace(
        entry,
        status=COMPLETED,
        lease_expires_at=None,
        result=dict(result),
        expires_at=utc(expires_at) if expires_at is not None else None,
    )


def adopted(
    entry: LedgerEntry | None, key: str, owner: str, result: dict[str, Any], expires_at: datetime | None
) -> tuple[Claim, LedgerEntry | None]:
    """Complete ``key`` with a run the backend already has, whoever holds the claim.

    The backend's run is the truth: a holder that died after creating it cannot complete the
    key, and waiting for its lease to end would only delay (or, after the platform's last
    redelivery, lose) the event. A key completed already keeps its result.
    """
    if entry is not None and entry.status == COMPLETED:
        return Claim(
            key, ClaimStatus.COMPLETED, entry.owner, attempt=entry.attempt, result=entry.result
        ), None
    attempt = entry.attempt if entry is not None else 1
    done = LedgerEntry(
        key, COMPLETED, owner, None, attempt, dict(result), utc(expires_at) if expires_at else None
    )
    return Claim(key, ClaimStatus.COMPLETED, owner, attempt=attempt, result=dict(result)), done


def launch_result(run: RunRecord) -> dict[str, Any]:
    """What a completed key stores about its run."""
    return {"run_id": run.run_id, "backend": run.backend, "run_url": run.run_url}


def finished_entry(
    entry: LedgerEntry | None, key: str, owner: str, run: RunRecord, adopt: bool, expires_at: datetime | None
) -> tuple[bool, LedgerEntry | None]:
    """What :meth:`Store.finish_launch` answers, and the ledger record it writes (``None``: none).

    Adopting always stands (a key completed already keeps its result); completing stands only
    while ``owner`` holds the key.
    """
    result = launch_result(run)
    if adopt:
        return True, adopted(entry, key, owner, result, expires_at)[1]
    try:
        return True, completed_entry(entry, key, owner, result, expires_at)
    except LeaseLostError:
        return False, None


def released_entry(entry: LedgerEntry | None, key: str, owner: str) -> LedgerEntry | None:
    """The record that ends ``owner``'s claim on ``key``; ``None`` when there is nothing to release.

    The record stays, with its lease over (:data:`RELEASED_AT`), so the next claim is a later
    attempt (see :attr:`~kfp_triggers.adapters.store.base.Claim.first`).

    Raises:
        LeaseLostError: another owner holds the key, or it is completed.
    """
    if entry is None:
        return None
    if entry.status == IN_PROGRESS and entry.owner == owner:
        return replace(entry, lease_expires_at=RELEASED_AT)
    if entry.status == COMPLETED:
        raise LeaseLostError(f"ledger key {key!r} is already completed; it cannot be released")
    raise LeaseLostError(f"ledger key {key!r} is held by {entry.owner!r}, not {owner!r}")


def state_changes(current: RunRecord, state: str, at: datetime) -> bool:
    """True when observing ``state`` at ``at`` changes ``current`` (not the same, not stale)."""
    return current.state != state and utc(at) >= current.updated_at


def dumps(value: Any) -> str:
    """Compact JSON text for an opaque payload (requests, decisions, params, resources, results)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


BODY_OMITTED = "bodyOmitted"


def journal_request(request: dict[str, Any], limit: int) -> str:
    """The request's JSON text for the journal, without its body when the text would exceed ``limit``.

    A store with a document size limit must still journal the event (losing the event over its
    journal entry would be worse): the body is then replaced by its size and SHA-256 under
    ``bodyOmitted``, and the event cannot be replayed from the journal.
    """
    text = dumps(request)
    if len(text.encode()) <= limit:
        return text
    body = base64.b64decode(str(request.get("bodyBase64", "")))
    slim = {k: v for k, v in request.items() if k != "bodyBase64"}
    slim["bodyBase64"] = ""
    slim[BODY_OMITTED] = {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    return dumps(slim)


def request_digest(request: dict[str, Any]) -> str:
    """The SHA-256 (hex) of a journalled request's body: what makes two deliveries the same event.

    The body is what a webhook signature covers; headers are not (proxies add their own to each
    delivery), so only the body decides whether a request repeats an earlier one. A request kept
    without its body carries the digest under ``bodyOmitted``, one whose body is in the body
    store under ``bodyRef``.
    """
    for kept_elsewhere in (request.get(BODY_OMITTED), request.get("bodyRef")):
        if isinstance(kept_elsewhere, dict) and isinstance(kept_elsewhere.get("sha256"), str):
            return str(kept_elsewhere["sha256"])
    try:
        body = base64.b64decode(str(request.get("bodyBase64", "")), validate=True)
    except ValueError:
        body = str(request.get("bodyBase64", "")).encode()
    return hashlib.sha256(body).hexdigest()


def same_request(stored_listener: Any, stored_digest: Any, listener: str, digest: str) -> bool:
    """True when a stored event is this very request again (a redelivery), not another one."""
    return bool(stored_listener == listener and stored_digest == digest)


def conflict_event_id(event_id: str, listener: str, digest: str) -> str:
    """The id for a request that claims an eventID another request already holds.

    Signatures do not cover headers, so anyone can send a body of their own under a delivery id
    they have seen; the journal never lets it replace the first request (whose runs and statuses
    depend on it). The newcomer is journalled and processed as an event of its own, under an id
    derived from the claimed one, its listener and its body, so its own redeliveries land on it.
    """
    return f"{event_id}~{body_key(listener, digest)[:12]}"


def body_key(listener: str, digest: str) -> str:
    """The key of the first event a listener received with a given body (the replay index)."""
    return hashlib.sha256(f"{listener}\n{digest}".encode()).hexdigest()


def loads(text: str | None) -> Any:
    """Inverse of :func:`dumps`; ``None`` stays ``None``."""
    return None if text is None else json.loads(text)
