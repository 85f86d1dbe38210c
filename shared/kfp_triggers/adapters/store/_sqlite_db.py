"""An SQLite file shared safely by threads and processes: connections, transactions, errors.

Each thread of each process gets its own connection (``sqlite3`` connections must not be shared
across threads while in use, nor across ``fork``). The file runs in WAL mode, so readers never block
the writer. :meth:`SqliteDatabase.write` opens ``BEGIN IMMEDIATE`` transactions, which take the one
write lock *before* the first read, so a read-modify-write can never interleave with another.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kfp_triggers.adapters.store.base import StoreError, StoreUnavailableError

BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for the lock before the store reports itself unavailable."""


class SqliteDatabase:
    """One SQLite file with its schema created (once, atomically) on first use."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        schema: str,
        version: int,
        migrations: Mapping[int, str] | None = None,
    ) -> None:
        """Open (creating it with ``schema`` when new) the database at ``path``.

        ``migrations[v]`` holds the statements that bring a file at version ``v`` to ``v + 1``;
        an older file is brought to ``version`` step by step, in the same transaction.

        Raises:
            StoreError: the file was written by a newer version, or no migration reaches ``version``.
        """
        self.path = Path(path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._inherited: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        _private_file(self.path)
        with self.write() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS kfpt_schema (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM kfpt_schema").fetchone()
            if row is None:
                for statement in schema.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO kfpt_schema (version) VALUES (?)", (version,))
            elif row[0] > version:
                raise StoreError(f"{self.path} has schema version {row[0]}; this version reads {version}")
            else:
                for step in range(int(row[0]), version):
                    statements = (migrations or {}).get(step)
                    if statements is None:
                        raise StoreError(f"{self.path} has schema version {step}; cannot reach {version}")
                    for statement in statements.split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute("UPDATE kfpt_schema SET version = ?", (step + 1,))

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (a forked child never reuses its parent's connections)."""
        if os.getpid() != self._pid:
            with self._lock:
                if os.getpid() != self._pid:
                    # Closing an inherited connection could disturb the parent's locks; keep it alive.
                    self._inherited.extend(self._connections)
                    self._connections, self._pid = [], os.getpid()
                    self._local = threading.local()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            _use_wal(conn, self._lock)
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            raise translate(exc) from exc
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction, committed on success and rolled back on any error."""
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise translate(exc) from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise translate(exc) from exc
            raise

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query, outside any explicit transaction (WAL gives a consistent snapshot)."""
        try:
            return self.connection().execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise translate(exc) from exc

    def close(self) -> None:
        """Close every connection this process opened."""
        with self._lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        for conn in connections:
            conn.close()


def _private_file(path: Path) -> None:
    """Create the database file (and missing parent folders) readable by its owner only.

    The journal holds webhook bodies; a file another local user can read would hand them out.
    SQLite gives its ``-wal`` and ``-shm`` files the database file's mode. A file of ours found
    readable by others is tightened; a file of another user (a shared store) is left as it is.
    """
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    if str(path) == ":memory:":
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        info = path.stat()
        if info.st_uid == os.geteuid() and info.st_mode & 0o077:
            path.chmod(info.st_mode & 0o700)
    except OSError as exc:
        raise StoreError(f"cannot create the SQLite store {path}: {exc}") from exc


def translate(exc: sqlite3.Error) -> StoreError:
    """Lock timeouts and I/O trouble may pass (retryable); anything else (schema, constraint) will not."""
    transient = ("locked", "busy", "disk i/o")
    if isinstance(exc, sqlite3.OperationalError) and any(t in str(exc).lower() for t in transient):
        return StoreUnavailableError(f"sqlite store unavailable: {exc}")
    return StoreError(f"sqlite store error: {exc}")


def _use_wal(conn: sqlite3.Connection, lock: threading.Lock) -> None:
    """Put the file in WAL mode, once for good, whatever other connections are doing meanwhile.

    Switching takes a lock the busy handler does not wait for, so a connection racing another
    one that is switching, or already writing (creating the schema, say), is told "locked" at
    once. The mode persists in the file: when it is WAL by then, there is nothing left to do;
    otherwise the switch is tried again until the busy time-out.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            with lock:
                conn.execute("PRAGMA journal_mode = WAL").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
            continue
        return  # switched, or a file that cannot do WAL (in memory, say): it keeps its mode
