"""Bulk sync: queue every scene (or the recently updated ones) and wait for the drainer to finish.

The scenes are read from Stash as id pages of bounded size (never `per_page: -1`) and queued as
batch jobs of up to 500 ids, each page in one transaction; the drainer starts after the first
page, so work begins while later pages are still being read. A normal sync relies on the
writer's hash check to skip unchanged scenes (one Stash read per batch, no Plex request);
`force` rewrites every scene. `process_queue` only waits for what is already queued.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

from common.log import get_logger
from tasks.context import TaskContext, TaskResult, plural, span, when
from tasks.drain import DrainOutcome, DrainSummary, QueueWatch, describe_wait, summarize

if TYPE_CHECKING:
    from stash.client import StashClient
    from sync_queue.stores import Stores

log = get_logger("tasks.sync")
PAGE_SIZE = 500
RECENT_HOURS = 24.0
ENQUEUE_SHARE = 0.05  # of the progress bar, for reading the scene ids from Stash


def sync_all(ctx: TaskContext) -> TaskResult:
    """Queue every scene; only the changed ones cost Plex requests."""
    return _sync(ctx, "Sync changed scenes", "sync task", force=False)


def sync_all_force(ctx: TaskContext) -> TaskResult:
    """Queue every scene to be rewritten in Plex, changed or not."""
    return _sync(ctx, "Resync all scenes (force)", "forced resync task", force=True)


def sync_recent(ctx: TaskContext, hours: float = RECENT_HOURS) -> TaskResult:
    """Queue the scenes updated in the last `hours` hours."""
    from stash.scenes import recent_cutoff

    return _sync(ctx, "Sync recent scenes", f"recent sync task (last {hours:g} h)", force=False,
                 updated_since=recent_cutoff(hours), hours=hours)


def process_queue(ctx: TaskContext) -> TaskResult:
    """Make sure a drainer works on the queue and wait until nothing is due or in progress."""
    session = ctx.connect()
    session.client.close()
    started = ctx.clock()
    with ctx.open_stores() as stores:
        counts = stores.jobs.scene_counts(started)
        result = TaskResult("Process queue now", data={"mode": "process_queue"})
        if counts.unfinished == 0:
            result.lines.append("nothing is due: the queue is empty" if not counts.scheduled else
                                f"nothing is due now; {plural(counts.scheduled, 'scene')} wait for a scheduled retry")
            _add_retry_time(result, stores, started)
            return result
        watch = QueueWatch(ctx, stores, started)
        try:
            watch.begin(counts.unfinished)
            outcome = watch.wait()
        finally:
            watch.finish()
        summary = summarize(stores, started, None, ctx.clock())
    return _finish(ctx, result, summary, outcome, started)


def _sync(ctx: TaskContext, title: str, reason: str, *, force: bool, updated_since: Optional[str] = None,
          hours: Optional[float] = None) -> TaskResult:
    session = ctx.connect()
    started = ctx.clock()
    result = TaskResult(title, data={"mode": "sync", "force": force, "updated_since": updated_since})
    try:
        with ctx.open_stores() as stores:
            watch = QueueWatch(ctx, stores, started, base=ENQUEUE_SHARE)
            try:
                scene_ids = _enqueue(ctx, session.client, stores, watch, reason, force, updated_since)
                session.client.close()
                if not scene_ids:
                    result.lines.append(f"no scene was updated in the last {hours:g} hours: nothing to sync"
                                        if hours is not None else "Stash has no scenes: nothing to sync")
                    result.data["summary"] = DrainSummary(0).to_json()
                    return result
                log.info("queued %d scene(s) for Plex; waiting for the drainer", len(scene_ids))
                outcome = watch.wait()
            finally:
                watch.finish()
            summary = summarize(stores, started, scene_ids, ctx.clock())
    finally:
        session.client.close()
    return _finish(ctx, result, summary, outcome, started)


def _enqueue(ctx: TaskContext, client: "StashClient", stores: "Stores", watch: QueueWatch, reason: str, force: bool,
             updated_since: Optional[str]) -> List[int]:
    total = client.count_scenes(updated_since)
    scene_ids: List[int] = []
    for page in client.iter_scene_id_pages(updated_since, page_size=PAGE_SIZE):
        stores.jobs.put_batch(page, "sync", reason, force=force)
        first = not scene_ids
        scene_ids.extend(page)
        watch.grow(len(page))
        if first:
            watch.begin(0)
        total = max(total, len(scene_ids))
        watch.show(ENQUEUE_SHARE * len(scene_ids) / total, f"queued {len(scene_ids):,} of {total:,} scenes")
    return scene_ids


def _finish(ctx: TaskContext, result: TaskResult, summary: DrainSummary, outcome: DrainOutcome, started: float) -> TaskResult:
    now = ctx.clock()
    result.lines.extend(summary.lines(now, ctx.foreground))
    result.lines.append(describe_wait(outcome, now - started))
    if outcome.note:
        result.lines.append(outcome.note)
    result.data.update(summary=summary.to_json(), drained=outcome.drained, seconds=round(now - started, 3))
    if not outcome.drained:
        result.failed = outcome.error
    elif outcome.drained:
        ctx.progress(1.0, f"done in {span(now - started)}")
    return result


def _add_retry_time(result: TaskResult, stores: "Stores", now: float) -> None:
    due = stores.jobs.counts(now).next_due_at
    if due:
        result.lines.append(f"next retry {when(due, now)}")
