"""How long the journal and the idempotency records are kept, and when they are purged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kfp_triggers.adapters.store.sqlite import SqliteStore
from kfp_triggers.adapters.transports.memory import MemoryBus
from kfp_triggers.app.runtime import Settings, build_context
from kfp_triggers.errors import SettingError
from kfp_triggers.stages.context import StageContext
from tests.conftest import EXAMPLES

T0 = datetime(2026, 3, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def _context(tmp_path: Path, environ: dict[str, str]) -> StageContext:
    settings = Settings.from_env({"KFPT_CONFIG": str(EXAMPLES / "github-push"), **environ})
    return build_context(settings, MemoryBus(), {})


def test_retention_defaults_to_30_days_and_zero_keeps_for_good(tmp_path: Path) -> None:
    ctx = _context(tmp_path, {})
    ctx.clock = Clock()
    assert ctx.expiry() == T0 + timedelta(days=30)
    forever = _context(tmp_path, {"KFPT_RETENTION_DAYS": "0"})
    assert forever.expiry() is None


def test_retention_shorter_than_the_slowest_redelivery_is_refused(tmp_path: Path) -> None:
    # A webhook redelivered at the end of its accepted age can take three hops, each as late,
    # before it reaches launch: the idempotency record must still be there.
    with pytest.raises(SettingError, match=r"\(2 days\) must cover 3 x KFPT_MAX_EVENT_AGE_S \(259200 s\)"):
        _context(tmp_path, {"KFPT_RETENTION_DAYS": "2"})
    ctx = _context(tmp_path, {"KFPT_RETENTION_DAYS": "0.5", "KFPT_MAX_EVENT_AGE_S": "3600"})
    assert ctx.retention_s == 43200.0
    assert _context(tmp_path, {"KFPT_RETENTION_DAYS": "3"}).retention_s == 3 * 86400.0


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "1e9"])
def test_retention_must_be_a_sensible_number_of_days(tmp_path: Path, value: str) -> None:
    with pytest.raises(SettingError, match=r"KFPT_RETENTION_DAYS must be 0 \(keep for good\) to 36500 days"):
        _context(tmp_path, {"KFPT_RETENTION_DAYS": value})


def test_purge_runs_at_most_once_per_period(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    clock = Clock()
    ctx = _context(tmp_path, {})
    ctx.clock, ctx.store_factory = clock, lambda: store
    try:
        store.record_event("a", "default/l", T0, {}, None, expires_at=T0 + timedelta(seconds=10))
        store.record_event("b", "default/l", T0, {}, None, expires_at=T0 + timedelta(seconds=20))
        clock.now = T0 + timedelta(seconds=15)
        assert ctx.purge_if_due() == 1
        clock.now = T0 + timedelta(seconds=25)
        assert ctx.purge_if_due() == 0  # within the hour: not yet
        assert store.get_event("b") is not None
        clock.now = T0 + timedelta(seconds=15 + ctx.purge_every_s)
        assert ctx.purge_if_due() == 1
        assert store.get_event("b") is None
    finally:
        store.close()


def test_events_show_redacts_credentials_but_replay_reads_them(tmp_path: Path) -> None:
    from kfp_triggers.app.operations import show_event

    store = SqliteStore(tmp_path / "state.db")
    try:
        request = {"method": "POST", "url": "/", "headers": {"X-Gitlab-Token": ["s3cret"]}, "bodyBase64": ""}
        store.record_event("ev-1", "default/l", T0, request, None)
        shown = show_event(store, "ev-1")
        assert shown["request"]["headers"] == {"X-Gitlab-Token": ["[redacted]"]}
        assert "s3cret" not in str(shown)
        stored = store.get_event("ev-1")
        assert stored is not None and stored.request is not None
        assert stored.request["headers"] == {"X-Gitlab-Token": ["s3cret"]}  # kept for replay
    finally:
        store.close()
