"""The SyncWorker: the drainer's loop. It reads new rows, keeps the processor alive, takes due jobs
and records each outcome durably.

`step(now)` is one iteration with the time passed in (tests drive it without sleeping); `run()`
loops over it in a daemon thread until stopped or idle. One outcome is one transaction in
`JobQueue.record_outcome`: the job's rows are removed and their follow-ups (a retry, a scene
split off a batch, dead letters) written together, after the processor returned. A kill before
that commit leaves the rows "in progress" for the next drainer to put back.

The rooms around the loop: `processor_slot.py` (the processor's life cycle and the configuration
pause), `scheduler.py` (entity changes paged into scene jobs when no job is about to be due),
`outcome.py` (what a run leaves behind: acks, retries, dead letters, a pause; pure),
`status_report.py` (breaker lines, heartbeat, status rows) and `options.py` (every delay).
What each failure means is the table in `common.errors`; the delays are policy.py's. Plex-wide
and Stash-wide failures are never charged: the processor reports them to that server's breaker
(breaker.py), and while it is open the only request is one probe at a time
(`processor.probe(scope)`, or building the processor again when it could not be built).
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import replace
from typing import Callable, Dict, Optional, Tuple

from common.errors import SyncError
from common.log import get_logger
from common.redact import redact
from sync_queue.dead_letters import DeadLetterEntry
from sync_queue.drainer_status import DrainerStatus
from sync_queue.entity_changes import EntityChanges
from sync_queue.jobqueue import JobQueue, UnreadableRow
from worker.breaker import Breakers, CircuitBreaker
from worker.due_index import DueIndex, Lease
from worker.options import WorkerOptions
from worker.outcome import ids_shown, outcome_of
from worker.policy import RetryPolicy
from worker.processor_slot import ProcessorSlot
from worker.protocol import ProcessorFactory
from worker.scheduler import ChangeScheduler
from worker.status_report import StatusReport

log = get_logger("worker")


class SyncWorker:
    def __init__(self, queue: JobQueue, processor_factory: ProcessorFactory, *,
                 status: Optional[DrainerStatus] = None, options: Optional[WorkerOptions] = None,
                 clock: Callable[[], float] = time.time, rng: Optional[random.Random] = None,
                 stop_event: Optional[threading.Event] = None, changes: Optional[EntityChanges] = None) -> None:
        self.queue = queue
        self.options = opts = options or WorkerOptions()
        self.clock = clock
        rng = rng or random.Random()
        self.index = DueIndex(opts.settle_seconds, opts.max_settle_seconds)
        policy = RetryPolicy(opts.max_retries, opts.backoff_base_seconds, opts.backoff_cap_seconds,
                             min_delay=opts.min_retry_seconds,
                             not_in_plex_schedule=tuple(opts.not_in_plex_schedule), rng=rng)
        plex, stash = (CircuitBreaker(opts.breaker_threshold, opts.probe_base_seconds, opts.probe_cap_seconds, rng=rng)
                       for _ in range(2))
        self.breakers = Breakers(plex, stash, clock=self._now)
        self.report = StatusReport(status, queue, self.breakers, opts.heartbeat_seconds)
        self.slot = ProcessorSlot(processor_factory, self.breakers, self.report, policy, opts.pause_seconds)
        self.scheduler = ChangeScheduler(changes, opts, self.breakers, self.report, self.slot.pause, self._active)
        self.processed = 0  # leases whose outcome was recorded
        self.exit_reason: Optional[str] = None  # idle, paused, stopped or error
        self._last_activity: Optional[float] = None
        self._step_began: Optional[Tuple[float, float]] = None  # (now as step() was given it, monotonic)
        self._stop = stop_event or threading.Event()  # set: finish the current job, then stop
        self._thread: Optional[threading.Thread] = None

    # ---- one iteration -------------------------------------------------------------------------

    def step(self, now: float) -> float:
        """Do at most one job; return how long to sleep before the next step."""
        self._step_began = (now, time.monotonic())
        if self._last_activity is None:
            self._last_activity = now
        self._read_new_rows(now)
        self.report.heartbeat(now)
        paused_until = self.slot.pause_ends(now)
        if paused_until is not None:
            return self._sleep(now, paused_until)
        for scope, breaker in self.breakers.by_scope.items():
            if breaker.is_open:
                if not breaker.probe_due(now):
                    return self._sleep(now, breaker.next_probe_at)
                if self.slot.processor is None or self.slot.probe(scope, now):
                    break  # building the processor is the probe, or the job below is (no probe())
                return 0.0
        if self.slot.processor is None and not self.slot.open(now):
            return self._sleep(now, self.slot.paused_until or self.breakers.next_probe_at())
        lease = self.index.take(now, self.options.max_batch)
        if lease is None:
            return self._idle_step(now)
        self._run(lease, now)
        return 0.0

    def _idle_step(self, now: float) -> float:
        """No job is due: page an entity change unless a job is about to be due."""
        next_due = self.index.next_due()
        if next_due is not None and next_due <= now + self.options.settle_seconds:
            return self._sleep(now, next_due)  # a job is about to be due: it goes before any rename
        assert self.slot.processor is not None
        if self.scheduler.run_next(self.slot.processor, self.slot.policy, now, self.slot.secrets):
            return 0.0
        known = [t for t in (next_due, self.scheduler.next_due()) if t is not None]
        return self._sleep(now, min(known) if known else None)

    def should_exit(self, now: float) -> Optional[str]:
        """"idle" when nothing waits (not even a scheduled retry) and nothing happened for
        `idle_exit_seconds`; "paused" after `paused_exit_seconds` of configuration pause. A build
        that failed on a server that is down waits too, for up to `paused_exit_seconds`, even with
        nothing queued: building does the run's own work first (entry.wiring: the plays catch-up)."""
        opts = self.options
        if self.slot.paused_since is not None and now - self.slot.paused_since >= opts.paused_exit_seconds:
            return "paused"
        if len(self.index) or self._last_activity is None or now - self._last_activity < opts.idle_exit_seconds:
            return None
        if self.queue.waiting_count() == 0 and self.scheduler.waiting() == 0:
            waiting = self.slot.waiting_since if self.slot.processor is None else None
            if waiting is not None and now - waiting < opts.paused_exit_seconds:
                return None
            return "idle"
        self.index.reset()  # rows this index never saw: read the table again from the start
        return None

    def _now(self) -> float:
        """The time processors report at: the step's `now`, advanced by how long the step has run."""
        if self._step_began is None:
            return self.clock()
        now, began = self._step_began
        return now + (time.monotonic() - began)

    def _active(self, now: float) -> None:
        self._last_activity = now

    def _sleep(self, now: float, until: Optional[float]) -> float:
        if until is None:
            return self.options.poll_seconds
        return max(0.0, min(self.options.poll_seconds, until - now))

    # ---- reading rows --------------------------------------------------------------------------

    def _read_new_rows(self, now: float) -> None:
        jobs, unreadable = self.queue.read_new(self.index.last_rowid)
        latest = now + self.options.max_ahead
        for rowid, job in jobs:
            if job.enqueued_at > now or job.not_before > latest:  # a clock that jumped back, or a tampered row
                job = replace(job, enqueued_at=min(job.enqueued_at, now), not_before=min(job.not_before, latest))
            self.index.add(rowid, job)
        if unreadable:
            self.index.last_rowid = max(self.index.last_rowid, max(row.rowid for row in unreadable))
            self.queue.record_outcome([row.rowid for row in unreadable], (),
                                      [self._unreadable_letter(row, now) for row in unreadable], now)
            log.warning("removed %d unreadable queue row(s) to dead letters", len(unreadable))

    def _unreadable_letter(self, row: UnreadableRow, now: float) -> DeadLetterEntry:
        return DeadLetterEntry(None, redact(row.text, self.slot.secrets), "UnreadableJob", "permanent",
                               f"queue row {row.rowid} is not a readable job ({row.error}); it was removed",
                               0, now, now)

    # ---- running one lease and recording its outcome ------------------------------------------

    def _run(self, lease: Lease, now: float) -> None:
        self.queue.mark_in_progress(lease.rowids)
        before = self.breakers.is_open()
        failures: Dict[int, BaseException] = {}
        whole: Optional[BaseException] = None
        try:
            assert self.slot.processor is not None  # step() opens it before running a lease
            failures = dict(self.slot.processor.process(lease.job).failures)
        except Exception as exc:
            whole = exc
            if not isinstance(exc, SyncError):
                log.error("unexpected error processing scenes %s", ids_shown(lease.job), exc_info=True)
        outcome = outcome_of(lease, whole, failures, self.slot.policy, now,
                             open_breakers=self.breakers.open_scopes(), secrets=self.slot.secrets)
        self.queue.record_outcome(outcome.ack, outcome.requeue, outcome.dead, now)
        self.processed += 1
        self._last_activity = now
        if outcome.succeeded:
            self.report.last_success_at = now
        if outcome.pause is not None:
            self.slot.pause(outcome.pause, now)
        self.report.breakers_after(before, now)

    # ---- the thread ----------------------------------------------------------------------------

    def run(self) -> None:
        """Step until stopped or `should_exit`; the processor is closed on the way out."""
        try:
            while not self._stop.is_set():
                delay = self.step(self.clock())
                reason = self.should_exit(self.clock())
                if reason is not None:
                    self.exit_reason = reason
                    break
                self._stop.wait(delay)
            else:
                self.exit_reason = "stopped"
        except BaseException:  # a thread has nobody to raise to: record it and let run_drainer report
            self.exit_reason = "error"
            log.exception("the drainer stopped on an unexpected error; jobs stay queued")
        finally:
            self.slot.close()
            try:
                self.report.heartbeat(self.clock(), force=True)
            except Exception:
                log.debug("final heartbeat failed", exc_info=True)

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(target=self.run, name="plexsync-drainer", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """Finish the current job, then stop."""
        self._stop.set()

    def join(self, timeout: Optional[float] = None) -> bool:
        """Wait for the thread; True when it has ended."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()
