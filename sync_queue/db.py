"""One SQLite connection to the queue database, shared by the stores of one process.

Every store (jobs, dead letters, sync state, drainer status) lives in the same file, so a job's
outcome and its dead letter are written in one transaction: a process killed at any instant
leaves either the job or its outcome, never neither. The file and its -wal/-shm companions are
owner-only (SQLite gives the companions the database file's mode).
"""
from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

from common.datadir import ensure_private_dir, touch_private
from sync_queue.rows import BUSY_TIMEOUT_SECONDS, CREATE_ENTITY_TABLE, CREATE_JOB_TABLE, connect, db_path

SCHEMA_VERSION = 1
_SCHEMA = (
    CREATE_JOB_TABLE,
    CREATE_ENTITY_TABLE,
    """CREATE TABLE IF NOT EXISTS dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        scene_id INTEGER UNIQUE,
        job TEXT NOT NULL,
        error_class TEXT NOT NULL,
        error_kind TEXT NOT NULL,
        message TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        first_failed_at REAL NOT NULL,
        last_failed_at REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS dead_letters_by_time ON dead_letters (last_failed_at)",
    """CREATE TABLE IF NOT EXISTS sync_state (
        scene_id INTEGER PRIMARY KEY,
        section_id INTEGER NOT NULL,
        rating_key INTEGER NOT NULL,
        metadata_hash TEXT NOT NULL,
        image_source TEXT NOT NULL,
        poster_hash TEXT NOT NULL,
        art_hash TEXT NOT NULL,
        synced_at REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS sync_state_by_time ON sync_state (synced_at)",
    """CREATE TABLE IF NOT EXISTS drainer_status (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at REAL NOT NULL)""",
)
WAL_SIZE_LIMIT = 4 * 1024 * 1024  # after a checkpoint the -wal file is cut back to this


class Database:
    """The queue database for one process. Thread-safe: one lock guards the one connection.

    `synchronous="NORMAL"` suits the drainer: a power cut can only undo its latest outcomes,
    which puts those jobs back in the queue (they run again), while enqueues (FULL) stay durable.
    """

    def __init__(self, data_dir: "os.PathLike[str] | str", *, busy_timeout: float = BUSY_TIMEOUT_SECONDS,
                 synchronous: str = "FULL") -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, got {synchronous!r}")
        self.data_dir = ensure_private_dir(Path(data_dir))
        self.path = touch_private(db_path(self.data_dir))
        self._lock = threading.RLock()
        self._connection: Optional[sqlite3.Connection] = connect(self.path, busy_timeout)
        self._connection.execute(f"PRAGMA synchronous={synchronous}")
        self._connection.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        self._create_schema()

    def _create_schema(self) -> None:
        if self.scalar("PRAGMA user_version") >= SCHEMA_VERSION:
            return
        with self.transaction() as connection:
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @property
    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise sqlite3.ProgrammingError("the queue database is closed")
        return self._connection

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the write lock from its start (no upgrade deadlocks)."""
        with self._lock:
            connection = self.connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> List[tuple]:
        with self._lock:
            return self.connection.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Optional[tuple]:
        with self._lock:
            return self.connection.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the one row an aggregate query answers (COUNT, MAX, a PRAGMA)."""
        row = self.query_one(sql, params)
        return row[0] if row else None

    def checkpoint(self) -> None:
        """Copy the WAL into the database and cut the -wal file back (the drainer does this when idle)."""
        with self._lock:
            self.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def file_sizes(self) -> Dict[str, int]:
        """Bytes on disk of the database and its companions (missing files count 0)."""
        sizes = {}
        for suffix in ("", "-wal", "-shm"):
            try:
                sizes[suffix or "db"] = os.path.getsize(str(self.path) + suffix)
            except OSError:
                sizes[suffix or "db"] = 0
        return sizes

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def __enter__(self) -> "Database":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def in_chunks(values: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """Keeps `IN (...)` lists under SQLite's bound-parameter limit on old builds (999)."""
    for start in range(0, len(values), size):
        yield values[start:start + size]
