"""Waiting for the queue to drain, with progress, and what the drain did.

A task never syncs scenes itself: it queues them and a drainer does the work, so a task that is
cancelled (Stash SIGKILLs it) loses nothing. This module starts the drainer — a detached process
under Stash, a thread of the CLI's own process otherwise, so CLI overrides reach it — and polls
the queue until nothing is due or in progress. There is no deadline: the loop ends when the work
is done, when the drainer reports a configuration error (that error is the task's answer), when
Plex refuses connections (the drainer keeps the jobs and probes on), or when the drainer keeps
dying with work left. Retries scheduled for later (scenes Plex has not scanned yet) do not hold
the task: they are reported.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Collection, Dict, List, Optional, Protocol

from common.errors import NotInPlexYet
from common.log import get_logger
from sync_queue.drainer_status import DrainerState
from tasks.context import TaskContext, plural, span, when

if TYPE_CHECKING:
    from sync_queue.dead_letters import DeadLetter
    from sync_queue.stores import Stores

log = get_logger("tasks")


@dataclass
class DrainOutcome:
    drained: bool
    error: Optional[str] = None  # why the task stopped waiting with work left
    note: Optional[str] = None  # e.g. "a background drainer did the work with Stash's settings"


class Runner(Protocol):
    """What QueueWatch needs of whoever starts the drainer (tests stand in for it)."""

    started_at: Optional[float]
    note: Optional[str]

    def running_elsewhere(self) -> bool: ...

    def in_process(self) -> bool: ...

    def alive(self) -> bool: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class _Runner:
    """Starts the drainer and says whether one is alive: detached (Stash) or in-process (CLI)."""

    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        self.thread: Optional[threading.Thread] = None
        self.stop_event = threading.Event()
        self.started_at: Optional[float] = None
        self.note: Optional[str] = None

    def running_elsewhere(self) -> bool:
        from worker.launcher import drainer_running

        return drainer_running(self.ctx.data_dir)

    def in_process(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def alive(self) -> bool:
        return self.in_process() or self.running_elsewhere()

    def start(self) -> None:
        self.started_at = self.ctx.clock()
        if not self.ctx.foreground:
            from worker.launcher import ensure_drainer

            ensure_drainer(self.ctx.data_dir, self.ctx.plugin_dir)
            return
        if self.thread is not None and self.thread.is_alive():
            return
        if self.running_elsewhere():
            self.note = ("a background drainer was already running and did the work with Stash's settings "
                         "(command-line overrides did not apply to it)")
            return
        self.thread = threading.Thread(target=self._drain, name="plexsync-cli-drainer", daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        from worker.drainer import run_drainer

        factory = self.ctx.services.processor_factory(self.ctx.connection, self.ctx.overrides)
        run_drainer(self.ctx.data_dir, factory, options=self.ctx.drainer_options, stop_event=self.stop_event,
                    database=self.ctx.services.database())

    def stop(self) -> None:
        """End an in-process drainer (it finishes its current job); a detached one carries on."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join()


def down_problem(status: DrainerState, since: float) -> Optional[str]:
    """"Plex has not been answering since 14:02 (5 probes); 1,500 scenes waiting" while a fresh
    report of this run says a breaker is open (Stash's or Plex's), else None."""
    if (status.heartbeat_at or 0.0) < since:
        return None
    for breaker, name in ((status.stash, "Stash"), (status.plex, "Plex")):
        if breaker.is_open:
            return breaker.down_line(name, status.waiting)
    return None


def current_problem(status: DrainerState, since: float) -> Optional[str]:
    """A configuration pause or an open breaker reported during this run (since `since`), as one line.

    Older reports may be stale: the settings may have been fixed, or the drainer that saw Plex
    down may be gone. A live drainer renews its breaker state with every heartbeat.
    """
    error = status.config_error
    if error is not None and error.at >= since:
        return f"{error.message} (the queued jobs are kept and run once this is fixed)"
    down = down_problem(status, since)
    if down is not None:
        server = "Stash" if down.startswith("Stash") else "Plex"
        setting = "the Stash address" if server == "Stash" else "plex_url"
        return (f"{down}; nothing is charged and the drainer carries on by itself when {server} answers: "
                f"check that {server} is running and {setting}")
    return None


def paused_on(status: DrainerState) -> Optional[str]:
    """The configuration error the latest drainer is paused on, if it is (a drainer that starts
    fine clears the record; the times also rule out one left by a drainer that died paused)."""
    error = status.config_error
    if error is None or error.at < (status.started_at or 0.0):
        return None
    if (status.last_success_at or 0.0) > error.at:
        return None
    return error.message


def stale_pause(status: DrainerState, since: float) -> bool:
    """The latest drainer paused on a configuration error before this run: the settings may be fixed now."""
    return paused_on(status) is not None and status.config_error is not None and status.config_error.at < since


class QueueWatch:
    """Drives one drain: start the drainer, poll, draw progress, decide when to stop waiting."""

    def __init__(self, ctx: TaskContext, stores: "Stores", started_at: float, *, base: float = 0.0,
                 label: str = "scenes", runner: Optional[Runner] = None) -> None:
        self.ctx = ctx
        self.stores = stores
        self.started_at = started_at
        self.base = base  # share of the progress bar already used (by paging through Stash)
        self.label = label
        self.runner: Runner = runner or _Runner(ctx)
        self.total = 0
        self._shown = 0.0
        self._nudged = False

    def begin(self, total: int) -> None:
        """Start the drainer for `total` scenes (more may be added with `grow`)."""
        self.total = max(self.total, total)
        if not self.runner.alive():
            self.runner.start()

    def grow(self, scenes: int) -> None:
        self.total += scenes

    def show(self, fraction: float, message: str) -> None:
        self._shown = max(self._shown, min(1.0, fraction))
        self.ctx.progress(self._shown, message)

    def wait(self) -> DrainOutcome:
        """Poll until nothing is due or in progress; see the module docstring for the other ends."""
        ctx = self.ctx
        restarts, best = 0, None
        while True:
            now = ctx.clock()
            counts = self.stores.jobs.scene_counts(now)
            written = len(self.stores.sync_state.synced_since(self.started_at))
            remaining = counts.unfinished
            self.total = max(self.total, remaining)
            done = max(self.total - remaining, min(written, self.total))
            share = done / self.total if self.total else 1.0
            self.show(self.base + (1.0 - self.base) * share,
                      f"{done:,} of {self.total:,} {self.label} done, {plural(written, 'scene')} written to Plex")
            if remaining == 0:
                return DrainOutcome(True, note=self.runner.note)
            status = self.stores.status.read()
            if not self._nudged and stale_pause(status, self.started_at) and self.runner.running_elsewhere() \
                    and not self.runner.in_process():
                self._nudged = True
                log.info("the drainer is paused on an earlier configuration error; asking it to read the settings again")
                self.stores.status.request_retry(now)  # it builds again now, not at the end of its pause
            else:
                problem = current_problem(status, self.started_at)
                if problem is not None:
                    return DrainOutcome(False, error=problem, note=self.runner.note)
            if best is None or remaining < best:
                best, restarts = remaining, 0
            if not self.runner.alive() and now - (self.runner.started_at or 0.0) >= ctx.restart_grace_seconds:
                if restarts >= ctx.max_restarts:
                    return DrainOutcome(False, error=(
                        f"the drainer stopped {restarts} times with {plural(remaining, 'scene')} left; the jobs stay "
                        f"queued: see {ctx.data_dir / 'drainer.log'}"), note=self.runner.note)
                restarts += 1
                log.info("no drainer is running with %d scene(s) left; starting one", remaining)
                self.runner.start()
            # A huge backlog makes each look at the queue cost more: look less often, not more CPU.
            ctx.sleep(max(ctx.poll_seconds, 4.0 * (ctx.clock() - now)))

    def finish(self) -> None:
        self.runner.stop()


@dataclass
class DrainSummary:
    queued: int
    written: int = 0
    dead_lettered: int = 0
    not_in_plex: int = 0
    retrying: int = 0
    still_queued: int = 0  # due or in progress when the task stopped waiting (a pause, Plex down)
    dead_examples: List[str] = field(default_factory=list)
    missing_examples: List[str] = field(default_factory=list)
    next_retry_at: Optional[float] = None

    @property
    def unchanged(self) -> int:
        return max(0, self.queued - self.written - self.dead_lettered - self.not_in_plex - self.retrying
                   - self.still_queued)

    def lines(self, now: float, foreground: bool = False) -> List[str]:
        lines = [f"{plural(self.queued, 'scene')} queued: {self.written:,} written to Plex, "
                 f"{self.unchanged:,} unchanged, {self.dead_lettered:,} failed (dead letters), "
                 f"{self.not_in_plex:,} not in Plex yet, {self.retrying:,} retrying"
                 + (f", {self.still_queued:,} still queued" if self.still_queued else "")]
        lines += [f"failed: {text}" for text in self.dead_examples]
        lines += [f"not in Plex yet: {text}" for text in self.missing_examples]
        if self.next_retry_at:
            who = ("by the next drainer (a Stash hook or task, or 'python PlexSync.py worker')" if foreground
                   else "automatically")
            lines.append(f"waiting scenes are retried {who}; next retry due {when(self.next_retry_at, now)}")
        if self.dead_lettered:
            lines.append("the failed scenes are listed by the 'List failed jobs' task (dlq_list)")
        return lines

    def to_json(self) -> Dict[str, object]:
        return {"queued": self.queued, "written": self.written, "unchanged": self.unchanged,
                "dead_lettered": self.dead_lettered, "not_in_plex": self.not_in_plex, "retrying": self.retrying,
                "still_queued": self.still_queued, "next_retry_at": self.next_retry_at}


def summarize(stores: "Stores", started_at: float, scene_ids: Optional[Collection[int]], now: float,
              examples: int = 5) -> DrainSummary:
    """What happened to `scene_ids` (None: every scene touched) since `started_at`."""
    ours = set(scene_ids) if scene_ids is not None else None

    def mine(scene_id: Optional[int]) -> bool:
        return scene_id is not None and (ours is None or scene_id in ours)

    written = [s for s in stores.sync_state.synced_since(started_at) if mine(s)]
    dead: List["DeadLetter"] = []
    page = 1
    while True:
        letters = stores.dead_letters.list(page=page, per_page=200)
        fresh = [letter for letter in letters if letter.last_failed_at >= started_at]
        dead.extend(letter for letter in fresh if mine(letter.scene_id))
        if len(fresh) < len(letters) or len(letters) < 200:
            break
        page += 1
    missing: set = set()
    retrying: set = set()
    next_at: Optional[float] = None
    missing_text: List[str] = []
    for job in stores.jobs.scheduled_jobs(now):
        scenes = {s for s in job.scene_ids if mine(s)}
        if not scenes:
            continue
        if job.last_error_kind == NotInPlexYet.kind:
            missing |= scenes
            if len(missing_text) < examples:
                missing_text.append(job.last_error)
        else:
            retrying |= scenes
        next_at = job.not_before if next_at is None else min(next_at, job.not_before)
    waiting = stores.jobs.scene_counts(now).unfinished
    queued = len(ours) if ours is not None else len(set(written) | {d.scene_id for d in dead} | missing | retrying)
    return DrainSummary(queued=queued, written=len(set(written)), dead_lettered=len({d.scene_id for d in dead}),
                        not_in_plex=len(missing), retrying=len(retrying - missing),
                        still_queued=min(waiting, max(0, queued - len(set(written)) - len(dead) - len(missing))),
                        dead_examples=[scene_message(d.scene_id, d.message) for d in dead[:examples]],
                        missing_examples=missing_text, next_retry_at=next_at)


def scene_message(scene_id: Optional[int], message: str) -> str:
    """"scene 12: why", without repeating the scene when the message already starts with it."""
    if scene_id is None:
        return message
    return message if message.startswith(f"scene {scene_id}") else f"scene {scene_id}: {message}"


def describe_wait(outcome: DrainOutcome, seconds: float) -> str:
    if outcome.drained:
        return f"the queue was worked through in {span(seconds)}"
    return f"stopped waiting after {span(seconds)}: {outcome.error}"
