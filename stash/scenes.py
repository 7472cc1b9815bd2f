"""The GraphQL PlexSync sends to Stash, and the mapping of Stash's answer to `common.models.Scene`.

Documents are module constants so a contract test can validate each one against Stash's real
schema; they ask only for the fields the sync uses, never stashapi's introspected everything
fragments. The mapping is a pure function of the JSON, so it is tested without a server.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

from common.errors import PermanentError
from common.models import CollectionArt, Performer, Scene, SceneFile

SCENE_FRAGMENT = """
fragment PlexSyncScene on Scene {
  id
  title
  details
  director
  date
  rating100
  updated_at
  files { path size }
  paths { screenshot }
  studio { name image_path details parent_studio { name } }
  performers { name disambiguation image_path }
  tags { name parents { name parents { name parents { name } } } }
  groups { group { name front_image_path synopsis } }
}
"""

FIND_SCENES_BY_IDS = """
query PlexSyncFindScenes($ids: [ID!], $filter: FindFilterType) {
  findScenes(ids: $ids, filter: $filter) {
    scenes { ...PlexSyncScene }
  }
}
""" + SCENE_FRAGMENT

FIND_SCENE_IDS = """
query PlexSyncSceneIds($scene_filter: SceneFilterType, $filter: FindFilterType) {
  findScenes(scene_filter: $scene_filter, filter: $filter) {
    count
    scenes { id }
  }
}
"""

COUNT_SCENES = """
query PlexSyncCountScenes($scene_filter: SceneFilterType, $filter: FindFilterType) {
  findScenes(scene_filter: $scene_filter, filter: $filter) { count }
}
"""

PLUGIN_SETTINGS = """
query PlexSyncPluginSettings($include: [ID!]) {
  configuration { plugins(include: $include) }
}
"""

VERSION = """
query PlexSyncVersion {
  version { version hash }
}
"""

# What stashapi sends while it connects (stashapi/stashapp.py), checked against the schema too.
STASHAPI_CONNECT = (
    "query StashVersion{ version { build_time hash version } }",
    "query getApiKey{ configuration { general { apiKey } } }",
)

DOCUMENTS: Dict[str, str] = {
    "PlexSyncFindScenes": FIND_SCENES_BY_IDS,
    "PlexSyncSceneIds": FIND_SCENE_IDS,
    "PlexSyncCountScenes": COUNT_SCENES,
    "PlexSyncPluginSettings": PLUGIN_SETTINGS,
    "PlexSyncVersion": VERSION,
}

_FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def scene_filter(updated_since: Optional[str] = None, after_id: Optional[int] = None) -> Dict[str, Any]:
    """A SceneFilterType: scenes updated after `updated_since` (text compare) and with id > `after_id`."""
    result: Dict[str, Any] = {}
    if updated_since:
        result["updated_at"] = {"value": updated_since, "modifier": "GREATER_THAN"}
    if after_id is not None:
        result["id"] = {"value": int(after_id), "modifier": "GREATER_THAN"}
    return result


# How findScenes filters by each entity PlexSync names in Plex (Stash's SceneFilterType). Tags
# and studios include their descendants (depth -1): label_tags, exclude_tags and the parent
# studio collection follow the hierarchy, so a parent's rename can change a child's scenes.
ENTITY_CRITERIA = {
    "tag": ("tags", {"depth": -1}),
    "studio": ("studios", {"depth": -1}),
    "performer": ("performers", {}),
    "group": ("groups", {"depth": 0}),
}


def entity_criterion(kind: str, entity_id: int) -> Dict[str, Any]:
    """The SceneFilterType part for "scenes that carry `kind` `entity_id`" (KeyError: unknown kind)."""
    name, extra = ENTITY_CRITERIA[kind]
    return {name: {"value": [str(int(entity_id))], "modifier": "INCLUDES", **extra}}


def recent_cutoff(hours: float = 24.0, now: Optional[datetime] = None) -> str:
    """The `updated_since` text for "changed in the last `hours`": local time, to the minute.

    Stash stores updated_at as RFC3339 text in its local time and compares the filter value as
    text (as its own UI does, "2026-01-10T12:00"); the plugin runs beside Stash, so local
    time here is Stash's local time.
    """
    moment = (now or datetime.now()) - timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M")


def scene_from_graphql(data: Mapping[str, Any]) -> Scene:
    """Map one scene of a findScenes answer (fields of SCENE_FRAGMENT) to a Scene."""
    if not isinstance(data, Mapping):
        raise PermanentError(f"Stash answered a scene that is not an object ({type(data).__name__})")
    try:
        scene_id = int(data["id"])
    except (KeyError, TypeError, ValueError):
        raise PermanentError(f"Stash answered a scene without a numeric id: {str(data.get('id'))[:40]!r}") from None
    studio = data.get("studio") or {}
    parent = studio.get("parent_studio") or {}
    paths = data.get("paths") or {}
    rating = data.get("rating100")
    return Scene(
        id=scene_id,
        title=_text(data.get("title")),
        details=_text(data.get("details")),
        date=_date(data.get("date")),
        rating100=int(rating) if isinstance(rating, (int, float)) and not isinstance(rating, bool) else None,
        studio=_text(studio.get("name")) or None,
        parent_studio=_text(parent.get("name")) or None,
        performers=_performers(data.get("performers") or ()),
        tags=_unique(_text(tag.get("name")) for tag in data.get("tags") or () if isinstance(tag, dict)),
        tag_parents=_tag_parents(data.get("tags") or ()),
        director=_text(data.get("director")) or None,
        groups=_unique(
            _text((entry.get("group") or {}).get("name"))
            for entry in data.get("groups") or ()
            if isinstance(entry, dict)
        ),
        files=_files(data.get("files") or ()),
        screenshot_url=_text(paths.get("screenshot")) or None,
        updated_at=_text(data.get("updated_at")),
        collection_art=_collection_art(studio, data.get("groups") or ()),
    )


def _collection_art(studio: Mapping[str, Any], groups: Iterable[Any]) -> Tuple[CollectionArt, ...]:
    """The studio's image and details, each group's front cover and synopsis (the ones that have any)."""
    found: List[CollectionArt] = []
    entries = [(studio, "image_path", "details")] + [
        ((entry.get("group") or {}), "front_image_path", "synopsis") for entry in groups if isinstance(entry, dict)]
    for entity, image_key, summary_key in entries:
        name = _text(entity.get("name")) if isinstance(entity, Mapping) else ""
        if not name:
            continue
        image = _text(entity.get(image_key))
        art = CollectionArt(name, "" if is_placeholder_image(image) else image, _text(entity.get(summary_key)))
        if art.image_url or art.summary:
            found.append(art)
    return tuple(found)


def is_placeholder_image(url: Optional[str]) -> bool:
    """Stash marks a performer without an image with `default=true` in image_path's query."""
    if not url:
        return True
    if "default" not in url:
        return False
    values = parse_qs(urlsplit(url).query).get("default", ())
    return any(value.lower() == "true" for value in values)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _date(value: Any) -> Optional[str]:
    """YYYY-MM-DD; a partial date (YYYY or YYYY-MM) is padded to the first day, as Plex needs a day."""
    text = _text(value)
    if _FULL_DATE.match(text):
        return text
    partial = _PARTIAL_DATE.match(text)
    if partial:
        return f"{partial.group(1)}-{partial.group(2) or '01'}-01"
    return None


def _unique(names: Iterable[str]) -> Tuple[str, ...]:
    seen: Dict[str, None] = {}
    for name in names:
        if name and name not in seen:
            seen[name] = None
    return tuple(seen)


def _ancestors(tag: Mapping[str, Any]) -> Iterator[str]:
    for parent in tag.get("parents") or ():
        if isinstance(parent, dict):
            yield _text(parent.get("name"))
            yield from _ancestors(parent)


def _tag_parents(entries: Iterable[Any]) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    """Each tag with parents, and every ancestor name the query reached (three levels up)."""
    result = []
    for tag in entries:
        if isinstance(tag, dict) and tag.get("parents"):
            result.append((_text(tag.get("name")), _unique(_ancestors(tag))))
    return tuple(result)


def _performers(entries: Iterable[Any]) -> Tuple[Performer, ...]:
    result: List[Performer] = []
    names = set()
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name = _text(entry.get("name"))
        disambiguation = _text(entry.get("disambiguation"))
        if name and disambiguation:
            name = f"{name} ({disambiguation})"  # as Stash shows it; keeps namesakes apart in Plex
        if not name or name in names:
            continue
        names.add(name)
        image = _text(entry.get("image_path"))
        result.append(Performer(name=name, image_url=None if is_placeholder_image(image) else image))
    return tuple(result)


def _files(entries: Iterable[Any]) -> Tuple[SceneFile, ...]:
    result: List[SceneFile] = []
    for entry in entries:
        if not isinstance(entry, dict) or not _text(entry.get("path")):
            continue
        size = entry.get("size")
        try:
            size = int(size) if size is not None and not isinstance(size, bool) else None
        except (TypeError, ValueError):
            size = None
        result.append(SceneFile(path=entry["path"], size=size))
    return tuple(result)
