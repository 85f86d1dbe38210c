"""``events list`` filters: by trigger, by time, rejected or errored events, and the limit after filtering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from kfp_triggers.adapters.store import TriggerDecision
from kfp_triggers.adapters.store.sqlite import SqliteStore
from tests.conftest import run_cli

NOW = datetime.now(UTC)


def journal(path: Path) -> str:
    """Four events over the last three hours; the store URL."""
    store = SqliteStore(path)
    try:
        events = [
            ("old-ok", 180, [TriggerDecision("train", None, [], True, {}, None)]),
            ("rejected", 90, [TriggerDecision("train", None, [], False, {}, "filtered by cel")]),
            ("errored", 30, [TriggerDecision("deploy", None, [], True, {}, None)]),
            ("new-ok", 5, [TriggerDecision("train", None, [], True, {}, None)]),
        ]
        for event_id, minutes_ago, decisions in events:
            store.record_event(event_id, "default/el", NOW - timedelta(minutes=minutes_ago), {}, None)
            store.record_decisions(event_id, decisions)
        store.record_render("errored", "deploy", {}, [], None, "binding 'sha': no value")
    finally:
        store.close()
    return f"sqlite:///{path}"


def listed(store: str, *flags: str) -> list[str]:
    result = run_cli(["events", "list", "--store", store, "--output", "json", *flags])
    assert result.code == 0, result.stderr
    return [e["eventID"] for e in result.json()]


def test_filters_keep_only_what_they_name(tmp_path: Path) -> None:
    store = journal(tmp_path / "state.db")
    assert listed(store) == ["new-ok", "errored", "rejected", "old-ok"]
    assert listed(store, "--trigger", "deploy") == ["errored"]
    assert listed(store, "--rejected") == ["rejected"]
    assert listed(store, "--errors") == ["errored", "rejected"]  # a filter's reason counts as an error
    assert listed(store, "--since", "1h") == ["new-ok", "errored"]
    since = (NOW - timedelta(minutes=100)).isoformat()
    assert listed(store, "--since", since, "--trigger", "train") == ["new-ok", "rejected"]
    assert listed(store, "--trigger", "train", "--limit", "1") == ["new-ok"]  # the limit counts kept events


def test_a_since_that_is_neither_a_duration_nor_a_time_is_refused(tmp_path: Path) -> None:
    store = journal(tmp_path / "state.db")
    result = run_cli(["events", "list", "--store", store, "--since", "yesterday"])
    assert result.code == 1
    assert result.json() == {
        "error": "--since 'yesterday' is neither a duration (as 2h or 30m) nor an ISO 8601 time"
    }
