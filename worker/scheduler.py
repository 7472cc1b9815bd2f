"""The scheduler's room: work the drainer makes for itself, behind the jobs the hook queued.

Renamed, merged and deleted tags, performers, studios and groups (sync_queue.entity_changes)
become scene jobs here, one page of scene ids per step and only when no job is due within the
settle time (the loop asks), so fresh edits never wait behind a rename on 20,000 scenes for more
than a page.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

from common.log import get_logger
from sync_queue.entity_changes import EntityChanges, PendingChange
from sync_queue.jobqueue import job_rows
from worker.breaker import Breakers
from worker.options import WorkerOptions
from worker.policy import Action, RetryPolicy, user_message
from worker.protocol import Processor
from worker.status_report import StatusReport

log = get_logger("worker")


class ChangeScheduler:
    def __init__(self, changes: Optional[EntityChanges], options: WorkerOptions, breakers: Breakers,
                 report: StatusReport, pause: Callable[[BaseException, float], None],
                 active: Callable[[float], None]) -> None:
        self.changes = changes
        self.options = options
        self.breakers = breakers
        self.report = report
        self._pause = pause
        self._active = active  # jobs were queued: the drainer is not idle

    def next_due(self) -> Optional[float]:
        return self.changes.next_due() if self.changes is not None else None

    def waiting(self) -> int:
        return self.changes.count() if self.changes is not None else 0

    def run_next(self, processor: Processor, policy: RetryPolicy, now: float,
                 secrets: Tuple[str, ...] = ()) -> bool:
        """Queue the next page of scenes of the oldest due entity change; False: none is due."""
        change = self.changes.take(now) if self.changes is not None else None
        if change is None:
            return False
        assert self.changes is not None
        page = max(1, self.options.change_page)
        before = self.breakers.is_open()
        try:
            scene_ids = processor.scene_ids_for(change.kind, change.entity_id, change.after_id, page)
        except Exception as exc:
            self._failed(change, exc, policy, before, now, secrets)
            return True
        rows = job_rows(scene_ids, "sync", change.what, False, now, enqueued_at=now - self.options.settle_seconds,
                        size=self.options.max_batch)
        finished = len(scene_ids) < page
        self.changes.advance(change, scene_ids, rows, finished)
        self._active(now)
        log.info("%s: queued %d scene(s)%s", change.what, len(scene_ids), "" if finished else ", more to come")
        return True

    def _failed(self, change: PendingChange, error: BaseException, policy: RetryPolicy,
                before: Dict[str, bool], now: float, secrets: Tuple[str, ...]) -> None:
        assert self.changes is not None
        message = user_message(error, secrets)
        self.report.breakers_after(before, now)
        decision = policy.decide_change(error, change.attempts)
        if decision.action is Action.PAUSE:
            self._pause(error, now)
        elif decision.action is Action.DROP:
            self.changes.drop(change)
            log.warning("%s: %s; its scenes are synced on their next change or the next sync task",
                        change.what, message)
        else:
            self.changes.postpone(change, now + decision.delay, message)
            log.info("%s: %s; trying again in %.0fs", change.what, message, decision.delay)
