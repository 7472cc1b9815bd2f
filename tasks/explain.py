""""Why did this scene not sync?": one scene, everything PlexSync knows about it, and what to fix.

It gathers the facts the way a sync would meet them — the scene's files from Stash, each
path_map rule tried on each file, the product's own matcher run with a trace (its steps and
candidates), the matched Plex item (one GET), what PlexSync last wrote and when, the scene's
queued jobs and dead letter — and hands them to `tasks.explain_report`, which names the cause
and the fix. Only reads: no Stash connection or settings snapshot is saved (unlike other tasks),
nothing is queued, retried or deleted, and Plex sees only GET requests (the path index, a cache
of Plex's listing, may be refreshed as any match does).

Stash's task menu cannot ask for an argument, so the task takes the scene from `args.scene_id`
(a caller of Stash's runPluginTask) or else from the `explain_scene_id` setting; the CLI takes
it on the command line.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional

from common.errors import SyncError
from common.settings import WHERE
from common.task_args import HOW_TO_NAME
from tasks.context import TaskContext, TaskResult

if TYPE_CHECKING:
    from plex.plays import HistoryRow
    from plex.target import PlexTarget
    from stash.client import StashClient
    from tasks.explain_report import Facts


def explain(ctx: TaskContext, scene_id: Optional[int] = None) -> TaskResult:
    """Everything about one scene's way to Plex, its cause and its fix; writes nothing."""
    from tasks.explain_report import Facts, render

    session = ctx.connect(require_plex=False, remember=False)  # reads only: nothing is remembered
    client, settings = session.client, session.settings
    try:
        chosen = scene_id or settings.explain_scene_id
        if not chosen:
            return TaskResult("Explain a scene", failed=(
                f"no scene to explain: set 'Scene to explain' (explain_scene_id) in {WHERE} and run the task "
                "again, or run `python PlexSync.py explain SCENE_ID`"), data={"mode": "explain", "scene_id": None})
        scene = client.find_scenes_by_ids([chosen]).get(chosen)
        if scene is None:
            return TaskResult("Explain a scene", failed=(
                f"Stash has no scene {chosen}: give the id of an existing scene ({HOW_TO_NAME})"),
                data={"mode": "explain", "scene_id": chosen, "state": "unknown_scene"})
        facts = Facts(scene=scene, settings=settings, now=ctx.clock())
        _read_state(ctx, facts)
        try:
            settings.require_plex()
            _read_plex(ctx, facts, client)
        except SyncError as exc:  # the Stash side is still worth showing
            facts.plex_error = " ".join(str(exc).split())
        plays = _plays(ctx, client, facts)
    finally:
        client.close()
    result = render(facts)
    result.lines[-1:-1] = plays  # the fix stays last
    return result


def _plex_views(target: "PlexTarget", rating_key: int) -> List["HistoryRow"]:
    """The matched item's completed views in Plex (every account), from its play history."""
    try:
        return target.reads.views(rating_key)
    except SyncError:
        return []


def _plays(ctx: TaskContext, client: "StashClient", facts: "Facts") -> List[str]:
    """The scene's plays in Plex, in Stash, and which PlexSync brought over (reads only)."""
    from plays.service import scene_play_lines
    from stash.plays import read_plays

    try:
        in_stash = read_plays(client, [facts.scene.id]).get(facts.scene.id)
    except SyncError:
        in_stash = None
    return scene_play_lines(ctx.services.database(), facts.scene.id, facts.plex_views, in_stash)


def _read_state(ctx: TaskContext, facts: "Facts") -> None:
    """PlexSync's own records of the scene: last write, queued jobs, dead letter, drainer state."""
    from worker.launcher import drainer_running

    scene_id = facts.scene.id
    with ctx.open_stores() as stores:
        facts.record = stores.sync_state.get(scene_id)
        facts.jobs = stores.jobs.jobs_for_scene(scene_id)
        facts.dead_letter = stores.dead_letters.for_scene(scene_id)
        facts.drainer = stores.status.read()
    facts.drainer_running = drainer_running(ctx.data_dir)


def _read_plex(ctx: TaskContext, facts: "Facts", client: "StashClient") -> None:
    """The match with its trace, the libraries' folders, the matched item (GET) and what was written."""
    from common.errors import NotInPlexYet
    from plex.errors import ItemVanished
    from plex.matcher import MATCHED, Probe

    target = ctx.services.connect_plex(facts.settings, client.fetch_image)
    try:
        trace: List[Probe] = []
        facts.result = target.match(facts.scene, trace)
        facts.trace = trace
        facts.sections = target.reads.sections()
        facts.file_sections = [target.reads.section_for(path) for path in facts.mapped_paths]
        if facts.result.status == MATCHED and facts.result.rating_key:
            rating_key = int(facts.result.rating_key)
            try:
                facts.item = target.reads.item(rating_key)
            except (ItemVanished, NotInPlexYet) as exc:
                facts.item_error = str(exc)
            facts.written = target.reads.written(rating_key)
            facts.plex_views = _plex_views(target, rating_key)
            facts.would_write = target.would_write(facts.scene, facts.record)
    finally:
        target.close()
