"""Jobs that will not succeed without a person: kept with a reason a user can act on.

One entry per scene (a scene that fails again updates its entry and keeps its first failure
time), so the list reads as "these scenes are not in step with Plex, and why". The worker
writes entries inside the same transaction that removes the job (`write`); users list, count,
retry (the job goes back to the queue as a fresh job), clear and purge them.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, List, Optional

from sync_queue.db import Database
from sync_queue.jobs import Job
from sync_queue.rows import INSERT_JOB, STATUS_INITED

MAX_MESSAGE = 1000
_COLUMNS = "id, scene_id, job, error_class, error_kind, message, attempts, first_failed_at, last_failed_at"


@dataclass(frozen=True)
class DeadLetterEntry:
    """What the worker records. `message` must already be redacted."""

    scene_id: Optional[int]
    job_text: str
    error_class: str  # e.g. "PermanentError"
    error_kind: str  # common.errors kind: permanent, transient, not_in_plex, ...
    message: str
    attempts: int
    first_failed_at: float
    last_failed_at: float


@dataclass(frozen=True)
class DeadLetter:
    id: int
    scene_id: Optional[int]
    job: Any  # the job as JSON (a dict), or the raw text of a row that was not a readable job
    error_class: str
    error_kind: str
    message: str
    attempts: int
    first_failed_at: float
    last_failed_at: float


def _letter(row: tuple) -> DeadLetter:
    try:
        job = json.loads(row[2])
    except ValueError:
        job = row[2]
    return DeadLetter(row[0], row[1], job, row[3], row[4], row[5], row[6], row[7], row[8])


class DeadLetters:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def write(connection: sqlite3.Connection, entry: DeadLetterEntry) -> None:
        """Record `entry` inside the caller's transaction; a scene's earlier entry is replaced."""
        first = entry.first_failed_at
        if entry.scene_id is not None:
            row = connection.execute(
                "SELECT first_failed_at FROM dead_letters WHERE scene_id = ?", (entry.scene_id,)).fetchone()
            if row is not None:
                first = min(first, row[0])
                connection.execute("DELETE FROM dead_letters WHERE scene_id = ?", (entry.scene_id,))
        connection.execute(
            "INSERT INTO dead_letters (scene_id, job, error_class, error_kind, message, attempts,"
            " first_failed_at, last_failed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (entry.scene_id, entry.job_text, entry.error_class, entry.error_kind,
             entry.message[:MAX_MESSAGE], entry.attempts, first, entry.last_failed_at))

    def add(self, entry: DeadLetterEntry) -> None:
        with self.db.transaction() as connection:
            self.write(connection, entry)

    def list(self, page: int = 1, per_page: int = 50) -> List[DeadLetter]:
        """Newest failure first; `page` counts from 1."""
        if page < 1 or per_page < 1:
            raise ValueError("page and per_page start at 1")
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM dead_letters ORDER BY last_failed_at DESC, id DESC LIMIT ? OFFSET ?",
            (per_page, (page - 1) * per_page))
        return [_letter(row) for row in rows]

    def for_scene(self, scene_id: int) -> Optional[DeadLetter]:
        """The scene's entry (one per scene), or None."""
        row = self.db.query_one(f"SELECT {_COLUMNS} FROM dead_letters WHERE scene_id = ?", (scene_id,))
        return _letter(row) if row else None

    def count(self) -> int:
        return self.db.scalar("SELECT COUNT(*) FROM dead_letters")

    def retry(self, letter_id: Optional[int] = None, now: Optional[float] = None) -> int:
        """Put one entry (or all, with None) back in the queue as fresh jobs; returns how many.

        An entry whose job cannot be rebuilt (no scene id) stays where it is.
        """
        now = time.time() if now is None else now
        retried = 0
        with self.db.transaction() as connection:
            if letter_id is None:
                rows = connection.execute(f"SELECT {_COLUMNS} FROM dead_letters ORDER BY id").fetchall()
            else:
                rows = connection.execute(f"SELECT {_COLUMNS} FROM dead_letters WHERE id = ?", (letter_id,)).fetchall()
            for row in rows:
                job = _fresh_job(_letter(row), now)
                if job is None:
                    continue
                connection.execute(INSERT_JOB, (job.encode(), now, STATUS_INITED))
                connection.execute("DELETE FROM dead_letters WHERE id = ?", (row[0],))
                retried += 1
        return retried

    def clear(self) -> int:
        with self.db.transaction() as connection:
            return connection.execute("DELETE FROM dead_letters").rowcount

    def purge(self, older_than_days: float, now: Optional[float] = None) -> int:
        """Delete entries whose last failure is older than `older_than_days`; returns how many."""
        if older_than_days < 0:
            raise ValueError("older_than_days must not be negative")
        cutoff = (time.time() if now is None else now) - older_than_days * 86400.0
        with self.db.transaction() as connection:
            return connection.execute("DELETE FROM dead_letters WHERE last_failed_at < ?", (cutoff,)).rowcount


def _fresh_job(letter: DeadLetter, now: float) -> Optional[Job]:
    try:
        old = Job.from_dict(letter.job)
    except ValueError:
        if letter.scene_id is None:
            return None
        old = Job(scene_ids=[letter.scene_id], event="sync")
    return Job(scene_ids=old.scene_ids, event=old.event, reason=f"retry from dead letters: {old.reason}",
               force=old.force, enqueued_at=now)
