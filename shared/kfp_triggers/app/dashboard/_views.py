"""What each dashboard page shows, read from the store through the CLI's own operations.

Each function returns the values one template renders. The accounts of events are
:func:`kfp_triggers.app.explain.explain`'s machine form, so a verdict, a decoded body or a redacted
header reads here exactly as ``events explain`` prints it. A page for an id the store does not know
raises :class:`NotFoundError`.
"""

from __future__ import annotations

from typing import Any

from kfp_triggers.adapters.store.base import Store
from kfp_triggers.app import operations as ops
from kfp_triggers.app.explain import explain
from kfp_triggers.app.explain_text import render_text
from kfp_triggers.errors import InvalidRequestError

MAX_LIMIT = 500
"""The most rows one list page shows, whatever ``?limit=`` asks."""


class NotFoundError(LookupError):
    """The store holds no event or run under the id a page was asked for."""


def event_rows(
    store: Store, limit: int, only: ops.EventFilter | None = None, listener: str | None = None
) -> list[dict[str, Any]]:
    """The newest events (of ``listener``, passing ``only``), each with its request and trigger verdicts.

    A row is ``events list``'s JSON plus ``request`` (sender, event type, repository, ref, commit)
    and ``triggers`` (name and verdict, as ``events explain`` decides it). The summaries carry
    neither, so each listed event is read whole: one more store read per row, which the page's
    limit (at most :data:`MAX_LIMIT`) bounds.
    """
    rows = ops.list_events(store, max(1, min(limit, MAX_LIMIT)), listener, only)
    for row in rows:
        record = store.get_event(row["eventID"])
        told = explain(record) if record is not None else {}
        row["request"] = told.get("request")
        row["triggers"] = [{"name": t["name"], "verdict": t["verdict"]} for t in told.get("triggers", [])]
    return rows


def event_page(store: Store, event_id: str) -> dict[str, Any]:
    """One event explained: the machine form, and the text ``events explain`` prints for it."""
    try:
        explained = ops.explain_event(store, event_id)
    except InvalidRequestError:
        raise NotFoundError(event_id) from None
    return {"event": explained, "text": render_text(explained)}


def run_rows(store: Store, limit: int, state: str | None) -> list[dict[str, Any]]:
    """The newest runs (in ``state``), as ``runs list --output json`` gives them."""
    return ops.list_runs(store, max(1, min(limit, MAX_LIMIT)), state or None)


def run_page(store: Store, run_id: str) -> dict[str, Any]:
    """One run: its record, the states the store knows it went through, the event and trigger behind it.

    The store keeps a run's current state and when it was reached, so the history is the launch and
    the state since the latest change (the launch itself when the run never changed).
    """
    try:
        run = ops.show_run(store, run_id)
    except InvalidRequestError:
        raise NotFoundError(run_id) from None
    group = run["details"].get("concurrencyGroup")
    history = [{"state": "launched", "at": run["createdAt"]}, {"state": run["state"], "at": run["updatedAt"]}]
    record = store.get_event(run["eventID"])
    told = explain(record) if record is not None else None
    trigger = None
    if told is not None:
        trigger = next((t for t in told["triggers"] if t["name"] == run["trigger"]), None)
    return {
        "run": run,
        "group": group if isinstance(group, str) else None,
        "history": history,
        "event": told,
        "trigger": trigger,
    }
