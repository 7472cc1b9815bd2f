"""Looking at and tidying the queue: status, and the dead letters (list, retry, clear, purge).

These read and change only the local queue database, so they work when Stash or Plex is down
(which is when people run them). `status` reports what the drainer last recorded — its
heartbeat, the circuit breaker, a configuration pause — rather than probing Plex itself;
`health` is the live check. A retry puts jobs back and, under Stash, starts a drainer for them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Dict, List, Optional

from sync_queue.drainer_status import BreakerState, DrainerState
from sync_queue.plays_store import PlaysStatus
from tasks.context import TaskContext, TaskResult, ago, plural, when
from tasks.drain import paused_on, scene_message

if TYPE_CHECKING:
    from sync_queue.entity_changes import PendingChange

LIST_LIMIT = 50
PURGE_DAYS = 30.0
HEARTBEAT_STALE = 120.0  # a drainer heartbeats every 15 s while it works


def status(ctx: TaskContext) -> TaskResult:
    """Queue counts, dead letters, last success, the drainer, the breaker and the last configuration error."""
    from worker.launcher import drainer_running

    now = ctx.clock()
    with ctx.open_stores() as stores:
        scenes = stores.jobs.scene_counts(now)
        rows = stores.jobs.counts(now)
        dead = stores.dead_letters.count()
        drainer = stores.status.read()
        last_synced = stores.sync_state.last_synced_at()
        synced = stores.sync_state.count()
        changes = stores.changes.pending()
        plays = PlaysStatus.read(stores.db)
    running = drainer_running(ctx.data_dir)
    last_success = max(filter(None, (last_synced, drainer.last_success_at)), default=None)
    config_error = drainer.config_error
    paused = paused_on(drainer)
    lines = [
        f"waiting: {plural(scenes.pending, 'scene')} due now ({plural(rows.pending, 'job')})",
        f"scheduled retries: {plural(scenes.scheduled, 'scene')}"
        + (f", next {when(rows.next_due_at, now)}" if rows.next_due_at else ""),
        f"in progress: {plural(scenes.in_progress, 'scene')}",
        *([_changes_line(changes)] if changes else []),
        f"dead letters: {dead:,}" + (" (the 'List failed jobs' task shows them)" if dead else ""),
        f"last successful sync: {when(last_success, now)}; {plural(synced, 'scene')} known in Plex",
        _drainer_line(running, drainer, now),
        _breaker_line(drainer.plex, now, drainer.waiting),
        *([_breaker_line(drainer.stash, now, drainer.waiting, "Stash")] if drainer.stash.is_open else []),
        "configuration: " + (f"paused since {when(config_error.at if config_error else None, now)}: {paused}"
                             if paused else "no error reported"
                             + (f" (an earlier one, {when(config_error.at, now)}: {config_error.message})"
                                if config_error else "")),
        *_plays_lines(plays, now),
    ]
    data = {
        "mode": "status",
        "pending": scenes.pending, "scheduled": scenes.scheduled, "in_progress": scenes.in_progress,
        "pending_jobs": rows.pending, "scheduled_jobs": rows.scheduled, "in_progress_jobs": rows.in_progress,
        "next_due_at": rows.next_due_at, "dead_letters": dead, "last_success_at": last_success,
        "synced_scenes": synced, "drainer_running": running, "drainer_pid": drainer.pid if running else None,
        "heartbeat_at": drainer.heartbeat_at, "breaker": drainer.plex.state,
        "config_error": paused, "entity_changes": [change.what for change in changes],
        "plays_last_import_at": plays.last_import_at, "plays_watermark": plays.watermark,
        "plays_waiting": plays.waiting,
    }
    return TaskResult("PlexSync status", lines, data)


def _plays_lines(plays: PlaysStatus, now: float) -> List[str]:
    """Plays from Plex: the last import, the watermark, what waits."""
    if not plays.ever_imported:
        return ["plays from Plex: never imported (the 'Import plays from Plex' task)"]
    return [f"plays from Plex: last import {when(plays.last_import_at, now)}"
            + (f" ({plays.plays_added:,} plays added)" if plays.last_import_at else "")
            + f"; watermark {when(plays.watermark)}; {plays.views_imported:,} views imported",
            f"plays waiting for a match: {plays.waiting:,}"
            + (" (" + ", ".join(repr(title) for title in plays.waiting_titles) + ")" if plays.waiting else "")]


def _changes_line(changes: List["PendingChange"]) -> str:
    """e.g. "renames being queued: tag 12 renamed (past scene 4,000), performer 3 deleted"."""
    shown = [change.what + (f" (past scene {change.after_id:,})" if change.after_id else "")
             + (f", waiting: {change.last_error}" if change.last_error else "") for change in changes[:5]]
    more = f", and {len(changes) - 5:,} more" if len(changes) > 5 else ""
    return "renames being queued: " + "; ".join(shown) + more


def _drainer_line(running: bool, drainer: DrainerState, now: float) -> str:
    if not running:
        stopped = drainer.stopped_at
        return "drainer: not running" + (f" (last stopped {when(stopped, now)})" if stopped else "")
    beat = drainer.heartbeat_at
    text = f"drainer: running (pid {drainer.pid}, last heartbeat {ago(now - beat) if beat else 'not yet'})"
    if beat and now - beat > HEARTBEAT_STALE and drainer.config_error is None:
        text += "; it may be stuck on a slow request"
    return text


def _breaker_line(breaker: BreakerState, now: float, waiting: Optional[int] = None, name: str = "Plex") -> str:
    if not breaker.is_open:
        return f"{name}: answering when last used (circuit breaker closed)"
    probe = breaker.next_probe_at
    return (f"{breaker.down_line(name, waiting)}; only probes reach {name}, nothing is charged"
            + (f", next probe {when(probe, now)}" if probe else ""))


def dlq_list(ctx: TaskContext, limit: int = LIST_LIMIT) -> TaskResult:
    """The dead letters, newest failure first, at most `limit` of them."""
    limit = max(1, int(limit))
    now = ctx.clock()
    with ctx.open_stores() as stores:
        total = stores.dead_letters.count()
        letters = stores.dead_letters.list(page=1, per_page=limit)
    entries: List[Dict[str, object]] = []
    lines: List[str] = []
    for letter in letters:
        event = letter.job.get("event") if isinstance(letter.job, dict) else None
        text = scene_message(letter.scene_id, letter.message)
        lines.append(f"#{letter.id} {text} ({letter.error_kind}, {plural(letter.attempts, 'attempt')}, "
                     f"last {when(letter.last_failed_at, now)})")
        entries.append({"id": letter.id, "scene_id": letter.scene_id, "event": event, "kind": letter.error_kind,
                        "error_class": letter.error_class, "message": letter.message, "attempts": letter.attempts,
                        "first_failed_at": letter.first_failed_at, "last_failed_at": letter.last_failed_at})
    if not total:
        lines.append("no failed jobs")
    elif total > len(letters):
        lines.append(f"… and {total - len(letters):,} older ones")
    title = f"Failed jobs: {total:,}" + (f" (newest {len(letters)} shown)" if total > len(letters) else "")
    return TaskResult(title, lines, {"mode": "dlq_list", "total": total, "dead_letters": entries})


def dlq_retry(ctx: TaskContext) -> TaskResult:
    """Every dead letter back into the queue as a fresh job; under Stash, start a drainer for them."""
    with ctx.open_stores() as stores:
        retried = stores.dead_letters.retry(None, now=ctx.clock())
        left = stores.dead_letters.count()
    lines = [f"{plural(retried, 'failed job')} put back in the queue"]
    if left:
        lines.append(f"{plural(left, 'entry', 'entries')} could not be rebuilt as jobs and stay in dead letters")
    started = _start_drainer(ctx) if retried else None
    if started:
        lines.append(started)
    return TaskResult("Retry failed jobs", lines, {"mode": "dlq_retry", "retried": retried, "left": left})


def dlq_clear(ctx: TaskContext) -> TaskResult:
    with ctx.open_stores() as stores:
        cleared = stores.dead_letters.clear()
    return TaskResult("Delete failed jobs", [f"{plural(cleared, 'failed job')} deleted; those scenes sync again on "
                                             "their next change or the next sync task"],
                      {"mode": "dlq_clear", "deleted": cleared})


def dlq_purge(ctx: TaskContext, days: float = PURGE_DAYS) -> TaskResult:
    days = float(days)
    with ctx.open_stores() as stores:
        purged = stores.dead_letters.purge(days, now=ctx.clock())
        left = stores.dead_letters.count()
    return TaskResult("Delete old failed jobs", [f"{plural(purged, 'failed job')} older than {days:g} days deleted; "
                                                 f"{left:,} newer ones kept"],
                      {"mode": "dlq_purge", "deleted": purged, "kept": left, "days": days})


def _start_drainer(ctx: TaskContext) -> Optional[str]:
    """Under Stash: make sure a drainer runs (saving the connection first if none is saved)."""
    if ctx.foreground:
        return "they run with the next drainer: 'python PlexSync.py worker', or the next sync"
    from stash.connection import connection_path, save_connection
    from worker.launcher import ensure_drainer

    if ctx.connection is not None and not connection_path(ctx.data_dir).exists():
        save_connection(ctx.data_dir, ctx.connection)
    if not connection_path(ctx.data_dir).exists():
        return "run a sync task to start the drainer"
    ensure_drainer(ctx.data_dir, ctx.plugin_dir)
    return "the background drainer is working on them"
