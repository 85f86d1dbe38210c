"""One outcome for an event, whatever number of runs its triggers launched (a fan-out).

An event's accepted triggers each end one way: a run that succeeded, failed or was canceled; a
request its concurrency group held back for good (skipped, superseded); an error at render or
launch. While any is still on its way (not yet decided, rendered, launched, a queued request, or a
run not ended) the event is ``running``. Once all have ended it is ``failed`` if any run failed or
any trigger errored, else ``canceled`` if any run was canceled, else ``succeeded`` if any run
succeeded, else ``skipped`` if its runs were skipped (a dry run's); ``no runs`` when no trigger
launched or errored. The status stage publishes ``event.completed`` with it when
an event's last run ends; ``events list`` and ``events show`` show it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kfp_triggers.adapters.store.base import EventRecord, Store, TriggerRecord

PENDING_NOTES = ("queued", "delayed")
"""Journal notes of a request its group will still launch (see :func:`groups.note_for`)."""
REPLAY_REFUSAL = "refused as a replay"
"""How intercept's journal entry for a replayed signed body starts (see :mod:`.pipeline`)."""
_RUN_ENDS = {"SUCCEEDED": "succeeded", "FAILED": "failed", "CANCELED": "canceled", "SKIPPED": "skipped"}


@dataclass(frozen=True)
class EventOutcome:
    """The event's outcome, each accepted trigger's part in it, and how many ended which way."""

    outcome: str
    parts: tuple[dict[str, Any], ...]
    counts: dict[str, int]

    @property
    def complete(self) -> bool:
        """Whether nothing of the event is still on its way."""
        return self.outcome != "running"

    def to_json(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "counts": dict(self.counts), "runs": [dict(p) for p in self.parts]}


def event_outcome(store: Store, record: EventRecord, known: Mapping[str, str] | None = None) -> EventOutcome:
    """The outcome of ``record``'s event, its runs' states from ``known`` (run id -> state) or ``store``."""
    parts = [part for t in record.triggers if (part := _part(store, t, known or {})) is not None]
    counts = Counter(p["ended"] for p in parts)
    if counts["running"]:
        outcome = "running"
    elif counts["failed"] or counts["error"]:
        outcome = "failed"
    elif counts["canceled"]:
        outcome = "canceled"
    elif counts["succeeded"]:
        outcome = "succeeded"
    elif counts["skipped"]:
        outcome = "skipped"
    else:
        outcome = "no runs"
    return EventOutcome(outcome, tuple(parts), dict(sorted(counts.items())))


def _part(store: Store, t: TriggerRecord, known: Mapping[str, str]) -> dict[str, Any] | None:
    """How one trigger of the event ended (``None``: it rejected the event)."""
    part: dict[str, Any] = {"trigger": t.trigger, "runID": t.run_id, "state": None}
    if not t.decided:
        return {**part, "ended": "running"}
    if not t.accepted and (t.decision_error or "").startswith(REPLAY_REFUSAL):
        return None  # a signed body sent again under a new id: rejected, nothing to run
    if t.error:
        return {**part, "ended": "error"}
    if not t.accepted:
        return None
    if t.run_id:
        if t.run_id in known:
            state: str | None = known[t.run_id]
        else:
            run = store.get_run(t.run_id)
            state = run.state if run is not None else t.run_state
        return {**part, "state": state, "ended": _RUN_ENDS.get(state or "", "running")}
    note = (t.launch_note or "").lower()
    if note and not note.startswith(PENDING_NOTES):
        return {**part, "ended": "held"}
    return {**part, "ended": "running"}
