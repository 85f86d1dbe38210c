"""The dashboard's search: one box for an event id, a run id, a delivery id or a commit sha.

Event and run ids are looked up directly. Delivery ids and commits are not indexed by the store, so
they are matched against the request summaries ``events explain`` reads from the newest
:data:`SEARCH_SCANNED` events: a delivery id exactly, a commit by its first characters (at least
:data:`COMMIT_PREFIX` hexadecimal digits, as ``git`` abbreviates them).
"""

from __future__ import annotations

import re
from typing import Any

from kfp_triggers.adapters.store.base import Store
from kfp_triggers.app.explain import explain

SEARCH_SCANNED = 500
"""How many of the newest events a delivery id or commit search looks through."""
COMMIT_PREFIX = 4
"""The fewest hexadecimal digits a commit search needs."""
QUERY_CHARS = 200
"""The longest query looked up; ids and shas are far shorter."""
_HEX = re.compile(r"\A[0-9a-fA-F]+\Z")


def search(store: Store, query: str) -> list[dict[str, Any]]:
    """Hits for ``query``, each ``{"kind", "eventID", "runID", "detail"}``; run and event ids first.

    ``kind`` is ``event``, ``run``, ``delivery`` or ``commit``; ``runID`` is set for a run hit.
    """
    q = query.strip()[:QUERY_CHARS]
    if not q:
        return []
    hits: list[dict[str, Any]] = []
    if store.get_event(q) is not None:
        hits.append(_hit("event", q, None, "event id"))
    run = store.get_run(q)
    if run is not None:
        hits.append(_hit("run", run.event_id, run.run_id, f"run of trigger {run.trigger}: {run.state}"))
    commit = q.lower() if len(q) >= COMMIT_PREFIX and _HEX.match(q) else None
    for summary in store.list_events(SEARCH_SCANNED):
        record = store.get_event(summary.event_id)
        request = (explain(record).get("request") if record is not None else None) or {}
        if request.get("deliveryID") == q and summary.event_id != q:
            hits.append(_hit("delivery", summary.event_id, None, f"delivery {q}"))
        sha = request.get("commit")
        if commit and isinstance(sha, str) and sha.lower().startswith(commit):
            hits.append(
                _hit("commit", summary.event_id, None, f"commit {sha} of {request.get('repository')}")
            )
    return hits


def _hit(kind: str, event_id: str, run_id: str | None, detail: str) -> dict[str, Any]:
    return {"kind": kind, "eventID": event_id, "runID": run_id, "detail": detail}
