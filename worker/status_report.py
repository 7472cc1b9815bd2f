"""What the drainer tells the world: breaker lines in the log, the heartbeat, the status rows.

The `status` task runs in another process and reads `sync_queue.drainer_status`; this room is
the only writer on the drainer's side. It decides nothing: it says what the breakers and the
processor's life cycle already did.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

from common.errors import PLEX, SyncError
from common.log import get_logger
from sync_queue.drainer_status import (
    BREAKER,
    CONFIG_ERROR,
    HEARTBEAT_AT,
    LAST_SUCCESS_AT,
    STASH_BREAKER,
    WAITING,
    DrainerStatus,
)
from sync_queue.jobqueue import JobQueue
from worker.breaker import Breakers
from worker.policy import user_message

log = get_logger("worker")


class StatusReport:
    def __init__(self, status: Optional[DrainerStatus], queue: JobQueue, breakers: Breakers,
                 heartbeat_seconds: float) -> None:
        self.status = status
        self.queue = queue
        self.breakers = breakers
        self.heartbeat_seconds = heartbeat_seconds
        self.secrets: Tuple[str, ...] = ()
        self.last_success_at: Optional[float] = None
        self._last_heartbeat: Optional[float] = None

    def breakers_after(self, before: Dict[str, bool], now: float) -> None:
        """Report each breaker that changed since `before`, or that is (still) open."""
        for scope, breaker in self.breakers.by_scope.items():
            if breaker.is_open or breaker.is_open != before[scope]:
                self.breaker(now, scope, before[scope])

    def breaker(self, now: float, scope: str, was_open: bool) -> None:
        """Log and record the breaker's state: one line saying since when and how much waits."""
        breaker = self.breakers.by_scope[scope]
        name = "Plex" if scope == PLEX else "Stash"
        if breaker.is_open:
            line = breaker.state().down_line(name, self._waiting(now))
            if not was_open:
                log.warning("%s: %s traffic paused, probing with backoff (last error: %s)", line, name,
                            user_message(SyncError(breaker.last_error), self.secrets))
            else:
                log.info("%s; next probe in %.1fs", line, max(0.0, (breaker.next_probe_at or now) - now))
        elif was_open:
            log.info("%s answers again: resuming", name)
        if self.status is not None:
            self.status.set_many({BREAKER: self.breakers.plex.state().to_json(),
                                  STASH_BREAKER: self.breakers.stash.state().to_json(), WAITING: self._waiting(now)},
                                 now)

    def config_error(self, message: Optional[str], now: float) -> None:
        """Record the pause's message (None: the configuration works, also an earlier drainer's)."""
        if self.status is None or (message is None and self.status.get(CONFIG_ERROR) is None):
            return
        self.status.record_config_error(message, now)

    def retry_requested(self, since: float) -> bool:
        """Has a task asked, since `since`, for the settings to be read again now?"""
        return self.status is not None and self.status.retry_requested_since(since)

    def heartbeat(self, now: float, force: bool = False) -> None:
        if self.status is None:
            return
        if not force and self._last_heartbeat is not None and now - self._last_heartbeat < self.heartbeat_seconds:
            return
        self._last_heartbeat = now
        values: Dict[str, object] = {HEARTBEAT_AT: now, BREAKER: self.breakers.plex.state().to_json(),
                                     STASH_BREAKER: self.breakers.stash.state().to_json()}
        if self.last_success_at is not None:
            values[LAST_SUCCESS_AT] = self.last_success_at
        self.status.set_many(values, now)

    def _waiting(self, now: float) -> int:
        counts = self.queue.scene_counts(now)
        return counts.pending + counts.scheduled + counts.in_progress
