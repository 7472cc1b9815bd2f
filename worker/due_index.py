"""The drainer's in-memory view of waiting jobs, ordered by when each becomes due.

Only the drainer changes existing rows; everyone else only inserts. So the drainer reads each
new row once (rows with `_id` above the last one it saw), keeps it here, and never decodes the
whole table again: picking the next due job is a heap pop, not a scan of 10,000 rows.

Rows for the same scene form one group and are taken together (coalescing). A group is due at
the later of its earliest `not_before` and its settle time: `settle_seconds` after the newest
fresh event, but no later than `max_settle_seconds` after the oldest one, so a burst of edits
costs one sync and a scene edited without pause is still synced. Batch rows (several scene ids)
are groups of their own.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from sync_queue.jobs import Job, coalesce, combine

Key = Tuple[str, int]  # ("scene", scene id) or ("batch", row id)


@dataclass
class Lease:
    """Rows taken together and the one job the processor sees for them."""

    rowids: List[int]
    job: Job


class DueIndex:
    def __init__(self, settle_seconds: float = 2.0, max_settle_seconds: float = 30.0) -> None:
        self.settle_seconds = settle_seconds
        self.max_settle_seconds = max(settle_seconds, max_settle_seconds)
        self.reset()

    def __len__(self) -> int:
        return self._rows

    def reset(self) -> None:
        """Forget everything; the next read starts from the first row again."""
        self.last_rowid = 0
        self._groups: Dict[Key, List[Tuple[int, Job]]] = {}
        self._due: Dict[Key, float] = {}
        self._heap: List[Tuple[float, int, Key]] = []
        self._rows = 0

    def add(self, rowid: int, job: Job) -> None:
        self.last_rowid = max(self.last_rowid, rowid)
        key: Key = ("scene", job.scene_id) if job.scene_id is not None else ("batch", rowid)
        rows = self._groups.setdefault(key, [])
        rows.append((rowid, job))
        self._rows += 1
        self._schedule(key)

    def due_at(self, rows: List[Tuple[int, Job]]) -> float:
        not_before = min(job.not_before for _, job in rows)
        fresh = [job.enqueued_at for _, job in rows if job.attempts == 0]
        if not fresh:
            return not_before
        settled = min(max(fresh) + self.settle_seconds, min(fresh) + self.max_settle_seconds)
        return max(not_before, settled)

    def _schedule(self, key: Key) -> None:
        rows = self._groups[key]
        due = self.due_at(rows)
        self._due[key] = due
        heapq.heappush(self._heap, (due, rows[0][0], key))

    def _drop_stale(self) -> None:
        while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
            heapq.heappop(self._heap)

    def next_due(self) -> Optional[float]:
        """When the earliest group becomes due; None when nothing waits."""
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def _pop_due(self, now: float) -> Optional[Key]:
        self._drop_stale()
        if not self._heap or self._heap[0][0] > now:
            return None
        return heapq.heappop(self._heap)[2]

    def _remove(self, key: Key) -> List[Tuple[int, Job]]:
        rows = self._groups.pop(key)
        del self._due[key]
        self._rows -= len(rows)
        return rows

    def take(self, now: float, max_batch: int = 1) -> Optional[Lease]:
        """The next due job, or None. Fresh single-scene jobs due together with the same event
        and force are combined, up to `max_batch` scenes, so a bulk edit costs few requests."""
        key = self._pop_due(now)
        if key is None:
            return None
        rows = self._remove(key)
        job = coalesce([row_job for _, row_job in rows])
        rowids = [rowid for rowid, _ in rows]
        if key[0] != "scene" or job.attempts or max_batch <= 1:
            return Lease(rowids, job)
        parts, passed_over = [job], []
        for _ in range(max_batch * 4):  # bounded look-ahead past jobs that cannot join
            if len(parts) >= max_batch:
                break
            other = self._pop_due(now)
            if other is None:
                break
            candidate = coalesce([row_job for _, row_job in self._groups[other]]) if other[0] == "scene" else None
            if candidate is None or candidate.attempts or (candidate.event, candidate.force) != (job.event, job.force):
                passed_over.append(other)
                continue
            rowids.extend(rowid for rowid, _ in self._remove(other))
            parts.append(candidate)
        for other in passed_over:
            heapq.heappush(self._heap, (self._due[other], self._groups[other][0][0], other))
        return Lease(rowids, combine(parts))
