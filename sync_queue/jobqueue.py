"""The job queue: persist-queue's SQLiteAckQueue table, and the few operations the drainer adds.

Rows live in the table `SQLiteAckQueue(name="jobs")` owns, with its JSON serializer and its
statuses (waiting < UNACK; UNACK = a drainer is working on it). Anyone may add rows (hooks via
`sync_queue.rows`, tasks via `put_batch`, dead-letter retries); only the drainer holding the lock
changes or removes existing rows, which is what makes its in-memory index of waiting rows safe.

The library's own `get()` pops strictly in insertion order under a thread lock; the drainer
instead picks rows by due time, so a scheduled retry never blocks a fresh job behind it. An
outcome (delete the job, re-queue a retry or a split-off scene, write dead letters) is one
transaction: a SIGKILL before it commits leaves the rows in progress, and the next drainer puts
them back (`resume_in_progress`), so nothing is lost and at worst a sync runs twice.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Sequence, Tuple

import persistqueue.serializers.json as json_serializer
from persistqueue import SQLiteAckQueue

from sync_queue.db import Database, in_chunks
from sync_queue.dead_letters import DeadLetterEntry, DeadLetters
from sync_queue.jobs import Job
from sync_queue.rows import (
    BUSY_TIMEOUT_SECONDS,
    DB_FILENAME,
    INSERT_JOB,
    JOB_TABLE,
    QUEUE_NAME,
    STATUS_INITED,
    STATUS_READY,
    STATUS_UNACK,
    checked_scene_ids,
)

BATCH_SIZE = 500  # scene ids per row for bulk work: one Stash request each


@dataclass(frozen=True)
class QueueCounts:
    pending: int  # waiting and due now, or within the settle delay
    scheduled: int  # waiting for a retry time
    in_progress: int
    next_due_at: Optional[float]  # the earliest retry time, None when nothing is scheduled

    @property
    def total(self) -> int:
        return self.pending + self.scheduled + self.in_progress


@dataclass(frozen=True)
class SceneCounts:
    """Like QueueCounts, but counting scenes (a bulk row holds up to BATCH_SIZE of them)."""

    pending: int
    scheduled: int
    in_progress: int

    @property
    def unfinished(self) -> int:
        """Scenes due now or being worked on: what a task waits for (retries come later)."""
        return self.pending + self.in_progress


@dataclass(frozen=True)
class UnreadableRow:
    rowid: int
    text: str  # the stored data, cut short, for the dead letter
    error: str


class JobQueue:
    def __init__(self, db: Database) -> None:
        self.db = db
        # persist-queue keeps a connection of its own to the same file: SQLiteAckQueue opens it in
        # its constructor (which also creates its table) and offers no way to hand it ours. Only
        # resume_in_progress goes through it, so its status codes stay persist-queue's; every other
        # read and write uses `db`.
        # auto_resume=False: resetting in-progress rows is the lock holder's job alone.
        self._ack_queue = SQLiteAckQueue(
            str(db.data_dir), name=QUEUE_NAME, db_file_name=DB_FILENAME, auto_resume=False,
            multithreading=True, timeout=BUSY_TIMEOUT_SECONDS, serializer=json_serializer)

    # ---- any process -------------------------------------------------------------------------

    def put(self, job: Job, now: Optional[float] = None) -> int:
        """Queue one job as it is (its own attempts and not_before); returns the row id."""
        now = time.time() if now is None else now
        with self.db.transaction() as connection:
            return int(connection.execute(INSERT_JOB, (job.encode(), now, STATUS_INITED)).lastrowid or 0)

    def put_batch(self, scene_ids: Iterable[int], event: str, reason: str, force: bool = False,
                  now: Optional[float] = None) -> int:
        """Queue bulk work as rows of up to BATCH_SIZE scene ids, all or nothing; returns the row count."""
        rows = job_rows(scene_ids, event, reason, force, time.time() if now is None else now)
        if rows:
            with self.db.transaction() as connection:
                connection.executemany(INSERT_JOB, rows)
        return len(rows)

    def counts(self, now: Optional[float] = None) -> QueueCounts:
        """For `status`: reads every row once (the drainer keeps its own index instead)."""
        now = time.time() if now is None else now
        pending = scheduled = in_progress = 0
        next_due: Optional[float] = None
        for data, status in self.db.query(f"SELECT data, status FROM `{JOB_TABLE}`"):
            if status >= STATUS_UNACK:
                in_progress += 1
                continue
            not_before = _not_before(data)
            if not_before > now:
                scheduled += 1
                next_due = not_before if next_due is None else min(next_due, not_before)
            else:
                pending += 1
        return QueueCounts(pending, scheduled, in_progress, next_due)

    def scene_counts(self, now: Optional[float] = None) -> SceneCounts:
        """For task progress: scenes per state, reading every row once (like `counts`)."""
        now = time.time() if now is None else now
        pending = scheduled = in_progress = 0
        for data, status in self.db.query(f"SELECT data, status FROM `{JOB_TABLE}`"):
            fields = _fields(data)
            scenes = fields.get("scene_ids")
            size = len(scenes) if isinstance(scenes, list) and scenes else 1
            if status >= STATUS_UNACK:
                in_progress += size
            elif _number(fields.get("not_before")) > now:
                scheduled += size
            else:
                pending += size
        return SceneCounts(pending, scheduled, in_progress)

    def scheduled_jobs(self, now: Optional[float] = None) -> List[Job]:
        """Waiting rows whose retry time is still ahead, as jobs (unreadable rows are left out)."""
        now = time.time() if now is None else now
        jobs = []
        for data, status in self.db.query(f"SELECT data, status FROM `{JOB_TABLE}` WHERE status < ?", (STATUS_UNACK,)):
            if _not_before(data) > now:
                try:
                    jobs.append(Job.decode(data))
                except ValueError:
                    continue
        return jobs

    def jobs_for_scene(self, scene_id: int, limit: int = 10) -> List[Tuple[Job, bool]]:
        """The queued jobs naming `scene_id`, oldest first, each with whether a drainer is on it
        (for `explain`; reads the rows whose text holds the id, then checks the decoded ids)."""
        found: List[Tuple[Job, bool]] = []
        rows = self.db.query(f"SELECT data, status FROM `{JOB_TABLE}` WHERE CAST(data AS TEXT) LIKE ? ORDER BY _id",
                             (f"%{int(scene_id)}%",))
        for data, status in rows:
            try:
                job = Job.decode(data)
            except ValueError:
                continue
            if scene_id in job.scene_ids:
                found.append((job, status >= STATUS_UNACK))
                if len(found) >= limit:
                    break
        return found

    def waiting_count(self) -> int:
        """Rows not yet taken (due or scheduled): the drainer's last word before it exits."""
        return self.db.scalar(f"SELECT COUNT(*) FROM `{JOB_TABLE}` WHERE status < ?", (STATUS_UNACK,))

    # ---- the drainer (lock holder) only ------------------------------------------------------

    def resume_in_progress(self) -> int:
        """Put rows a dead drainer left in progress back in the queue; returns how many."""
        count = self._ack_queue.unack_count()
        if count:
            self._ack_queue.resume_unack_tasks()
        return count

    def read_new(self, after_rowid: int) -> Tuple[List[Tuple[int, Job]], List[UnreadableRow]]:
        """Waiting rows above `after_rowid`, oldest first: the readable jobs, and the rest."""
        jobs: List[Tuple[int, Job]] = []
        unreadable: List[UnreadableRow] = []
        rows = self.db.query(
            f"SELECT _id, data FROM `{JOB_TABLE}` WHERE _id > ? AND status < ? ORDER BY _id",
            (after_rowid, STATUS_UNACK))
        for rowid, data in rows:
            try:
                jobs.append((rowid, Job.decode(data)))
            except ValueError as exc:
                unreadable.append(UnreadableRow(rowid, _shown(data), str(exc)))
        return jobs, unreadable

    def mark_in_progress(self, rowids: Sequence[int]) -> None:
        with self.db.transaction() as connection:
            for chunk in in_chunks(rowids):
                connection.execute(
                    f"UPDATE `{JOB_TABLE}` SET status = ? WHERE _id IN ({','.join('?' * len(chunk))})",
                    (STATUS_UNACK, *chunk))

    def record_outcome(self, done_rowids: Sequence[int], requeue: Sequence[Job] = (),
                       dead: Sequence[DeadLetterEntry] = (), now: Optional[float] = None) -> None:
        """Remove finished rows, queue their follow-up jobs and write dead letters: one transaction."""
        now = time.time() if now is None else now
        with self.db.transaction() as connection:
            for chunk in in_chunks(done_rowids):
                connection.execute(f"DELETE FROM `{JOB_TABLE}` WHERE _id IN ({','.join('?' * len(chunk))})", chunk)
            connection.executemany(INSERT_JOB, [(job.encode(), now, STATUS_READY) for job in requeue])
            for entry in dead:
                DeadLetters.write(connection, entry)

    def close(self) -> None:
        self._ack_queue.close()


def job_rows(scene_ids: Iterable[int], event: str, reason: str, force: bool, now: float,
             enqueued_at: Optional[float] = None, size: int = BATCH_SIZE) -> List[tuple]:
    """The queue rows for bulk work: up to `size` scene ids each (`enqueued_at` defaults to now)."""
    ids = list(dict.fromkeys(checked_scene_ids(scene_ids)))
    at = now if enqueued_at is None else enqueued_at
    return [(Job(list(chunk), event, reason, force=force, enqueued_at=at).encode(), now, STATUS_INITED)
            for chunk in in_chunks(ids, size)]


def _not_before(data: Any) -> float:
    return _number(_fields(data).get("not_before"))


def _fields(data: Any) -> dict:
    try:
        value = json.loads(bytes(data).decode("utf-8") if not isinstance(data, str) else data)
    except (ValueError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _shown(data: Any) -> str:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)[:500].decode("utf-8", "replace")
    return str(data)[:500]
