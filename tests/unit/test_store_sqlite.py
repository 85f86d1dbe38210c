"""The SQLite store: the shared store behaviour, plus what only a file-backed store has."""

from __future__ import annotations

import functools
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kfp_triggers.adapters.store import InvalidStoreUrlError, TriggerDecision, store_from_url
from kfp_triggers.adapters.store._groups import GroupMember, GroupRules
from kfp_triggers.adapters.store.sqlite import SCHEMA_VERSION, SqliteStore
from tests.store_contract import StoreContract, StoreFactory, at, make_run


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        return functools.partial(SqliteStore, tmp_path / "state.db")


def test_schema_is_versioned_and_wal(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "deep" / "er" / "state.db")
    try:
        assert store.schema_version() == SCHEMA_VERSION
    finally:
        store.close()
    conn = sqlite3.connect(tmp_path / "deep" / "er" / "state.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT count(*) FROM kfpt_schema").fetchone() == (1,)
    finally:
        conn.close()


def test_data_survives_reopening_and_schema_is_not_recreated(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = SqliteStore(path)
    first.upsert_run(make_run("r1"))
    first.claim("k", "a", 30, at(0))
    first.close()
    second = SqliteStore(path)
    try:
        assert second.get_run("r1") == make_run("r1")
        assert second.claim("k", "b", 30, at(1)).owner == "a"
        assert second.schema_version() == SCHEMA_VERSION
    finally:
        second.close()


def test_url_with_relative_path_creates_parent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = store_from_url("sqlite:///.kfpt/sub/state.db")
    try:
        assert isinstance(store, SqliteStore)
        assert store.path == Path(".kfpt/sub/state.db")
        assert (tmp_path / ".kfpt" / "sub" / "state.db").is_file()
    finally:
        store.close()


def test_url_with_absolute_path(tmp_path: Path) -> None:
    store = store_from_url(f"sqlite:///{tmp_path}/abs/state.db")
    try:
        assert isinstance(store, SqliteStore) and store.path == tmp_path / "abs" / "state.db"
        assert store.path.is_file()
    finally:
        store.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("state.db", "no scheme"),
        ("postgres://db/x", "unknown store scheme 'postgres'"),
        ("sqlite://host/state.db", "names a host"),
        ("sqlite:///", "does not name a database file"),
        ("sqlite:///:memory:", "does not name a database file"),
        ("sqlite:///dir/", "does not name a database file"),
        ("firestore://", "does not name a Google Cloud project"),
        ("firestore://proj/Bad_DB", "invalid Firestore database"),
        ("firestore://proj?x=1", "query or fragment"),
    ],
)
def test_bad_urls_are_value_errors(url: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        store_from_url(url)
    assert isinstance(info.value, InvalidStoreUrlError)
    assert message in str(info.value)


def test_purge_forgets_expired_events_and_completed_records_only(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    try:
        request = {"method": "POST", "headers": {}, "bodyBase64": ""}
        store.record_event("old", "default/l", at(0), request, None, expires_at=at(100))
        store.record_decisions("old", [TriggerDecision("t", None, [], True, {}, None)])
        store.record_event("new", "default/l", at(50), request, None, expires_at=at(300))
        store.record_decisions("new", [TriggerDecision("t", None, [], True, {}, None)])
        store.record_event("kept", "default/l", at(0), request, None)  # no expiry: kept for good
        for key, expires in (("done-old", at(100)), ("done-new", at(300)), ("done-kept", None)):
            store.claim(key, "w", 30, at(0))
            store.complete(key, "w", {"run_id": key}, expires_at=expires)
        store.claim("busy", "w", 1000, at(0))  # in progress: never purged, whatever its age
        store.upsert_run(make_run("r1"))

        assert store.purge(at(200)) == 2
        assert store.get_event("old") is None
        assert [t.trigger for t in store.get_event("new").triggers] == ["t"]  # type: ignore[union-attr]
        assert store.get_event("kept") is not None
        assert store.claim("done-old", "x", 30, at(200)).acquired  # forgotten: claimable again
        assert store.claim("done-new", "x", 30, at(200)).run_id == "done-new"
        assert store.claim("done-kept", "x", 30, at(200)).run_id == "done-kept"
        assert store.claim("busy", "x", 30, at(200)).owner == "w"
        assert store.get_run("r1") is not None  # run records are the history: kept
        conn = sqlite3.connect(tmp_path / "state.db")
        try:
            assert conn.execute("SELECT count(*) FROM event_triggers WHERE event_id = 'old'").fetchone() == (
                0,
            )
        finally:
            conn.close()
    finally:
        store.close()


def test_a_version_1_file_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE kfpt_schema (version INTEGER NOT NULL);
        INSERT INTO kfpt_schema (version) VALUES (1);
        CREATE TABLE events (
            event_id TEXT PRIMARY KEY, listener TEXT NOT NULL, received_at TEXT NOT NULL,
            request TEXT NOT NULL, config_version TEXT);
        CREATE TABLE event_triggers (
            event_id TEXT NOT NULL, trigger_name TEXT NOT NULL,
            trigger_group TEXT, decided INTEGER NOT NULL DEFAULT 0, accepted INTEGER, decisions TEXT,
            extensions TEXT, decision_error TEXT,
            rendered INTEGER NOT NULL DEFAULT 0, params TEXT, resources TEXT, idempotency_key TEXT,
            render_error TEXT,
            launched INTEGER NOT NULL DEFAULT 0, launch_key TEXT, run_id TEXT, backend TEXT,
            launch_error TEXT, PRIMARY KEY (event_id, trigger_name));
        CREATE TABLE ledger (
            key TEXT PRIMARY KEY, status TEXT NOT NULL, owner TEXT NOT NULL, lease_expires_at TEXT,
            attempt INTEGER NOT NULL, result TEXT, expires_at TEXT);
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY, event_id TEXT NOT NULL, listener TEXT NOT NULL,
            trigger_name TEXT NOT NULL, backend TEXT NOT NULL, state TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL, run_url TEXT, idempotency_key TEXT,
            details TEXT NOT NULL);
        INSERT INTO events VALUES
            ('ev-1', 'default/l', '2026-03-01T12:00:00.000000Z', '{"method":"POST"}', NULL);
        """
    )
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    try:
        assert store.schema_version() == SCHEMA_VERSION == 5
        event = store.get_event("ev-1")
        assert event is not None and event.request == {"method": "POST"}
        # The later parts work on the migrated file: launch notes, concurrency groups, due times.
        store.record_launch("ev-1", "t", "k", None, None, None, note="skipped: run r0 in progress")
        event = store.get_event("ev-1")
        assert event is not None and event.triggers[0].launch_note == "skipped: run r0 in progress"
        assert (
            store.admit_to_group("g", GroupMember("k", "ev-1", "o1"), GroupRules("skip", 1), at(0)).verdict
            == "launch"
        )
        store.record_event("ev-2", "default/l", at(0), {}, None, expires_at=at(1))
        assert store.purge(at(2)) == 1
        assert store.get_event("ev-1") is not None
        # An event written before expiries existed goes once it is older than the retention.
        assert store.purge(at(3), unstamped_before=at(-1)) == 0
        assert store.purge(at(3), unstamped_before=at(0)) == 1
        assert store.get_event("ev-1") is None
    finally:
        store.close()
    reopened = SqliteStore(path)  # already at version 2: opened as it is
    reopened.close()


def test_many_stores_opening_a_new_file_at_once_all_work(tmp_path: Path) -> None:
    """Workers starting together race to create the schema and switch the file to WAL."""
    import threading

    for round_ in range(20):
        path = tmp_path / f"race-{round_}.db"
        barrier = threading.Barrier(12)
        errors: list[BaseException] = []

        def work(
            n: int,
            path: Path = path,
            barrier: threading.Barrier = barrier,
            errors: list[BaseException] = errors,
        ) -> None:
            try:
                barrier.wait()
                store = SqliteStore(path)
                try:
                    store.upsert_run(make_run(f"r{n}"))
                finally:
                    store.close()
            except BaseException as exc:  # reported below, with the round
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == [], f"round {round_}: {errors}"
        store = SqliteStore(path)
        try:
            assert len(store.list_runs(100)) == 12
        finally:
            store.close()


def test_a_database_that_cannot_use_wal_keeps_its_mode() -> None:
    import threading as _threading

    from kfp_triggers.adapters.store._sqlite_db import _use_wal

    conn = sqlite3.connect(":memory:")
    try:
        _use_wal(conn, _threading.Lock())  # returns at once instead of retrying for ever
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "memory"
    finally:
        conn.close()


def test_the_store_file_and_its_new_folder_are_private(tmp_path: Path) -> None:
    """The journal holds webhook bodies: other local users must not read them."""
    path = tmp_path / "fresh" / ".kfpt" / "state.db"
    store = SqliteStore(path)
    try:
        store.record_event("ev-1", "default/l", datetime(2026, 1, 1, tzinfo=UTC), {"bodyBase64": ""}, None)
    finally:
        store.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o700
    for extra in path.parent.glob("state.db-*"):
        assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0, extra


def test_an_existing_store_file_readable_by_others_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    SqliteStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
