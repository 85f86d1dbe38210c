"""The SQLite store: the shared store behaviour, plus what only a file-backed store has."""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

import pytest

from kfp_triggers.store import InvalidStoreUrlError, store_from_url
from kfp_triggers.store.sqlite import SCHEMA_VERSION, SqliteStore
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
