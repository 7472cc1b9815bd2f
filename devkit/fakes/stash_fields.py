"""Resolvers for the fields of Scene, VideoFile, Studio, Performer, Tag and Group that PlexSync
never reads, so that a third-party client's query (or stashapi's default fragments) answers
against the fake as it would against Stash instead of failing validation.

Kept apart from stash_server.py because none of it is product-facing. Values follow Stash's
resolvers (internal/api/resolver_model_*.go, internal/api/urlbuilders/*.go,
internal/manager/scene.go at the commit of ../shared/stash/schema.graphql):
- `paths.*` are the URL builders' shapes: /scene/{id}/stream (`?apikey=` when a key is set),
  /preview, /webp, /funscript, /caption, /interactive_heatmap, and
  /scene/{oshash}_thumbs.vtt, /scene/{oshash}_sprite.jpg (the default naming hash);
- studio/tag image_path `/{kind}/{id}/image?t={updated_at}&default=true` (no image stored),
  group front_image_path `/group/{id}/frontimage?t=...&default=true`, back_image_path null;
- counts (`scene_count(depth)`, `performer_count`, `group_count`, `child_count`, ...) are
  computed from the store, with the same hierarchy walk as the scene filters; what the store
  does not model (images, galleries, markers, plays, O counts, aliases) is 0 or empty;
- `interactive`/`captions` follow the primary file: false / null without one;
- `sceneStreams` is the direct stream plus the ORIGINAL-resolution MP4/WEBM/HLS/DASH entries
  (Stash adds lower resolutions by the file's height and the transcode setting).
"""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Callable, Optional
from urllib.parse import urlencode

from devkit.fakes.stash_store import FileRow, GroupRow, PerformerRow, SceneRow, StashStore, StudioRow, TagRow, parse_time

if TYPE_CHECKING:
    from devkit.fakes.stash_server import FakeStashServer

Resolve = Callable[[str, str, Callable], None]

CONTAINERS = {"mkv": "matroska", "m4v": "m4v", "mov": "mov", "webm": "webm", "avi": "avi",
              "wmv": "wmv", "flv": "flv", "ts": "mpegts", "mpg": "mpeg", "mpeg": "mpeg"}
STREAM_KINDS = (("Direct stream", "", "video/mp4"), ("MP4", ".mp4", "video/mp4"),
                ("WEBM", ".webm", "video/webm"), ("HLS", ".m3u8", "application/vnd.apple.mpegurl"),
                ("DASH", ".mpd", "application/dash+xml"))


def oshash(file: FileRow) -> str:
    """A stable 16-hex-digit stand-in for the file's oshash (Stash's default scene hash)."""
    return hashlib.sha256(f"{file.path}:{file.size}".encode()).hexdigest()[:16]


def _server(info) -> "FakeStashServer":
    return info.context.server


def _store(info) -> StashStore:
    return info.context.server.store


def _const(value: Any) -> Callable:
    """A resolver answering `value` (a fresh copy of a list or dict each time)."""
    return lambda source, info, **args: type(value)(value) if isinstance(value, (list, dict)) else value


def _scene_paths(row: SceneRow, info) -> dict:
    base = f"{_server(info).url}/scene/{row.id}"
    api_key = _server(info).api_key
    stream = base + "/stream" + (f"?{urlencode({'apikey': api_key})}" if api_key else "")
    checksum = oshash(row.files[0]) if row.files else ""
    root = f"{_server(info).url}/scene/"
    return {"screenshot": _server(info).screenshot_url(row), "preview": base + "/preview",
            "stream": stream, "webp": base + "/webp", "vtt": f"{root}{checksum}_thumbs.vtt",
            "sprite": f"{root}{checksum}_sprite.jpg", "funscript": base + "/funscript",
            "interactive_heatmap": base + "/interactive_heatmap", "caption": base + "/caption"}


def _scene_streams(row: SceneRow, info) -> list:
    if not row.files:
        return []
    base = f"{_server(info).url}/scene/{row.id}/stream"
    api_key = _server(info).api_key
    endpoints = []
    for label, extension, mime in STREAM_KINDS:
        query = {"apikey": api_key} if api_key else {}
        if extension:
            query["resolution"] = "ORIGINAL"
        url = base + extension + (f"?{urlencode(query)}" if query else "")
        endpoints.append({"url": url, "mime_type": mime, "label": label})
    return endpoints


def _scenes_with(store: StashStore, kind: str, entity_id: int, depth: Optional[int] = None) -> list[SceneRow]:
    criterion = {"value": [str(entity_id)], "modifier": "INCLUDES", "depth": depth}
    return store.find_scenes({kind: criterion}, None, {"per_page": -1}).scenes


def _distinct(rows: list[SceneRow], ids_of: Callable[[SceneRow], Any]) -> set:
    return {item for row in rows for item in ids_of(row)}


def _group_ids(row: SceneRow) -> tuple:
    return tuple(group_id for group_id, _ in row.groups)


def _image_url(info, kind: str, entity_id: int, updated_at: str, suffix: str = "image") -> str:
    return f"{_server(info).url}/{kind}/{entity_id}/{suffix}?t={parse_time(updated_at)}&default=true"


def attach(resolve: Resolve) -> None:
    """Set the resolvers of every field PlexSync does not use on the fake's schema."""
    _scene(resolve)
    _file(resolve)
    _studio(resolve)
    _performer(resolve)
    _tag(resolve)
    _group(resolve)


def _scene(resolve: Resolve) -> None:
    resolve("Scene", "url", lambda row, info: row.urls[0] if row.urls else None)
    resolve("Scene", "paths", _scene_paths)
    resolve("Scene", "interactive", lambda row, info: bool(row.files and row.files[0].interactive))
    resolve("Scene", "captions", lambda row, info: [] if row.files else None)
    for name, value in (("o_counter", 0), ("resume_time", 0.0), ("play_duration", 0.0), ("play_count", 0),
                        ("play_history", []), ("o_history", []), ("scene_markers", []), ("galleries", [])):
        resolve("Scene", name, _const(value))
    resolve("Scene", "movies", lambda row, info: list(row.groups))
    resolve("SceneMovie", "movie", lambda pair, info: _store(info).groups[pair[0]])
    resolve("SceneMovie", "scene_index", lambda pair, info: pair[1])
    resolve("Scene", "sceneStreams", _scene_streams)


def _file(resolve: Resolve) -> None:
    def folder(file: FileRow, info) -> dict:
        path = file.path.rsplit("/", 1)[0] or "/"
        stamp = file.mod_time or _store(info).started_at
        return {"id": _server(info).folder_id(path), "path": path, "mod_time": stamp,
                "created_at": stamp, "updated_at": stamp}

    def stamp(file: FileRow, info) -> str:
        return file.mod_time or _store(info).started_at

    def fingerprint(file: FileRow, info, type: str) -> Optional[str]:
        return oshash(file) if type == "oshash" else None

    resolve("VideoFile", "parent_folder", folder)
    resolve("VideoFile", "parent_folder_id", lambda file, info: folder(file, info)["id"])
    for name in ("mod_time", "created_at", "updated_at"):
        resolve("VideoFile", name, stamp)
    resolve("VideoFile", "fingerprint", fingerprint)
    resolve("VideoFile", "fingerprints", lambda file, info: [{"type": "oshash", "value": oshash(file)}])
    resolve("VideoFile", "format", lambda file, info: CONTAINERS.get(
        file.path.rsplit(".", 1)[-1].lower(), file.path.rsplit(".", 1)[-1].lower()))
    resolve("VideoFile", "bit_rate", lambda file, info: int(file.size * 8 / file.duration) if file.duration else 0)


def _studio(resolve: Resolve) -> None:
    def scenes(studio: StudioRow, info, depth: Optional[int] = None) -> list[SceneRow]:
        return _scenes_with(_store(info), "studios", studio.id, depth)

    resolve("Studio", "child_studios", lambda studio, info: [s for s in _store(info).studios.values()
                                                              if s.parent_id == studio.id])
    resolve("Studio", "image_path", lambda studio, info: _image_url(info, "studio", studio.id, _store(info).started_at))
    resolve("Studio", "scene_count", lambda studio, info, depth=None: len(scenes(studio, info, depth)))
    resolve("Studio", "performer_count", lambda studio, info, depth=None: len(_distinct(
        scenes(studio, info, depth), lambda r: r.performer_ids)))
    for name in ("image_count", "gallery_count", "group_count", "movie_count"):
        resolve("Studio", name, lambda studio, info, depth=None: 0)
    for name, value in (("urls", []), ("aliases", []), ("tags", []), ("ignore_auto_tag", False),
                        ("stash_ids", []), ("favorite", False), ("groups", []), ("movies", []), ("o_counter", 0)):
        resolve("Studio", name, _const(value))
    for name in ("created_at", "updated_at"):
        resolve("Studio", name, lambda studio, info: _store(info).started_at)


def _performer(resolve: Resolve) -> None:
    def scenes(performer: PerformerRow, info) -> list[SceneRow]:
        return _scenes_with(_store(info), "performers", performer.id)

    def groups(performer: PerformerRow, info) -> list[GroupRow]:
        return [_store(info).groups[g] for g in sorted(_distinct(scenes(performer, info), _group_ids))]

    resolve("Performer", "scenes", scenes)
    resolve("Performer", "scene_count", lambda p, info: len(scenes(p, info)))
    resolve("Performer", "groups", groups)
    resolve("Performer", "movies", groups)
    resolve("Performer", "group_count", lambda p, info: len(groups(p, info)))
    resolve("Performer", "movie_count", lambda p, info: len(groups(p, info)))
    resolve("Performer", "performer_count", lambda p, info: len(
        _distinct(scenes(p, info), lambda r: r.performer_ids) - {p.id}))
    for name, value in (("urls", []), ("alias_list", []), ("favorite", False), ("tags", []),
                        ("ignore_auto_tag", False), ("image_count", 0), ("gallery_count", 0),
                        ("o_counter", 0), ("stash_ids", []), ("custom_fields", {})):
        resolve("Performer", name, _const(value))
    resolve("Performer", "created_at", lambda p, info: p.updated_at)


def _tag(resolve: Resolve) -> None:
    def children(tag: TagRow, info) -> list[TagRow]:
        return [t for t in _store(info).tags.values() if tag.id in t.parent_ids]

    resolve("Tag", "children", children)
    resolve("Tag", "child_count", lambda tag, info: len(children(tag, info)))
    resolve("Tag", "parent_count", lambda tag, info: len(tag.parent_ids))
    resolve("Tag", "image_path", lambda tag, info: _image_url(info, "tag", tag.id, _store(info).started_at))
    resolve("Tag", "scene_count", lambda tag, info, depth=None: len(_scenes_with(_store(info), "tags", tag.id, depth)))
    for name in ("scene_marker_count", "image_count", "gallery_count", "performer_count", "studio_count",
                 "group_count", "movie_count"):
        resolve("Tag", name, lambda tag, info, depth=None: 0)
    for name, value in (("aliases", []), ("ignore_auto_tag", False), ("favorite", False), ("stash_ids", [])):
        resolve("Tag", name, _const(value))
    for name in ("created_at", "updated_at"):
        resolve("Tag", name, lambda tag, info: _store(info).started_at)


def _group(resolve: Resolve) -> None:
    def scenes(group: GroupRow, info, depth: Optional[int] = None) -> list[SceneRow]:
        return _scenes_with(_store(info), "groups", group.id, depth)

    resolve("Group", "scenes", lambda group, info: scenes(group, info))
    resolve("Group", "scene_count", lambda group, info, depth=None: len(scenes(group, info, depth)))
    resolve("Group", "performer_count", lambda group, info, depth=None: len(
        _distinct(scenes(group, info, depth), lambda r: r.performer_ids)))
    resolve("Group", "sub_group_count", lambda group, info, depth=None: 0)
    resolve("Group", "front_image_path", lambda group, info: _image_url(
        info, "group", group.id, _store(info).started_at, "frontimage"))
    for name, value in (("urls", []), ("tags", []), ("containing_groups", []), ("sub_groups", []),
                        ("o_counter", 0)):
        resolve("Group", name, _const(value))
    for name in ("created_at", "updated_at"):
        resolve("Group", name, lambda group, info: _store(info).started_at)
