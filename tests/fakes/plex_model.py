"""State of the fake Plex: sections, compact items, tags, and the rules of an edit.

Kept apart from HTTP and XML so the behaviour PlexSync depends on (what a PUT may carry,
how tags are added, removed and locked, how listings are ordered) reads in one place.
A library of 100,000 items must fit comfortably in memory, so an item is a `__slots__`
object holding strings and small tuples; XML is only built per request (plex_xml.py).
"""
from __future__ import annotations

import re
import threading
import time
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable, Optional, Union
from urllib.parse import unquote

TAG_ELEMENTS = {"genre": "Genre", "actor": "Role", "director": "Director", "writer": "Writer",
                "producer": "Producer", "country": "Country", "collection": "Collection", "label": "Label"}
TAG_PLURALS = {"genres": "genre", "actors": "actor", "directors": "director", "writers": "writer",
               "producers": "producer", "countries": "country", "collections": "collection", "labels": "label"}
LISTING_TAG_LIMITS = {"genre": 2, "director": 1, "writer": 1, "producer": 1, "country": 1, "actor": 3}
KIND_TAGS = {
    "movie": frozenset(TAG_ELEMENTS),
    "episode": frozenset({"actor", "director", "writer", "collection", "label"}),
    "show": frozenset({"genre", "actor", "collection", "label"}),
    "season": frozenset({"collection", "label"}),
}
_COMMON_FIELDS = {"title", "titleSort", "summary", "originallyAvailableAt", "contentRating", "userRating",
                  "addedAt", "audienceRating", "rating"}
KIND_FIELDS = {
    "movie": frozenset(_COMMON_FIELDS | {"originalTitle", "studio", "tagline", "year", "editionTitle"}),
    "episode": frozenset(_COMMON_FIELDS),
    "show": frozenset(_COMMON_FIELDS | {"originalTitle", "studio", "tagline"}),
    "season": frozenset({"title", "summary", "userRating"}),
}
IMAGE_LOCKS = frozenset({"thumb", "art", "theme", "clearLogo", "squareArt"})
DISPLAY_ATTRS = frozenset({"guid", "duration", "viewCount", "viewOffset", "lastViewedAt", "chapterSource",
                           "primaryExtraKey", "ratingImage", "audienceRatingImage", "art", "thumb"})
SEARCH_TYPES = {1: "movie", 2: "show", 3: "season", 4: "episode"}
SECTION_TYPES = {"movie": (1,), "show": (2, 3, 4)}
FLOAT_FIELDS = frozenset({"userRating", "audienceRating", "rating"})
INT_FIELDS = frozenset({"year", "addedAt"})

TagEntry = Union[str, tuple]  # actors are (name, thumb, role); other tags are plain names


class EditError(ValueError):
    """A request Plex would answer with 400 Bad Request."""


class Item:
    __slots__ = ("rating_key", "kind", "section_key", "fields", "tags", "locked", "media", "images",
                 "parent_key", "index", "added_at", "updated_at", "children", "scanned_title", "sort_key")

    def __init__(self, rating_key: int, kind: str, section_key: int, title: str, added_at: int):
        self.rating_key, self.kind, self.section_key = rating_key, kind, section_key
        self.fields: dict[str, str] = {"title": title}
        self.tags: Optional[dict[str, list]] = None
        self.locked: Optional[set[str]] = None
        self.media: tuple = ()
        self.images: Optional[dict[str, list]] = None
        self.parent_key: Optional[int] = None
        self.index: Optional[int] = None
        self.added_at = self.updated_at = added_at
        self.children: Optional[list[int]] = None
        self.scanned_title = title
        self.sort_key: tuple = ()

    @property
    def title(self) -> str:
        return self.fields.get("title", "")

    def tag_list(self, tag: str) -> list:
        return self.tags.get(tag, []) if self.tags else []


@dataclass
class Section:
    key: int
    title: str
    type: str
    locations: list[str]
    agent: str
    uuid: str
    created_at: int
    lists: dict[int, list] = field(default_factory=dict)
    dirty: set[int] = field(default_factory=set)

    def ordered(self, search_type: int) -> list:
        entries = self.lists.setdefault(search_type, [])
        if search_type in self.dirty:
            entries.sort()
            self.dirty.discard(search_type)
        return entries


@dataclass
class EditPlan:
    values: dict[str, str] = field(default_factory=dict)
    locks: dict[str, bool] = field(default_factory=dict)
    indexed: dict[str, dict[int, dict[str, str]]] = field(default_factory=dict)
    removals: dict[str, list[str]] = field(default_factory=dict)
    clears: set[str] = field(default_factory=set)


_VALUE = re.compile(r"^(\w+)\.value$")
_LOCK = re.compile(r"^(\w+)\.locked$")
_INDEXED = re.compile(r"^(\w+)\[(\d+)\]\.tag\.(tag|thumb|role)$")
_REMOVE = re.compile(r"^(\w+)\[\]\.tag\.tag-$")
_CLEAR = re.compile(r"^(\w+)\[\]\.tag$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def tag_name(entry: TagEntry) -> str:
    return entry if isinstance(entry, str) else entry[0]


def validate_value(name: str, value: str) -> str:
    """The stored form of a field value; EditError when Plex would refuse it."""
    if value == "":
        if name == "title":
            raise EditError("title cannot be empty")
        return value
    try:
        if name == "originallyAvailableAt":
            if not _DATE.match(value):
                raise ValueError(value)
            date.fromisoformat(value)
        elif name in INT_FIELDS:
            value = str(int(value))
        elif name in FLOAT_FIELDS and not 0 <= float(value) <= 10:
            raise ValueError(value)
    except ValueError:
        raise EditError(f"bad value for {name}: {value!r}") from None
    return value


def parse_edit(query: Iterable[tuple[str, str]], kind: str) -> EditPlan:
    """Read the field/tag parameters of PUT /library/sections/{id}/all for items of `kind`."""
    plan, fields, tags = EditPlan(), KIND_FIELDS[kind], KIND_TAGS[kind]
    for key, value in query:
        if key in ("type", "id") or key.startswith("X-Plex-"):
            continue
        if (m := _VALUE.match(key)) and m[1] in fields:
            plan.values[m[1]] = validate_value(m[1], value)
        elif (m := _LOCK.match(key)) and m[1] in fields | tags | IMAGE_LOCKS and value in ("0", "1"):
            plan.locks[m[1]] = value == "1"
        elif (m := _INDEXED.match(key)) and m[1] in tags and (m[3] == "tag" or m[1] == "actor"):
            plan.indexed.setdefault(m[1], {}).setdefault(int(m[2]), {})[m[3]] = value
        elif (m := _REMOVE.match(key)) and m[1] in tags:
            plan.removals.setdefault(m[1], []).extend(unquote(n) for n in value.split(",") if n)
        elif (m := _CLEAR.match(key)) and m[1] in tags and value == "":
            plan.clears.add(m[1])
        else:
            raise EditError(f"unsupported edit parameter {key}={value!r} for a {kind}")
    for tag, entries in plan.indexed.items():
        if any("tag" not in parts for parts in entries.values()):
            raise EditError(f"{tag}[i] without .tag.tag")
    return plan


class TagIndex:
    """Plex-wide tag ids and how many items carry each tag (the `count` attribute)."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str], int] = {}
        self._counts: dict[tuple[str, str], int] = {}

    def ident(self, tag: str, name: str) -> int:
        return self._ids.setdefault((tag, name), len(self._ids) + 1000)

    def count(self, tag: str, name: str) -> int:
        return self._counts.get((tag, name), 0)

    def adjust(self, tag: str, names: Iterable[str], delta: int) -> None:
        counts = self._counts
        for name in names:
            counts[(tag, name)] = counts.get((tag, name), 0) + delta


def _actor(value: Any) -> tuple:
    if isinstance(value, str):
        return (value, None, None)
    name, thumb, role = (tuple(value) + (None, None))[:3]
    return (name, thumb, role)


class Library:
    """Every section and item of the fake server; guard mutations with `lock`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.items: dict[int, Item] = {}
        self.sections: dict[int, Section] = {}
        self.tags = TagIndex()
        self.by_file: dict[str, int] = {}
        self.pending: list[tuple[int, str, dict]] = []
        self.tag_edit_mode = "add"
        self._shows: dict[tuple[int, str], int] = {}
        self._next_key = 1
        self._next_media = 1

    def add_section(self, key: int, title: str, type: str, locations: list[str], agent: Optional[str]) -> None:
        if type not in SECTION_TYPES:
            raise ValueError(f"section type must be movie or show, not {type!r}")
        uuid = f"fa4e0000-0000-4000-8000-{key:012d}"
        with self.lock:
            self.sections[key] = Section(key, title, type, list(locations), agent or "tv.plex.agents.none",
                                         uuid, int(time.time()))

    def section(self, key: int, type: str) -> Section:
        section = self.sections.get(key)
        if section is None or section.type != type:
            raise ValueError(f"no {type} section with key {key}")
        return section

    def add_movie(self, section_key: int, files: list[str], title: str, size: Optional[int],
                  added_at: Optional[int], fields: dict[str, Any]) -> int:
        with self.lock:
            self.section(section_key, "movie")
            prepared = self._prepare("movie", files, fields)
            item = self._new_item("movie", section_key, title, added_at)
            self._attach(item, files, size, prepared)
            return item.rating_key

    def add_episode(self, section_key: int, files: list[str], title: str, show_title: str, season: int,
                    episode: int, size: Optional[int], added_at: Optional[int], fields: dict[str, Any]) -> int:
        with self.lock:
            section = self.section(section_key, "show")
            prepared = self._prepare("episode", files, fields)
            show = self._child(section, None, show_title, "show", 1)
            season_item = self._child(section, show, f"Season {season}", "season", season)
            item = self._new_item("episode", section_key, title, added_at, season_item, episode)
            self._attach(item, files, size, prepared)
            return item.rating_key

    def _child(self, section: Section, parent: Optional[Item], title: str, kind: str, index: int) -> Item:
        if parent is None:
            key = self._shows.get((section.key, title))
        else:
            key = next((k for k in parent.children if self.items[k].index == index), None)
        if key is not None:
            return self.items[key]
        item = self._new_item(kind, section.key, title, None, parent, index)
        if parent is None:
            self._shows[(section.key, title)] = item.rating_key
        return item

    def _new_item(self, kind: str, section_key: int, title: str, added_at: Optional[int],
                  parent: Optional[Item] = None, index: Optional[int] = None) -> Item:
        item = Item(self._next_key, kind, section_key, title, added_at or int(time.time()))
        self._next_key += 1
        item.index = index
        if parent is not None:
            item.parent_key = parent.rating_key
            parent.children.append(item.rating_key)
        if kind in ("show", "season"):
            item.children = []
        self.items[item.rating_key] = item
        self._place(item)
        return item

    def _prepare(self, kind: str, files: list[str], fields: dict[str, Any]) -> tuple[dict, dict, set]:
        """Check an added item's files and fields before anything is stored."""
        if not files or len(set(files)) != len(files) or any(path in self.by_file for path in files):
            raise ValueError(f"files must be new, distinct and non-empty: {files!r}")
        scalars, tags, locked = {}, {}, set(fields.get("locked", ()))
        for name, value in fields.items():
            if name in TAG_PLURALS and TAG_PLURALS[name] in KIND_TAGS[kind]:
                tag = TAG_PLURALS[name]
                tags[tag] = [_actor(v) if tag == "actor" else str(v) for v in value]
            elif name in KIND_FIELDS[kind]:
                try:
                    scalars[name] = validate_value(name, str(value))
                except EditError as err:
                    raise ValueError(str(err)) from None
            elif name in DISPLAY_ATTRS:
                scalars[name] = str(value)
            elif name != "locked":
                raise ValueError(f"a {kind} has no field {name!r}")
        return scalars, tags, locked

    def _attach(self, item: Item, files: list[str], size: Optional[int], prepared: tuple) -> None:
        scalars, tags, locked = prepared
        media = []
        for path in files:
            media.append((self._next_media, self._next_media, path, size if size is not None else 1_000_000))
            self._next_media += 1
            self.by_file[path] = item.rating_key
        item.media = tuple(media)
        item.fields.update(scalars)
        for tag, entries in tags.items():
            self._set_tags(item, tag, entries)
        item.locked = locked or None
        self._place(item)

    def _sort_key(self, item: Item) -> tuple:
        """Plex's default order for /all; the ratingKey last makes every key unique."""
        own = (item.fields.get("titleSort") or item.title).lower()
        if item.kind in ("movie", "show"):
            return (own, item.rating_key)
        parent = self.items[item.parent_key]
        if item.kind == "season":
            return (parent.sort_key[0], item.index, item.rating_key)
        return (parent.sort_key[0], parent.index, item.index, item.rating_key)

    def _place(self, item: Item) -> None:
        """Keep the item at its place in its section's ordered list (sorted lazily after bulk adds)."""
        search_type = {"movie": 1, "show": 2, "season": 3, "episode": 4}[item.kind]
        section = self.sections[item.section_key]
        entries = section.lists.setdefault(search_type, [])
        dirty = search_type in section.dirty
        new_key = self._sort_key(item)
        if item.sort_key == new_key:
            return
        if item.sort_key:
            del entries[entries.index(item.sort_key) if dirty else bisect_left(entries, item.sort_key)]
        item.sort_key = new_key
        if not entries or entries[-1] < new_key:
            entries.append(new_key)
        elif dirty or not item.media:
            entries.append(new_key)
            section.dirty.add(search_type)
        else:
            insort(entries, new_key)

    def _set_tags(self, item: Item, tag: str, entries: list) -> None:
        old = {tag_name(e) for e in item.tag_list(tag)}
        by_name: dict[str, TagEntry] = {}
        for entry in entries:
            by_name.setdefault(tag_name(entry), entry)
        self.tags.adjust(tag, old - by_name.keys(), -1)
        self.tags.adjust(tag, by_name.keys() - old, +1)
        if by_name:
            item.tags = item.tags or {}
            item.tags[tag] = list(by_name.values())
        elif item.tags:
            item.tags.pop(tag, None)

    def apply_edit(self, item: Item, plan: EditPlan) -> None:
        for name, value in plan.values.items():
            if value:
                item.fields[name] = value
            else:
                item.fields.pop(name, None)
        for name, locked in plan.locks.items():
            item.locked = (item.locked or set()) | {name} if locked else (item.locked or set()) - {name}
        for tag in set(plan.indexed) | set(plan.removals) | plan.clears:
            self._set_tags(item, tag, self._edited_tags(item, tag, plan))
        item.locked = item.locked or None
        item.updated_at = max(int(time.time()), item.updated_at + 1)
        self._place(item)

    def _edited_tags(self, item: Item, tag: str, plan: EditPlan) -> list:
        current = [] if tag in plan.clears else list(item.tag_list(tag))
        given = [plan.indexed[tag][i] for i in sorted(plan.indexed.get(tag, {}))]
        if given and self.tag_edit_mode == "replace":
            current = []
        for parts in given:
            names = [tag_name(e) for e in current]
            entry = (parts["tag"], parts.get("thumb"), parts.get("role")) if tag == "actor" else parts["tag"]
            if parts["tag"] not in names:
                current.append(entry)
            elif tag == "actor":
                at = names.index(parts["tag"])
                current[at] = (parts["tag"], parts.get("thumb", current[at][1]), parts.get("role", current[at][2]))
        removed = set(plan.removals.get(tag, ()))
        return [e for e in current if tag_name(e) not in removed]

    def agent_refresh(self, item: Item) -> None:
        """What a metadata refresh with the 'none' agent does: unlocked edits fall back."""
        locked = item.locked or set()
        for name in KIND_FIELDS[item.kind] - locked - {"addedAt"}:
            item.fields.pop(name, None)
        if "title" not in locked:
            item.fields["title"] = item.scanned_title
        for tag in KIND_TAGS[item.kind] - locked:
            self._set_tags(item, tag, [])
        self._place(item)

    def add_image(self, item: Item, kind: str, payload: Union[bytes, str]) -> None:
        item.images = item.images or {}
        entries = item.images.setdefault(kind, [])
        entries.append([f"upload://{kind}/{item.rating_key}-{len(entries) + 1}", payload])
        self.select_image(item, kind, entries[-1][0])

    def select_image(self, item: Item, kind: str, key: str) -> bool:
        entries = (item.images or {}).get(kind, [])
        if key not in [entry[0] for entry in entries]:
            return False
        item.images[f"{kind}:selected"] = [key]
        item.updated_at = max(int(time.time()), item.updated_at + 1)
        return True

    def selected_image(self, item: Item, kind: str) -> Optional[list]:
        chosen = (item.images or {}).get(f"{kind}:selected")
        return next((e for e in item.images[kind] if e[0] == chosen[0]), None) if chosen else None

    def covered_pending(self, section_key: int, folder: Optional[str]) -> list[tuple[int, str, dict]]:
        def covers(path: str) -> bool:
            if folder is None:
                return True
            base = folder.rstrip("/\\")
            return path == base or path.startswith(base + "/") or path.startswith(base + "\\")
        found = [p for p in self.pending if p[0] == section_key and covers(p[1])]
        self.pending = [p for p in self.pending if p not in found]
        return found
