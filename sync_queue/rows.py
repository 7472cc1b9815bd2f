"""Puts scene events into the queue from a hook process, with the standard library only.

A hook runs inline in the user's save, and Stash waits for it, so every millisecond is paid once
per saved scene. Importing persist-queue alone costs ~100 ms; this module writes the very row
persist-queue's `SQLiteAckQueue` writes (same table, same columns, JSON data, status "inited")
with `sqlite3`, in one short INSERT transaction. tests/unit/test_queue_rows.py proves the
real library reads, acks and counts what is written here.

The row format is defined here, not in `jobs.py`, so the hook path never imports dataclasses.
"""
from __future__ import annotations

import math
import os
import sqlite3
import time

from common.datadir import touch_private
from common.fastjson import dumps

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Callable

DB_FILENAME = "queue.db"
QUEUE_NAME = "jobs"
JOB_TABLE = "ack_queue_jobs"  # persist-queue names the table f"ack_queue_{name}"
CREATE_JOB_TABLE = (
    "CREATE TABLE IF NOT EXISTS `ack_queue_jobs` ("
    "_id INTEGER PRIMARY KEY AUTOINCREMENT, data BLOB, timestamp FLOAT, status INTEGER)"
)
# persist-queue's AckStatus: rows with status < UNACK are waiting; the drainer marks the rows it
# works on UNACK and deletes them once their outcome is recorded.
STATUS_INITED, STATUS_READY, STATUS_UNACK = 0, 1, 2
INSERT_JOB = f"INSERT INTO `{JOB_TABLE}` (data, timestamp, status) VALUES (?, ?, ?)"

# Renames, merges and deletes of tags, performers, studios and groups (hooks/entities.py): one
# row per hook; the drainer turns each into scene jobs, a page of scenes at a time, and keeps
# its place in `after_id` (the last scene id queued; 0 = not started).
CREATE_ENTITY_TABLE = (
    "CREATE TABLE IF NOT EXISTS `entity_changes` ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, entity_id INTEGER NOT NULL, "
    "change TEXT NOT NULL, fields TEXT NOT NULL DEFAULT '', queued_at REAL NOT NULL, "
    "after_id INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, "
    "not_before REAL NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '')"
)
INSERT_ENTITY_CHANGE = "INSERT INTO `entity_changes` (kind, entity_id, change, fields, queued_at) VALUES (?, ?, ?, ?, ?)"

EVENTS = ("create", "update", "destroy", "sync")
MAX_REASON = 200
BUSY_TIMEOUT_SECONDS = 30.0  # writers hold the lock for milliseconds; waiting beats losing an edit


def db_path(data_dir: "os.PathLike[str] | str") -> Path:
    from pathlib import Path  # not at module top: the hook's enqueue joins the path as text

    return Path(data_dir) / DB_FILENAME


def checked_scene_ids(scene_ids: object) -> list:
    """Scene ids as a list of positive ints; ValueError for anything else (bool is not an id)."""
    if isinstance(scene_ids, (str, bytes)) or not hasattr(scene_ids, "__iter__"):
        raise ValueError(f"scene_ids must be a list of scene ids, got {type(scene_ids).__name__}")
    ids = []
    for value in scene_ids:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"scene id must be a positive integer, got {value!r}")
        ids.append(value)
    return ids


def job_data(scene_ids: list, event: str, reason: str, *, force: bool = False, enqueued_at: float,
             attempts: int = 0, not_before: float = 0.0) -> dict:
    """The JSON object a queue row holds. Single-scene rows also carry `scene_id`."""
    if event not in EVENTS:
        raise ValueError(f"event must be one of {', '.join(EVENTS)}, got {event!r}")
    if not scene_ids:
        raise ValueError("a job needs at least one scene id")
    if not (math.isfinite(enqueued_at) and math.isfinite(not_before)):
        raise ValueError("job times must be finite numbers")
    data = {
        "scene_ids": list(scene_ids),
        "event": event,
        "reason": str(reason)[:MAX_REASON],
        "force": bool(force),
        "enqueued_at": enqueued_at,
        "attempts": int(attempts),
        "not_before": not_before,
    }
    if len(scene_ids) == 1:
        data["scene_id"] = scene_ids[0]
    return data


def encode(data: dict) -> bytes:
    """persist-queue's JSON serializer: `json.dumps(value).encode()`, stored as a BLOB."""
    return dumps(data, separators=(",", ":")).encode("utf-8")


def connect(path: "os.PathLike[str] | str", timeout: float = BUSY_TIMEOUT_SECONDS) -> sqlite3.Connection:
    """An autocommit connection in WAL mode that waits (not fails) while another process writes."""
    connection = sqlite3.connect(os.fspath(path), timeout=timeout, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    return connection


def enqueue(data_dir: "os.PathLike[str] | str", scene_ids: list, event: str, reason: str, force: bool = False) -> None:
    """Queue `event` for each scene: one row per scene id, all in one short transaction.

    Creates the data directory (0700) and the database (0600) if missing. Raises ValueError for
    bad arguments and sqlite3.Error if the disk refuses the write: a hook must report that
    rather than lose the event silently.
    """
    ids = checked_scene_ids(scene_ids)
    if not ids:
        return
    now = time.time()
    rows = [(encode(job_data([scene_id], event, reason, force=force, enqueued_at=now)), now, STATUS_INITED)
            for scene_id in ids]
    _write(data_dir, lambda connection: _insert(connection, rows), CREATE_JOB_TABLE)


def enqueue_entity_change(data_dir: "os.PathLike[str] | str", kind: str, entity_id: int, change: str,
                          fields: tuple = ()) -> None:
    """Record that a tag, performer, studio or group changed, in one short INSERT (as `enqueue`)."""
    row = (kind, int(entity_id), change, ",".join(fields), time.time())
    _write(data_dir, lambda connection: connection.execute(INSERT_ENTITY_CHANGE, row), CREATE_ENTITY_TABLE)


def _write(data_dir: "os.PathLike[str] | str", insert: Callable[[sqlite3.Connection], object],
           create_table: str) -> None:
    """Run `insert` on the data dir's database (created 0600 if missing), creating its table
    first when the database is new."""
    path = touch_private(os.path.join(os.fspath(data_dir), DB_FILENAME))
    connection = connect(path)
    try:
        # Checkpoints are the drainer's work; a hook's commit should never pay for one.
        connection.execute("PRAGMA wal_autocheckpoint=0")
        try:
            insert(connection)
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            connection.execute(create_table)
            insert(connection)
    finally:
        connection.close()


def _insert(connection: sqlite3.Connection, rows: list) -> None:
    if len(rows) == 1:
        connection.execute(INSERT_JOB, rows[0])  # autocommit: one statement, one transaction
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.executemany(INSERT_JOB, rows)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
