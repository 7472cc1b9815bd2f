"""The SyncWorker: takes due jobs, runs the processor, and records each outcome durably.

`step(now)` is one iteration with the time passed in (tests drive it without sleeping); `run()`
loops over it in a daemon thread until stopped or idle. One outcome is one transaction in
`JobQueue.record_outcome`: the job's rows are removed and their follow-ups (a retry, a scene
split off a batch, dead letters) written together, after the processor returned. A kill before
that commit leaves the rows "in progress" for the next drainer to put back.

What each failure means is the table in `common.errors`; the delays are policy.py's. Plex-wide
and Stash-wide failures are never charged: they open that server's breaker (breaker.py), and
while it is open the only request is one probe at a time (`processor.probe(scope)`, or building
the processor again when it could not be built), with a doubling, jittered delay. A
configuration error pauses the worker, closes the processor and builds a new one (settings may
have been fixed) after `pause_seconds`. Every delay is in `WorkerOptions`; `scaled(f)`
shrinks them all at once, so tests play long outages in seconds (PLEXSYNC_TIME_SCALE).

Renamed, merged and deleted tags, performers, studios and groups (sync_queue.entity_changes)
become scene jobs here, one page of scene ids per step and only when no job is due within the
settle time, so fresh edits never wait behind a rename on 20,000 scenes for more than a page.
"""
from __future__ import annotations

import json
import os
import random
import threading
import time
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from common.errors import CONFIG, PLEX, STASH, ConfigurationError, PlexServerError, SyncError, scope_of
from common.log import get_logger
from common.redact import redact
from sync_queue.dead_letters import DeadLetterEntry
from sync_queue.drainer_status import (
    BREAKER,
    CONFIG_ERROR,
    HEARTBEAT_AT,
    LAST_SUCCESS_AT,
    STASH_BREAKER,
    WAITING,
    DrainerStatus,
)
from sync_queue.entity_changes import EntityChanges, PendingChange
from sync_queue.jobqueue import JobQueue, UnreadableRow, job_rows
from sync_queue.jobs import Job
from worker.breaker import CircuitBreaker
from worker.due_index import DueIndex, Lease
from worker.policy import NOT_IN_PLEX_SCHEDULE, Action, Decision, RetryPolicy, error_kind, user_message
from worker.protocol import Processor, ProcessorFactory

log = get_logger("worker")


@dataclass
class WorkerOptions:
    max_retries: int = 5  # until a processor is built: then the retry limit it comes with
    settle_seconds: float = 2.0
    max_settle_seconds: float = 30.0
    idle_exit_seconds: float = 60.0
    pause_seconds: float = 30.0  # how long a configuration error pauses before trying again
    paused_exit_seconds: float = 3600.0  # exit after being paused this long; the next hook restarts
    poll_seconds: float = 1.0  # longest sleep: new rows from other processes are seen this fast
    heartbeat_seconds: float = 15.0
    max_batch: int = 50
    change_page: int = 200  # scenes of a renamed tag (performer, ...) queued per step
    breaker_threshold: int = 1  # Plex-wide (or Stash-wide) failures in a row that open a breaker
    probe_base_seconds: float = 1.0  # first probe after a breaker opens; doubles on each failure
    probe_cap_seconds: float = 60.0
    backoff_base_seconds: float = 10.0
    backoff_cap_seconds: float = 900.0
    min_retry_seconds: float = 1.0
    not_in_plex_schedule: Tuple[float, ...] = NOT_IN_PLEX_SCHEDULE

    def scaled(self, factor: float) -> "WorkerOptions":
        """Every delay multiplied by `factor` (tests play a 3-minute outage in a few seconds)."""
        changed = {f.name: getattr(self, f.name) * factor for f in fields(self)
                   if f.name.endswith("_seconds")}
        changed["not_in_plex_schedule"] = tuple(delay * factor for delay in self.not_in_plex_schedule)
        return replace(self, **changed)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "WorkerOptions":
        """The defaults, scaled by PLEXSYNC_TIME_SCALE when set (a number > 0; for tests and benches)."""
        try:
            factor = float(env.get(TIME_SCALE_ENV, "") or 1.0)
        except ValueError:
            factor = 1.0
        return cls().scaled(factor) if 0 < factor != 1.0 else cls()


TIME_SCALE_ENV = "PLEXSYNC_TIME_SCALE"


class SyncWorker:
    def __init__(self, queue: JobQueue, processor_factory: ProcessorFactory, *,
                 status: Optional[DrainerStatus] = None, options: Optional[WorkerOptions] = None,
                 clock: Callable[[], float] = time.time, rng: Optional[random.Random] = None,
                 stop_event: Optional[threading.Event] = None, changes: Optional[EntityChanges] = None) -> None:
        self.queue = queue
        self.changes = changes
        self.processor_factory = processor_factory
        self.status = status
        self.options = options or WorkerOptions()
        self.clock = clock
        rng = rng or random.Random()
        opts = self.options
        self.index = DueIndex(opts.settle_seconds, opts.max_settle_seconds)
        self.policy = RetryPolicy(opts.max_retries, opts.backoff_base_seconds, opts.backoff_cap_seconds,
                                  min_delay=opts.min_retry_seconds,
                                  not_in_plex_schedule=tuple(opts.not_in_plex_schedule), rng=rng)
        self.breaker = CircuitBreaker(opts.breaker_threshold, opts.probe_base_seconds, opts.probe_cap_seconds, rng=rng)
        self.stash_breaker = CircuitBreaker(opts.breaker_threshold, opts.probe_base_seconds, opts.probe_cap_seconds,
                                            rng=rng)
        self._breakers = {PLEX: self.breaker, STASH: self.stash_breaker}
        self._processor_feeds_breakers = False  # the processor reports each request to the breakers
        # No row may keep the drainer waiting longer than any delay the policy itself can set.
        self._max_ahead = max(86400.0, 2 * max(opts.not_in_plex_schedule, default=0.0), 2 * opts.backoff_cap_seconds)
        self.processed = 0  # leases whose outcome was recorded
        self.exit_reason: Optional[str] = None  # idle, paused, stopped or error
        self._processor: Optional[Processor] = None
        self._secrets: Tuple[str, ...] = ()
        self._paused_until: Optional[float] = None
        self._paused_since: Optional[float] = None
        self._pause_message: Optional[str] = None
        self._last_activity: Optional[float] = None
        self._last_heartbeat: Optional[float] = None
        self._last_success_at: Optional[float] = None
        self._stop = stop_event or threading.Event()  # set: finish the current job, then stop
        self._thread: Optional[threading.Thread] = None

    # ---- one iteration -------------------------------------------------------------------------

    def step(self, now: float) -> float:
        """Do at most one job; return how long to sleep before the next step."""
        if self._last_activity is None:
            self._last_activity = now
        self._read_new_rows(now)
        self._heartbeat(now)
        if self._paused_until is not None:
            if now < self._paused_until:
                return self._sleep(now, self._paused_until)
            self._paused_until = None
        for scope, breaker in self._breakers.items():
            if breaker.is_open:
                if not breaker.probe_due(now):
                    return self._sleep(now, breaker.next_probe_at)
                if self._processor is None or self._probe(scope, breaker, now):
                    break  # building the processor is the probe, or the job below is (no probe())
                return 0.0
        if self._processor is None and not self._open_processor(now):
            return self._sleep(now, self._paused_until or self._next_probe())
        lease = self.index.take(now, self.options.max_batch)
        if lease is None:
            next_due = self.index.next_due()
            if next_due is not None and next_due <= now + self.options.settle_seconds:
                return self._sleep(now, next_due)  # a job is about to be due: it goes before any rename
            if self._resolve_change(now):
                return 0.0
            return self._sleep(now, _earliest(next_due, self.changes.next_due() if self.changes else None))
        self._run(lease, now)
        return 0.0

    def should_exit(self, now: float) -> Optional[str]:
        """"idle" when nothing waits (not even a scheduled retry) and nothing happened for
        `idle_exit_seconds`; "paused" after `paused_exit_seconds` of configuration pause."""
        opts = self.options
        if self._paused_since is not None and now - self._paused_since >= opts.paused_exit_seconds:
            return "paused"
        if len(self.index) or self._last_activity is None or now - self._last_activity < opts.idle_exit_seconds:
            return None
        if self.queue.waiting_count() == 0 and (self.changes is None or self.changes.count() == 0):
            return "idle"
        self.index.reset()  # rows this index never saw: read the table again from the start
        return None

    def _next_probe(self) -> Optional[float]:
        due = [b.next_probe_at for b in self._breakers.values() if b.next_probe_at is not None]
        return min(due) if due else None

    def _probe(self, scope: str, breaker: CircuitBreaker, now: float) -> bool:
        """One probe of `scope`; True when the processor cannot probe (the next job is the probe)."""
        assert self._processor is not None
        try:
            if not self._processor.probe(scope):
                return True
        except Exception as exc:
            breaker.record_probe(False, now, exc)
            self._report_breaker(now, scope, True)
        else:
            breaker.record_probe(True, now)
            self._report_breaker(now, scope, True)
        return False

    def _sleep(self, now: float, until: Optional[float]) -> float:
        if until is None:
            return self.options.poll_seconds
        return max(0.0, min(self.options.poll_seconds, until - now))

    # ---- reading rows --------------------------------------------------------------------------

    def _read_new_rows(self, now: float) -> None:
        jobs, unreadable = self.queue.read_new(self.index.last_rowid)
        latest = now + self._max_ahead
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
        return DeadLetterEntry(None, redact(row.text, self._secrets), "UnreadableJob", "permanent",
                               f"queue row {row.rowid} is not a readable job ({row.error}); it was removed",
                               0, now, now)

    # ---- processor lifecycle -------------------------------------------------------------------

    def _open_processor(self, now: float) -> bool:
        try:
            ready = self.processor_factory()
        except Exception as exc:  # ConfigurationError, or a factory that cannot start at all
            scope = scope_of(exc)
            if scope in self._breakers:  # the server is down: probe by building again later
                breaker = self._breakers[scope]
                was_open = breaker.is_open
                while not breaker.record_failure(now, exc):
                    pass
                self._report_breaker(now, scope, was_open)
                return False
            if not isinstance(exc, ConfigurationError):
                log.error("could not build the processor", exc_info=True)
            self._pause(exc, now)
            return False
        self._processor = ready.processor
        self._processor_feeds_breakers = ready.processor.use_breakers(self.breaker, self.stash_breaker, self.clock)
        for scope, breaker in self._breakers.items():
            if breaker.record_success():
                self._report_breaker(now, scope, True)
        self._secrets = tuple(secret for secret in ready.secrets if secret)
        self.policy = replace(self.policy, max_retries=ready.max_retries)
        if self._pause_message is not None:
            log.info("configuration works again; resuming")
            self._pause_message = self._paused_since = None
        if self.status is not None and self.status.get(CONFIG_ERROR) is not None:
            self.status.record_config_error(None, now)  # also an earlier drainer's, now fixed
        return True

    def _pause(self, error: BaseException, now: float) -> None:
        message = user_message(error, self._secrets)
        if message != self._pause_message:
            log.error("paused: %s (jobs stay queued; trying again every %gs)", message, self.options.pause_seconds)
            if self.status is not None:
                self.status.record_config_error(message, now)
        self._pause_message = message
        self._paused_since = self._paused_since if self._paused_since is not None else now
        self._paused_until = now + self.options.pause_seconds
        self._close_processor()

    def _close_processor(self) -> None:
        processor, self._processor = self._processor, None
        if processor is not None:
            try:
                processor.close()
            except Exception:
                log.warning("processor close failed", exc_info=True)

    # ---- entity changes: one page of their scenes becomes jobs ---------------------------------

    def _resolve_change(self, now: float) -> bool:
        """Queue the next page of scenes of the oldest due entity change; False: none is due."""
        change = self.changes.take(now) if self.changes is not None else None
        if change is None:
            return False
        assert self._processor is not None and self.changes is not None
        page = max(1, self.options.change_page)
        try:
            scene_ids = self._processor.scene_ids_for(change.kind, change.entity_id, change.after_id, page)
        except Exception as exc:
            self._change_failed(change, exc, now)
            return True
        rows = job_rows(scene_ids, "sync", change.what, False, now, enqueued_at=now - self.options.settle_seconds,
                        size=self.options.max_batch)
        finished = len(scene_ids) < page
        self.changes.advance(change, scene_ids, rows, finished)
        self._last_activity = now
        log.info("%s: queued %d scene(s)%s", change.what, len(scene_ids), "" if finished else ", more to come")
        return True

    def _change_failed(self, change: PendingChange, error: BaseException, now: float) -> None:
        assert self.changes is not None
        scope = scope_of(error)
        message = user_message(error, self._secrets)
        if scope in self._breakers:
            breaker = self._breakers[scope]
            was_open = breaker.is_open
            if not self._processor_feeds_breakers:
                breaker.record_failure(now, error)
            self._report_breaker(now, scope, was_open)
            self.changes.postpone(change, now + self.options.probe_base_seconds, message)
            return
        decision = self.policy.decide(error, change.attempts)
        if decision.action is Action.PAUSE:
            self._pause(error, now)
        elif decision.action in (Action.RETRY, Action.WAIT):
            self.changes.postpone(change, now + max(decision.delay, self.options.min_retry_seconds), message)
            log.info("%s: %s; trying again in %.0fs", change.what, message, decision.delay)
        else:
            self.changes.drop(change)
            log.warning("%s: %s; its scenes are synced on their next change or the next sync task",
                        change.what, message)

    # ---- running one lease and recording its outcome ------------------------------------------

    def _run(self, lease: Lease, now: float) -> None:
        self.queue.mark_in_progress(lease.rowids)
        before = {scope: breaker.is_open for scope, breaker in self._breakers.items()}
        job = lease.job
        failures: Dict[int, BaseException] = {}
        whole: Optional[BaseException] = None
        try:
            assert self._processor is not None  # step() opens it before running a lease
            failures = dict(self._processor.process(job).failures)
        except Exception as exc:
            whole = exc
            if not isinstance(exc, SyncError):
                log.error("unexpected error processing scenes %s", _ids(job), exc_info=True)
        self._record(lease, whole, failures, now)
        for scope, breaker in self._breakers.items():
            if breaker.is_open != before[scope] or (breaker.is_open and not self._processor_feeds_breakers):
                self._report_breaker(now, scope, before[scope])

    def _record(self, lease: Lease, whole: Optional[BaseException],
                failures: Dict[int, BaseException], now: float) -> None:
        job = lease.job
        parts = self._failed_parts(job, whole, failures)
        succeeded = len(job.scene_ids) - sum(len(part.scene_ids) for part, _ in parts)
        if not self._processor_feeds_breakers:
            self._feed_breakers(parts, succeeded, now)
        requeue: List[Job] = []
        dead: List[DeadLetterEntry] = []
        pause_error: Optional[BaseException] = None
        for part, error in parts:
            kind = error_kind(error)
            if isinstance(error, PlexServerError) and self.breaker.is_open:
                decision = Decision(Action.WAIT)  # 500s spread over items: Plex-wide
            else:
                decision = self.policy.decide(error, part.attempts, repeated=part.last_error_kind == kind)
            message = user_message(error, self._secrets)
            if decision.action is Action.PAUSE:
                pause_error = pause_error or error
                requeue.append(part)
            elif decision.action is Action.WAIT:
                requeue.append(replace(part, not_before=now + decision.delay, last_error=message,
                                       last_error_kind=kind))
                log.debug("scenes %s: %s; waiting, not charged", _ids(part), message)
            elif decision.action is Action.DROP:
                log.info("scenes %s: %s; dropped", _ids(part), message)
            elif decision.action is Action.RETRY:
                requeue.append(replace(part, attempts=part.attempts + 1, not_before=now + decision.delay,
                                       first_failed_at=_first(part, now), last_error=message,
                                       last_error_kind=kind))
                log.info("scenes %s: %s; retry %d in %.0fs", _ids(part), message, part.attempts + 1, decision.delay)
            else:
                dead.extend(self._letters(part, error, message, now))
                log.warning("scenes %s moved to dead letters: %s", _ids(part), message)
        self.queue.record_outcome(lease.rowids, requeue, dead, now)
        self.processed += 1
        self._last_activity = now
        if succeeded:
            self._last_success_at = now
        if pause_error is not None:
            self._pause(pause_error, now)

    @staticmethod
    def _failed_parts(job: Job, whole: Optional[BaseException],
                      failures: Dict[int, BaseException]) -> List[Tuple[Job, BaseException]]:
        """What failed, as (job, error) pairs: the whole job, or each failed scene of a batch on its own."""
        if whole is not None:
            return [(job, whole)]
        unknown = [scene_id for scene_id in failures if scene_id not in job.scene_ids]
        if unknown:
            log.warning("processor reported scenes %s that were not in the job; ignored", unknown[:10])
        return [(job.for_scenes([scene_id]) if len(job.scene_ids) > 1 else job, error)
                for scene_id, error in failures.items() if scene_id in job.scene_ids]

    def _feed_breakers(self, parts: List[Tuple[Job, BaseException]], succeeded: int, now: float) -> None:
        """For a processor that does not report each request itself: feed the outcome of a job."""
        wide = [(scope_of(error), error, part) for part, error in parts]
        for scope, error, part in wide:
            if scope in self._breakers:
                self._breakers[scope].record_failure(now, error)
            elif isinstance(error, PlexServerError):
                self.breaker.record_failure(now, error, subject=tuple(part.scene_ids))
        if succeeded or any(scope not in self._breakers and scope != CONFIG and not isinstance(error, PlexServerError)
                            for scope, error, _ in wide):
            for scope, breaker in self._breakers.items():
                if not any(s == scope for s, _, _ in wide):
                    breaker.record_success()  # that server answered (or was not needed)

    def _letters(self, part: Job, error: BaseException, message: str, now: float) -> List[DeadLetterEntry]:
        letters = []
        for scene_id in part.scene_ids:
            single = replace(part.for_scenes([scene_id]), attempts=part.attempts + 1, not_before=0.0,
                             first_failed_at=_first(part, now), last_error=message)
            letters.append(DeadLetterEntry(scene_id, json.dumps(single.to_dict()), type(error).__name__,
                                           error_kind(error), message, single.attempts, _first(part, now), now))
        return letters

    # ---- status --------------------------------------------------------------------------------

    def _report_breaker(self, now: float, scope: str, was_open: bool) -> None:
        """Log and record the breaker's state: one line saying since when and how much waits."""
        breaker = self._breakers[scope]
        name = "Plex" if scope == PLEX else "Stash"
        if breaker.is_open:
            line = down_line(name, breaker.snapshot(), self._waiting(now))
            if not was_open:
                log.warning("%s: %s traffic paused, probing with backoff (last error: %s)", line, name,
                            user_message(SyncError(breaker.last_error), self._secrets))
            else:
                log.info("%s; next probe in %.1fs", line, max(0.0, (breaker.next_probe_at or now) - now))
        elif was_open:
            log.info("%s answers again: resuming", name)
        if self.status is not None:
            self.status.set_many({BREAKER: self.breaker.snapshot(), STASH_BREAKER: self.stash_breaker.snapshot(),
                                  WAITING: self._waiting(now)}, now)

    def _waiting(self, now: float) -> int:
        counts = self.queue.scene_counts(now)
        return counts.pending + counts.scheduled + counts.in_progress

    def _heartbeat(self, now: float) -> None:
        if self.status is None:
            return
        if self._last_heartbeat is not None and now - self._last_heartbeat < self.options.heartbeat_seconds:
            return
        self._last_heartbeat = now
        values = {HEARTBEAT_AT: now, BREAKER: self.breaker.snapshot(), STASH_BREAKER: self.stash_breaker.snapshot()}
        if self._last_success_at is not None:
            values[LAST_SUCCESS_AT] = self._last_success_at
        self.status.set_many(values, now)

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
            self._close_processor()
            self._last_heartbeat = None
            try:
                self._heartbeat(self.clock())
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


def _earliest(*times: Optional[float]) -> Optional[float]:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _first(job: Job, now: float) -> float:
    return job.first_failed_at if job.first_failed_at is not None else now


def _ids(job: Job) -> str:
    shown = ",".join(str(scene_id) for scene_id in job.scene_ids[:5])
    return shown + (f",… ({len(job.scene_ids)})" if len(job.scene_ids) > 5 else "")


def down_line(name: str, breaker: Mapping[str, object], waiting: Optional[int]) -> str:
    """"Plex has not been answering since 14:02 (5 probes); 1,500 scenes waiting"."""
    since = breaker.get("opened_at")
    at = datetime.fromtimestamp(float(since)).strftime("%H:%M") if isinstance(since, (int, float)) else "?"
    probes = int(breaker.get("probes") or 0)  # type: ignore[call-overload]
    line = f"{name} has not been answering since {at} ({probes} probe{'' if probes == 1 else 's'})"
    if waiting is not None:
        line += f"; {waiting:,} scene{'' if waiting == 1 else 's'} waiting"
    return line
