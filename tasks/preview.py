"""Preview changes: what a sync would write to Plex, scene by scene, with nothing written anywhere.

It walks the scenes as a sync does (bounded id pages, the scenes of each page in a few Stash
requests, the matched items of a page read together), and asks `PlexTarget.preview_scene` —
the sync's own matching and edit planning, stopped before the writes — what each scene would
change. Plex sees only GET requests (no edit, rating, upload or scan). PlexSync's state is not
touched either: the run works on a temporary copy of the queue database (sync_queue.scratch),
so the queue, dead letters, sync state and path index are as they were, and the Stash
connection is not remembered. The text is bounded (the first `details` changing scenes in
full, a few examples of the rest, then totals); `emit` receives every scene as a JSON object
(the CLI's `--json` prints one per line).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence

from tasks.context import TaskContext, TaskResult, plural

if TYPE_CHECKING:
    from plex.preview import FieldChange, ScenePreview

PAGE_SIZE = 500
DETAILS = 20
EXAMPLES = 10
SHOWN_CHARS = 60


def preview(ctx: TaskContext, force: bool = False, hours: Optional[float] = None, details: int = DETAILS,
            emit: Optional[Callable[[Dict[str, object]], None]] = None) -> TaskResult:
    """Every scene (or those updated in the last `hours`) as a sync would leave its Plex item."""
    from stash.scenes import recent_cutoff
    from sync_queue.scratch import scratch_copy
    from sync_queue.sync_state import SyncStateStore

    updated_since = recent_cutoff(hours) if hours is not None else None
    session = ctx.connect(remember=False)
    client = session.client
    report = _Report(max(0, int(details)))
    try:
        with scratch_copy(ctx.data_dir) as database:
            state = SyncStateStore(database)
            target = ctx.services.connect_plex(session.settings, client.fetch_image, database)
            try:
                target.reads.ensure_fresh()
                total = client.count_scenes(updated_since)
                seen = 0
                for ids in client.iter_scene_id_pages(updated_since, page_size=PAGE_SIZE):
                    found = client.find_scenes_by_ids(ids)
                    scenes = [found[scene_id] for scene_id in dict.fromkeys(ids) if scene_id in found]
                    previous = {scene.id: state.get(scene.id) for scene in scenes}
                    target.prepare(scenes, previous, force)
                    for scene in scenes:
                        answer = target.preview_scene(scene, previous[scene.id], force)
                        report.add(answer)
                        if emit is not None:
                            emit(answer.to_json())
                    seen += len(ids)
                    shown = max(total, seen, 1)
                    ctx.progress(min(1.0, seen / shown), f"previewed {seen:,} of {shown:,} scenes")
            finally:
                target.close()
    finally:
        client.close()
    return report.result(force, hours)


class _Report:
    """Bounded text and the totals, fed one scene at a time (memory stays flat)."""

    def __init__(self, details: int) -> None:
        from plex.preview import Totals

        self.details = details
        self.totals = Totals()
        self.lines: List[str] = []
        self.problems: List[str] = []
        self.more = 0

    def add(self, answer: "ScenePreview") -> None:
        from plex.preview import CHANGE, FAILED, UNMATCHED

        self.totals.add(answer)
        if answer.status == CHANGE:
            if self.totals.by_status[CHANGE] <= self.details:
                self.lines.extend(_scene_lines(answer))
            else:
                self.more += 1
        elif answer.status in (UNMATCHED, FAILED) and len(self.problems) < EXAMPLES:
            word = "not matched" if answer.status == UNMATCHED else "failed"
            self.problems.append(f"{word}: {answer.reason}")

    def result(self, force: bool, hours: Optional[float]) -> TaskResult:
        totals = self.totals.to_json()
        lines = list(self.lines)
        if self.more:
            lines.append(f"… and {plural(self.more, 'more scene')} would change (every scene: "
                         "python PlexSync.py sync --dry-run --json)")
        lines.extend(self.problems)
        problems = totals["unmatched"] + totals["failed"]
        if problems > len(self.problems):
            lines.append(f"… and {plural(problems - len(self.problems), 'more scene')} not matched or failed "
                         "(the Match report task lists them)")
        scope = f" updated in the last {hours:g} hours" if hours is not None else ""
        lines.append(f"{plural(totals['scanned'], 'scene')}{scope} scanned: {totals['would_change']:,} would change, "
                     f"{totals['unchanged']:,} unchanged, {totals['unmatched']:,} not matched, "
                     f"{totals['failed']:,} failed")
        lines.append("nothing was written to Plex or to PlexSync's queue and state")
        title = "Preview changes (force: every scene rewritten)" if force else "Preview changes"
        return TaskResult(title, lines, {"mode": "preview", "force": force, "hours": hours, "totals": totals})


def _scene_lines(answer: "ScenePreview") -> List[str]:
    name = f" {answer.title[:SHOWN_CHARS]!r}" if answer.title else ""
    lines = [f"scene {answer.scene_id}{name} → Plex {answer.item_type} {answer.rating_key} ({answer.step} match):"]
    locked = [change.name for change in answer.fields if change.name in answer.locks]
    for change in answer.fields:
        text = "" if change.name in locked else _field_text(change)
        if text:
            lines.append(f"    {change.name}: {text}")
        if change.ours is not None and (change.ours or change.others):
            lines.append(f"    {change.name}: PlexSync's: {_names(change.ours)}; kept, not PlexSync's: "
                         f"{_names(change.others)}")
    if locked:
        lines.append(f"    locked as they are: {', '.join(locked)}")
    for kind, upload in (("poster", answer.poster), ("art", answer.art)):
        if upload:
            lines.append(f"    {kind}: the scene's screenshot is uploaded")
    return lines


def _field_text(change: "FieldChange") -> str:
    if change.kept:
        return "kept as edited by hand in Plex (preserve_plex_edits)"
    if not change.written:
        return ""
    if isinstance(change.after, list):
        if not change.changed and not change.added and not change.removed:
            return "performer photos updated"
        moves = [f"+ {_short(name)}" for name in change.added] + [f"− {_short(name)}" for name in change.removed]
        return ", ".join(moves) or f"{_short(', '.join(change.before))} → {_short(', '.join(change.after))}"
    return f"{_short(change.before)} → {_short(change.after)}"


def _names(names: Sequence[str]) -> str:
    return ", ".join(_short(name) for name in names) if names else "(none)"


def _short(value: object) -> str:
    if value is None or value == "":
        return "(none)"
    if isinstance(value, float):
        return f"{value:g}"
    text = " ".join(str(value).split())
    return repr(text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 1] + "…")
