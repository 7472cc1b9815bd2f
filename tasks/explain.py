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

from typing import Any, Dict, List, Optional

from common.errors import SyncError
from common.settings import WHERE
from tasks.context import TaskContext, TaskResult

MAX_SCENE_ID = 2**31 - 1
HOW_TO_NAME = ("the number in the scene's address in Stash, /scenes/ID")


class SceneIdError(ValueError):
    """A scene id that is not a positive whole number; the message says what to give instead."""


def parse_scene_id(value: Any, where: str = "args.scene_id") -> int:
    """A scene id from a task argument or the command line; SceneIdError says what to pass."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, bool) or not isinstance(text, (int, float, str)) or text == "":
        raise SceneIdError(f"{where} must be a scene id ({HOW_TO_NAME}), got {value!r}")
    try:
        number = float(text)
    except (ValueError, OverflowError):
        raise SceneIdError(f"{where} must be a scene id ({HOW_TO_NAME}), got {value!r}") from None
    if not 1 <= number <= MAX_SCENE_ID or number != int(number):  # NaN and infinity fail the range
        raise SceneIdError(f"{where} must be a scene id ({HOW_TO_NAME}), got {value!r}")
    return int(number)


def task_args(args: Dict[str, Any]) -> Dict[str, Any]:
    """The explain task's own argument, checked before anything is opened (entry.task calls this)."""
    from entry.protocol import InputError

    if args.get("scene_id") in (None, ""):
        return {}
    try:
        return {"scene_id": parse_scene_id(args["scene_id"])}
    except SceneIdError as exc:
        raise InputError(str(exc)) from None


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


def _plex_views(plex_client: Any, rating_key: int) -> List[Any]:
    """The matched item's completed views in Plex (every account), from its play history."""
    from plex.plays import PlexPlays

    try:
        return [row for page in PlexPlays(plex_client).history(None, rating_key=rating_key) for row in page]
    except SyncError:
        return []


def _plays(ctx: TaskContext, client: Any, facts: Any) -> List[str]:
    """The scene's plays in Plex, in Stash, and which PlexSync brought over (reads only)."""
    from plays.service import scene_play_lines
    from stash.plays import read_plays

    try:
        in_stash = read_plays(client, [facts.scene.id]).get(facts.scene.id)
    except SyncError:
        in_stash = None
    return scene_play_lines(ctx.services.database(), facts.scene.id, facts.plex_views, in_stash)


def _read_state(ctx: TaskContext, facts: Any) -> None:
    """PlexSync's own records of the scene: last write, queued jobs, dead letter, drainer state."""
    from worker.launcher import drainer_running

    scene_id = facts.scene.id
    with ctx.open_stores() as stores:
        facts.record = stores.sync_state.get(scene_id)
        facts.jobs = stores.jobs.jobs_for_scene(scene_id)
        facts.dead_letter = stores.dead_letters.for_scene(scene_id)
        facts.drainer = stores.status.snapshot()
    facts.drainer_running = drainer_running(ctx.data_dir)


def _read_plex(ctx: TaskContext, facts: Any, client: Any) -> None:
    """The match with its trace, the libraries' folders, the matched item (GET) and what was written."""
    from common.errors import NotInPlexYet
    from plex.errors import ItemVanished
    from plex.matcher import MATCHED, Probe

    target = ctx.services.connect_plex(facts.settings, client.fetch_image)
    try:
        trace: List[Probe] = []
        facts.result = target.match(facts.scene, trace)
        facts.trace = trace
        facts.sections = list(target.library.sections)
        facts.file_sections = [target.library.section_for(path) for path in facts.mapped_paths]
        if facts.result.status == MATCHED and facts.result.rating_key:
            rating_key = int(facts.result.rating_key)
            try:
                facts.item = target.client.item(rating_key)
            except (ItemVanished, NotInPlexYet) as exc:
                facts.item_error = str(exc)
            facts.written = target.index.written(rating_key)
            facts.plex_views = _plex_views(target.client, rating_key)
            facts.would_write = target.would_write(facts.scene, facts.record)
    finally:
        target.close()
