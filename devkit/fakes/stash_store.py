"""The fake Stash's data: rows, and the queries and updates Stash performs on them.

Kept apart from the HTTP/GraphQL layer (stash_server.py) so the rules can be read in one
place. Rules copied from Stash's source (pkg/sqlite, internal/api):
- `findScenes(ids:)` ignores filter and paging, keeps the order asked for, and fails when any
  id is missing; `findScene(id)` of a missing id is null.
- without `filter.sort` there is no ORDER BY (rows come in id order here); with one, ties are
  broken by COALESCE(title, id) natural-case-insensitive ascending; `per_page < 0` returns
  everything, no `per_page` means 25, `page < 1` means 1.
- `updated_at` criteria compare the stored RFC3339 text; BETWEEN without value2 ends a day ahead.
- every update sets `updated_at` to now, to the second: two edits within a second tie.
- a scene's cover (what /scene/{id}/screenshot serves) changes only with `cover_image` in
  `sceneUpdate` (or `set_cover`, as a cover regeneration does: it moves `updated_at` and fires
  no hook); `cover` counts its versions, 0 meaning no cover (Stash then serves its SVG
  placeholder).
- hooks: listeners get Stash's hookContext shapes (stash_hooks.py): sceneUpdate's `input` has
  every SceneUpdateInput key, a bulk update fires once per scene with the whole bulk input,
  a scan-created scene fires Scene.Create.Post with a null input.
- performer/tag/group/studio ids must exist; id lists are stored as sorted sets.
- `configurePlugin` replaces a plugin's whole map; unconfigured plugins are absent.
"""
from __future__ import annotations

import copy
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from itertools import groupby
from operator import itemgetter
from typing import Any, Callable, Iterable, NamedTuple, Optional

from devkit.fakes.stash_hooks import SCENE_CREATE, SCENE_UPDATE, bulk_update_input, hook_context, scene_update_input


class StashError(Exception):
    """A request Stash refuses; the message is Stash's."""


class FileRow(NamedTuple):
    id: int
    path: str
    size: int
    duration: float
    # What a scan's ffprobe would have stored; PlexSync reads none of it (third-party fields).
    width: int = 1920
    height: int = 1080
    video_codec: str = "h264"
    audio_codec: str = "aac"
    frame_rate: float = 29.97
    interactive: bool = False
    mod_time: str = ""  # "" : the store's start time


class SceneRow(NamedTuple):
    id: int
    title: Optional[str]
    code: Optional[str]
    details: Optional[str]
    director: Optional[str]
    urls: tuple
    date: Optional[str]
    rating100: Optional[int]
    organized: bool
    created_at: str
    updated_at: str
    files: tuple
    studio_id: Optional[int]
    performer_ids: tuple
    tag_ids: tuple
    groups: tuple
    stash_ids: tuple
    cover: int = 1  # version of the stored cover image; 0: none


class StudioRow(NamedTuple):
    id: int
    name: str
    parent_id: Optional[int]


class PerformerRow(NamedTuple):
    id: int
    name: str
    disambiguation: Optional[str]
    gender: Optional[str]
    has_image: bool
    updated_at: str


class TagRow(NamedTuple):
    id: int
    name: str
    parent_ids: tuple = ()


class GroupRow(NamedTuple):
    id: int
    name: str


class StashData(NamedTuple):
    """What a FakeStashServer starts from; it is copied, so one World can seed many servers."""
    scenes: tuple = ()
    studios: tuple = ()
    performers: tuple = ()
    tags: tuple = ()
    groups: tuple = ()
    plugins: tuple = ()


class FindPage(NamedTuple):
    count: int
    scenes: list


SORTS = {"id", "title", "updated_at", "created_at", "date", "rating", "path"}
DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
SCALAR_UPDATES = ("title", "code", "details", "director", "date", "rating100")
UpdateListener = Callable[[int, Optional[dict], list], None]


def format_time(unix: float, utc_offset_minutes: int = 0) -> str:
    """Stash's `Time` text: RFC3339 to the second, "Z" in UTC, "+hh:mm" elsewhere."""
    if not utc_offset_minutes:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(unix)))
    zone = timezone(timedelta(minutes=utc_offset_minutes))
    text = datetime.fromtimestamp(int(unix), zone).strftime("%Y-%m-%dT%H:%M:%S%z")
    return f"{text[:-2]}:{text[-2:]}"


def parse_time(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _natural_key(text: str) -> list:
    parts = re.split(r"(\d+)", text.casefold())
    return [int(part) if i % 2 else part for i, part in enumerate(parts)]


def _tie_key(row: SceneRow) -> list:
    return _natural_key(row.title if row.title is not None else str(row.id))


def _nullable(value: Any) -> tuple:
    return (0,) if value is None else (1, value)


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _primary_path(row: SceneRow) -> str:
    return row.files[0].path if row.files else ""


_SORT_KEYS: dict[str, Callable[[SceneRow], Any]] = {
    "id": lambda r: r.id,
    "updated_at": lambda r: r.updated_at,
    "created_at": lambda r: r.created_at,
    "date": lambda r: _nullable(r.date),
    "rating": lambda r: _nullable(r.rating100),
    "path": lambda r: _natural_key(_primary_path(r)),
    "title": lambda r: (_natural_key(r.title if r.title is not None else _basename(_primary_path(r))),
                        _natural_key(_primary_path(r).rsplit("/", 1)[0])),
}


def _text_criterion(value: str, criterion: dict) -> bool:
    modifier, low = criterion["modifier"], criterion["value"]
    if modifier == "IS_NULL":
        return not value
    if modifier == "NOT_NULL":
        return bool(value)
    if modifier == "EQUALS":
        return value == low
    if modifier == "NOT_EQUALS":
        return value != low
    if modifier == "GREATER_THAN":
        return value > low
    if modifier == "LESS_THAN":
        return value < low
    high = criterion["value2"]
    if modifier == "BETWEEN":
        return low <= value <= high
    if modifier == "NOT_BETWEEN":
        return not low <= value <= high
    raise StashError(f"unsupported timestamp modifier {modifier}")


def _int_criterion(value: int, criterion: dict) -> bool:
    modifier, low, high = criterion["modifier"], criterion["value"], criterion.get("value2")
    checks = {"EQUALS": lambda: value == low, "NOT_EQUALS": lambda: value != low,
              "GREATER_THAN": lambda: value > low, "LESS_THAN": lambda: value < low,
              "BETWEEN": lambda: low <= value <= high, "NOT_BETWEEN": lambda: not low <= value <= high,
              "IS_NULL": lambda: False, "NOT_NULL": lambda: True}
    if modifier not in checks or (modifier.endswith("BETWEEN") and high is None):
        raise StashError(f"unsupported int modifier {modifier}")
    return checks[modifier]()


def _multi_criterion(have: set, wanted: set, modifier: str) -> bool:
    checks = {"INCLUDES": lambda: bool(have & wanted), "INCLUDES_ALL": lambda: wanted <= have,
              "EXCLUDES": lambda: not have & wanted, "IS_NULL": lambda: not have, "NOT_NULL": lambda: bool(have)}
    if modifier not in checks:
        raise StashError(f"unsupported multi modifier {modifier}")
    return checks[modifier]()


def _ids(values: Optional[Iterable], known: dict, kind: str) -> tuple:
    result = sorted({int(v) for v in values or ()})
    missing = [i for i in result if i not in known]
    if missing:
        raise StashError(f"{kind} with id {missing[0]} not found")
    return tuple(result)


def _bulk_ids(current: tuple, change: dict, known: dict, kind: str) -> tuple:
    ids = set(_ids(change.get("ids"), known, kind))
    mode = change["mode"]
    if mode == "ADD":
        ids |= set(current)
    elif mode == "REMOVE":
        ids = set(current) - ids
    return tuple(sorted(ids))


class StashStore:
    """Scenes and their related objects, plugin settings and a clock; safe across threads."""

    def __init__(self, data: Optional[StashData] = None, clock: Callable[[], float] = time.time,
                 utc_offset_minutes: int = 0):
        data = data or StashData()
        self.utc_offset_minutes = utc_offset_minutes
        self._clock = clock
        self._clock_offset = 0.0
        self._lock = threading.RLock()
        self._scenes: dict[int, SceneRow] = {row.id: row for row in data.scenes}
        # created_at/updated_at of the rows that keep none (studios, tags, groups, world files):
        # the oldest scene's, as if they were all made before the first scan.
        self.started_at = min((row.created_at for row in data.scenes), default=None) or self.now_text()
        self.studios: dict[int, StudioRow] = {row.id: row for row in data.studios}
        self.performers: dict[int, PerformerRow] = {row.id: row for row in data.performers}
        self.tags: dict[int, TagRow] = {row.id: row for row in data.tags}
        self.groups: dict[int, GroupRow] = {row.id: row for row in data.groups}
        self._plugins: dict[str, dict] = {pid: dict(values) for pid, values in data.plugins}
        self._next_file_id = 1 + max((f.id for row in data.scenes for f in row.files), default=0)
        self._listeners: list[UpdateListener] = []
        self._hook_listeners: list[Callable[[dict], None]] = []
        self._version = 0
        self._sort_cache: dict[tuple, list] = {}

    # -- clock ---------------------------------------------------------------------
    def now(self) -> float:
        return self._clock() + self._clock_offset

    def now_text(self) -> str:
        return format_time(self.now(), self.utc_offset_minutes)

    def advance_clock(self, seconds: float) -> None:
        self._clock_offset += seconds

    # -- state -----------------------------------------------------------------------
    def scene(self, scene_id: int) -> Optional[SceneRow]:
        return self._scenes.get(scene_id)

    def scenes(self) -> list[SceneRow]:
        with self._lock:
            return list(self._scenes.values())

    def plugin_config(self, plugin_id: str) -> dict:
        with self._lock:
            return dict(self._plugins.get(plugin_id, {}))

    def set_plugin_config(self, plugin_id: str, values: dict) -> dict:
        with self._lock:
            self._plugins[plugin_id] = dict(values)
            return dict(values)

    def on_scene_update(self, listener: UpdateListener) -> None:
        """`listener(scene_id, input, input_fields)` runs after each scene update, with the
        Scene.Update.Post `input` and `inputFields` Stash would send (stash_hooks.py)."""
        self._listeners.append(listener)

    def on_hook(self, listener: Callable[[dict], None]) -> None:
        """`listener(hook_context)` runs for each scene hook Stash would fire (Create and Update
        Post), with the whole hookContext as Stash's JSON has it."""
        self._hook_listeners.append(listener)

    def add_scene(self, paths: list[str], title: Optional[str] = None, size: int = 1_000_000,
                  duration: float = 60.0, notify: bool = True) -> SceneRow:
        """A scene as a scan creates it: files, timestamps, no metadata (Scene.Create.Post)."""
        with self._lock:
            files = []
            stamp = self.now_text()
            for path in paths:
                files.append(FileRow(self._next_file_id, path, size, duration, mod_time=stamp))
                self._next_file_id += 1
            row = SceneRow(max(self._scenes, default=0) + 1, title, None, None, None, (), None, None,
                           False, stamp, stamp, tuple(files), None, (), (), (), ())
            self._scenes[row.id] = row
            self._changed()
        if notify:
            self._notify(row.id, SCENE_CREATE, None, None)
        return row

    def replace_scene(self, row: SceneRow) -> SceneRow:
        """Store `row` as it is (no hook, no timestamps): for mutations that build a row themselves."""
        with self._lock:
            self._scenes[row.id] = row
            self._changed()
        return row

    def fire_hook(self, context: dict) -> None:
        """Hand a hookContext built elsewhere (stash_plugin_mutations.py) to the hook listeners."""
        for hook_listener in list(self._hook_listeners):
            hook_listener(copy.deepcopy(context))

    def drop_entity(self, kind: str, entity_id: int) -> None:
        """performerDestroy, studioDestroy, groupDestroy: scenes lose it (updated_at stays, as in Stash)."""
        with self._lock:
            for row in list(self._scenes.values()):
                if kind == "performer" and entity_id in row.performer_ids:
                    row = row._replace(performer_ids=tuple(p for p in row.performer_ids if p != entity_id))
                elif kind == "studio" and row.studio_id == entity_id:
                    row = row._replace(studio_id=None)
                elif kind == "group" and any(pair[0] == entity_id for pair in row.groups):
                    row = row._replace(groups=tuple(pair for pair in row.groups if pair[0] != entity_id))
                self._scenes[row.id] = row
            rows = {"performer": self.performers, "studio": self.studios, "group": self.groups}[kind]
            rows.pop(entity_id, None)
            if kind == "studio":
                for studio in list(self.studios.values()):
                    if studio.parent_id == entity_id:
                        self.studios[studio.id] = studio._replace(parent_id=None)
            self._changed()

    def remove_scene(self, scene_id: int) -> None:
        with self._lock:
            del self._scenes[scene_id]
            self._changed()

    def set_cover(self, scene_id: int, present: bool = True) -> SceneRow:
        """A new cover (or none) without an edit, as Stash's cover generation does
        (internal/manager/task_generate_screenshot.go): no hook, but `updated_at` moves."""
        with self._lock:
            row = self._require(scene_id)
            return self._store(row, {"cover": row.cover + 1 if present else 0})

    def edit_scene(self, scene_id: int, **changes: Any) -> SceneRow:
        """A user's edit in Stash's UI: same rules and side effects as `sceneUpdate`."""
        return self.update_scene({"id": str(scene_id), **changes})

    # -- queries -----------------------------------------------------------------------
    def find_scenes(self, scene_filter: Optional[dict] = None, ids: Optional[list] = None,
                    find_filter: Optional[dict] = None) -> FindPage:
        if ids:
            rows = []
            for scene_id in ids:
                row = self._scenes.get(int(scene_id))
                if row is None:
                    raise StashError(f"scene with id {int(scene_id)} not found")
                rows.append(row)
            return FindPage(len(rows), rows)
        find_filter = find_filter or {}
        if find_filter.get("sort"):
            rows = self._sorted_all(find_filter["sort"], find_filter.get("direction") == "DESC")
        else:
            rows = self.scenes()
        scene_filter = dict(scene_filter or {})
        if scene_filter.get("updated_at") and scene_filter["updated_at"].get("value2") is None:
            day_ahead = format_time(self.now() + 86400, self.utc_offset_minutes)
            scene_filter["updated_at"] = {**scene_filter["updated_at"], "value2": day_ahead}
        rows = self._filtered(rows, scene_filter, find_filter.get("q"))
        per_page = find_filter.get("per_page")
        per_page = 25 if per_page is None else per_page
        if per_page < 0:
            return FindPage(len(rows), rows)
        start = (max(find_filter.get("page") or 1, 1) - 1) * per_page
        return FindPage(len(rows), rows[start:start + per_page])

    def _filtered(self, rows: list, scene_filter: dict, q: Optional[str]) -> list:
        for name, ids_of in (("tags", lambda r: r.tag_ids), ("performers", lambda r: r.performer_ids),
                             ("studios", lambda r: () if r.studio_id is None else (r.studio_id,)),
                             ("groups", lambda r: tuple(g[0] for g in r.groups))):
            if scene_filter.get(name):
                wanted, modifier = self._criterion_ids(name, scene_filter[name])
                rows = [r for r in rows if _multi_criterion(set(ids_of(r)), wanted, modifier)]
        if scene_filter.get("id"):
            rows = [r for r in rows if _int_criterion(r.id, scene_filter["id"])]
        if scene_filter.get("updated_at"):
            criterion = scene_filter["updated_at"]
            rows = [r for r in rows if _text_criterion(r.updated_at, criterion)]
        if any(scene_filter.get(name) for name in ("resume_time", "play_count", "last_played_at")):
            from devkit.fakes.stash_plays import filter_rows  # play state lives beside the store

            rows = filter_rows(self, rows, scene_filter)
        if q:
            needle = q.casefold()
            rows = [r for r in rows if any(needle in (text or "").casefold() for text in
                                           (r.title, r.details, r.code, *(f.path for f in r.files)))]
        return rows

    def _criterion_ids(self, name: str, criterion: dict) -> tuple:
        """The ids a (Hierarchical)MultiCriterionInput names, with descendants to `depth` (-1: all)."""
        wanted = {int(v) for v in criterion.get("value") or ()}
        depth = criterion.get("depth") or 0
        if name in ("tags", "studios") and depth:
            children: dict = {}
            if name == "tags":
                for tag in self.tags.values():
                    for parent in tag.parent_ids:
                        children.setdefault(parent, set()).add(tag.id)
            else:
                for studio in self.studios.values():
                    if studio.parent_id is not None:
                        children.setdefault(studio.parent_id, set()).add(studio.id)
            level, frontier = 0, set(wanted)
            while frontier and (depth < 0 or level < depth):
                frontier = {child for parent in frontier for child in children.get(parent, ())} - wanted
                wanted |= frontier
                level += 1
        return wanted, criterion["modifier"]

    # -- entity edits (Stash's tagUpdate, tagsMerge, ...: scenes' updated_at stays) -------------
    def rename(self, kind: str, entity_id: int, name: str) -> Any:
        """tagUpdate (performerUpdate, studioUpdate, groupUpdate) of the name; kind: tag, performer,
        studio or group. A performer's updated_at moves (its image URL carries it)."""
        rows = {"tag": self.tags, "performer": self.performers, "studio": self.studios, "group": self.groups}[kind]
        with self._lock:
            stamp = {"updated_at": self.now_text()} if kind == "performer" else {}
            row = rows[entity_id]._replace(name=name, **stamp)
            rows[entity_id] = row
            self._changed()
            return row

    def merge_tags(self, sources: Iterable[int], destination: int) -> None:
        """tagsMerge: the sources' scenes carry the destination instead; the sources are gone."""
        gone = {int(s) for s in sources} - {destination}
        with self._lock:
            for row in list(self._scenes.values()):
                if gone & set(row.tag_ids):
                    tag_ids = tuple(sorted((set(row.tag_ids) - gone) | {destination}))
                    self._scenes[row.id] = row._replace(tag_ids=tag_ids)
            for tag_id in gone:
                self.tags.pop(tag_id, None)
            self._changed()

    def destroy_tag(self, tag_id: int) -> None:
        """tagDestroy: the tag leaves every scene (their updated_at stays, as in Stash)."""
        with self._lock:
            for row in list(self._scenes.values()):
                if tag_id in row.tag_ids:
                    self._scenes[row.id] = row._replace(tag_ids=tuple(t for t in row.tag_ids if t != tag_id))
            self.tags.pop(tag_id, None)
            for tag in list(self.tags.values()):
                if tag_id in tag.parent_ids:
                    self.tags[tag.id] = tag._replace(parent_ids=tuple(p for p in tag.parent_ids if p != tag_id))
            self._changed()

    def _sorted_all(self, sort: str, descending: bool) -> list:
        """Every scene in `sort` order; cached until the next change to the store."""
        if sort not in _SORT_KEYS:
            raise StashError(f"invalid sort: {sort}" if sort not in SORTS
                               else f"fake Stash does not implement sort {sort}")
        with self._lock:
            cached = self._sort_cache.get((sort, descending))
            if cached is not None:
                return cached
            rows = list(self._scenes.values())
            version = self._version
        key = _SORT_KEYS[sort]
        keyed = sorted(((key(r), r) for r in rows), key=itemgetter(0), reverse=descending)
        ordered = []
        for _, run in groupby(keyed, key=itemgetter(0)):
            run = [row for _, row in run]
            if len(run) > 1:
                run.sort(key=lambda r: (_tie_key(r), r.id))
            ordered += run
        with self._lock:
            if version == self._version:
                self._sort_cache[(sort, descending)] = ordered
        return ordered

    # -- mutations -----------------------------------------------------------------------
    def update_scene(self, changes: dict) -> SceneRow:
        with self._lock:
            scene_id = int(changes["id"])
            row = self._require(scene_id)
            values = self._scalar_changes(changes)
            if "urls" in changes:
                values["urls"] = tuple(changes["urls"] or ())
            if "performer_ids" in changes:
                values["performer_ids"] = _ids(changes["performer_ids"], self.performers, "performer")
            if "tag_ids" in changes:
                values["tag_ids"] = _ids(changes["tag_ids"], self.tags, "tag")
            if "groups" in changes:
                values["groups"] = self._scene_groups(changes["groups"] or ())
            if "stash_ids" in changes:
                values["stash_ids"] = tuple((s["endpoint"], s["stash_id"]) for s in changes["stash_ids"] or ())
            if "cover_image" in changes:
                values["cover"] = row.cover + 1 if changes["cover_image"] else 0
            row = self._store(row, values)
        self._notify(scene_id, SCENE_UPDATE, scene_update_input(changes), list(changes))
        return row

    def bulk_update_scenes(self, changes: dict) -> list[SceneRow]:
        with self._lock:
            rows = [self._require(int(i)) for i in changes.get("ids") or ()]
            values = self._scalar_changes(changes)
            updated = []
            for row in rows:
                own = dict(values)
                if changes.get("urls"):
                    urls = changes["urls"]
                    given = tuple(urls.get("values") or ())
                    own["urls"] = {"SET": given, "ADD": row.urls + tuple(u for u in given if u not in row.urls),
                                   "REMOVE": tuple(u for u in row.urls if u not in given)}[urls["mode"]]
                if changes.get("performer_ids"):
                    own["performer_ids"] = _bulk_ids(row.performer_ids, changes["performer_ids"],
                                                     self.performers, "performer")
                if changes.get("tag_ids"):
                    own["tag_ids"] = _bulk_ids(row.tag_ids, changes["tag_ids"], self.tags, "tag")
                if changes.get("group_ids"):
                    indexes = dict(row.groups)
                    kept = _bulk_ids(tuple(indexes), changes["group_ids"], self.groups, "group")
                    own["groups"] = tuple((g, indexes.get(g)) for g in kept)
                updated.append(self._store(row, own))
        for row in updated:  # one hook per scene, each with the whole bulk input
            self._notify(row.id, SCENE_UPDATE, bulk_update_input(changes), list(changes))
        return updated

    def _scalar_changes(self, changes: dict) -> dict:
        values = {name: changes[name] for name in SCALAR_UPDATES if name in changes}
        if values.get("date") == "":
            values["date"] = None
        if values.get("date") is not None and not DATE_RE.match(values["date"]):
            raise StashError(f"invalid date: {values['date']}")
        if changes.get("organized") is not None:
            values["organized"] = bool(changes["organized"])
        if "studio_id" in changes:
            studio = changes["studio_id"]
            values["studio_id"] = None if studio in (None, "") else _ids([studio], self.studios, "studio")[0]
        return values

    def _scene_groups(self, groups: Iterable[dict]) -> tuple:
        chosen = [(int(g["group_id"]), g.get("scene_index")) for g in groups]
        _ids([g for g, _ in chosen], self.groups, "group")
        return tuple(chosen)

    def _require(self, scene_id: int) -> SceneRow:
        row = self._scenes.get(scene_id)
        if row is None:
            raise StashError(f"scene with id {scene_id} not found")
        return row

    def _store(self, row: SceneRow, values: dict) -> SceneRow:
        row = row._replace(updated_at=self.now_text(), **values)
        self._scenes[row.id] = row
        self._changed()
        return row

    def _changed(self) -> None:
        self._version += 1
        self._sort_cache.clear()

    def _notify(self, scene_id: int, hook_type: str, hook_input: Optional[dict], fields: Optional[list]) -> None:
        context = hook_context(scene_id, hook_type, hook_input, fields)
        for hook_listener in list(self._hook_listeners):
            hook_listener(copy.deepcopy(context))
        if hook_type == SCENE_UPDATE:
            for listener in list(self._listeners):
                listener(scene_id, copy.deepcopy(hook_input), list(fields or ()))

    def configure_plugin(self, plugin_id: str, values: dict) -> dict:
        return self.set_plugin_config(plugin_id, values)

    def plugins_config(self, include: Optional[list]) -> dict:
        with self._lock:
            wanted = include if include else list(self._plugins)
            return {pid: dict(self._plugins[pid]) for pid in wanted if self._plugins.get(pid)}

