"""State of the fake Plex: sections, compact items, tags, and the rules of an edit.

Kept apart from HTTP and XML so the behaviour PlexSync depends on (what a PUT may carry,
how tags are added, removed and locked, how listings are ordered) reads in one place.
A library of 100,000 items must fit comfortably in memory, so an item is a `__slots__`
object holding strings and small tuples; XML is only built per request (plex_xml.py).

Listings: the default order (titleSort; show, season, episode) is kept up to date per section
and type. Other orders (`sort=addedAt:desc`, `sort=episode.titleSort,show.title:desc`...) are
built lazily on first use, kept as an ascending list per (type, sort) and read backwards when
the first field is descending; adds, edits and removals mark items stale in the lists built so
far, and the next read patches them in (cheap for a few changes, a rebuild for many).
"""
from __future__ import annotations

import hashlib
import re
import threading
import time
from bisect import bisect_left, insort
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import total_ordering
from operator import itemgetter
from typing import Any, Callable, Iterable, Optional, Union
from urllib.parse import unquote

TAG_ELEMENTS = {"genre": "Genre", "actor": "Role", "director": "Director", "writer": "Writer",
                "producer": "Producer", "country": "Country", "collection": "Collection", "label": "Label"}
TAG_PLURALS = {"genres": "genre", "actors": "actor", "directors": "director", "writers": "writer",
               "producers": "producer", "countries": "country", "collections": "collection", "labels": "label"}
LISTING_TAG_LIMITS = {"genre": 2, "director": 1, "writer": 1, "producer": 1, "country": 1, "actor": 3,
                      "collection": 2}
COLLECTION_TYPE = 18  # the search type of collections (/library/sections/{id}/all?type=18)
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
IMAGE_KIND_LOCKS = {"posters": "thumb", "arts": "art"}
IMAGE_LOCKS = frozenset({"thumb", "art", "theme", "clearLogo", "squareArt"})
DISPLAY_ATTRS = frozenset({"guid", "duration", "viewCount", "viewOffset", "lastViewedAt", "chapterSource",
                           "primaryExtraKey", "ratingImage", "audienceRatingImage", "art", "thumb"})
SEARCH_TYPES = {1: "movie", 2: "show", 3: "season", 4: "episode"}
TYPE_NUMBERS = {kind: number for number, kind in SEARCH_TYPES.items()}
LINEAGE = {"movie": ("movie",), "show": ("show",), "season": ("season", "show"),
           "episode": ("episode", "season", "show")}  # the item's kind, then its ancestors'
SECTION_TYPES = {"movie": (1,), "show": (2, 3, 4)}
FLOAT_FIELDS = frozenset({"userRating", "audienceRating", "rating"})
INT_FIELDS = frozenset({"year", "addedAt"})

TagEntry = Union[str, tuple]  # actors are (name, thumb, role); other tags are plain names


class EditError(ValueError):
    """A request Plex would answer with 400 Bad Request."""


NO_VALUE = float("-inf")  # a missing number sorts first (last when descending)


def _number(name: str, default: Optional[float] = None) -> Callable[["Item"], float]:
    def value(item: "Item") -> float:
        raw = item.fields.get(name)
        try:
            return float(raw) if raw else (NO_VALUE if default is None else default)
        except ValueError:
            return NO_VALUE
    return value


def _text(name: str) -> Callable[["Item"], str]:
    return lambda item: (item.fields.get(name) or "").lower()


# sort=<field>: the value an item sorts by. Titles compare case-insensitively; ties go by ratingKey.
SORT_KEYS: dict[str, Callable[["Item"], Any]] = {
    "titleSort": lambda item: (item.fields.get("titleSort") or item.title).lower(),
    "title": lambda item: item.title.lower(),
    "addedAt": lambda item: item.added_at,
    "updatedAt": lambda item: item.updated_at,
    "originallyAvailableAt": lambda item: item.fields.get("originallyAvailableAt", ""),
    "year": _number("year"),
    "rating": _number("rating"),
    "audienceRating": _number("audienceRating"),
    "userRating": _number("userRating"),
    "lastRatedAt": _number("lastRatedAt"),
    "lastViewedAt": _number("lastViewedAt"),
    "viewCount": _number("viewCount", 0.0),
    "duration": _number("duration", 1800000.0),
    "mediaHeight": lambda item: 1080 if item.media else NO_VALUE,  # every fake Media is 1080p
    "contentRating": _text("contentRating"),
    "summary": _text("summary"),
    "tagline": _text("tagline"),
    "guid": lambda item: item.fields.get("guid") or f"local://{item.rating_key}",
    "id": lambda item: item.rating_key,
    "index": lambda item: NO_VALUE if item.index is None else item.index,
}
# <field><op>=<value> filters on a listing: dates take unix seconds, YYYY-MM-DD or -30d style.
FILTER_FIELDS = {"addedAt": "date", "updatedAt": "date", "lastViewedAt": "date", "lastRatedAt": "date",
                 "year": "integer", "duration": "integer", "viewCount": "integer", "userRating": "integer"}
_SORT_PART = re.compile(r"^(?:([a-zA-Z]+)\.)?([a-zA-Z]+)(?::([a-zA-Z]*))?$")
_SORT_DIRECTIONS = {"": False, "asc": False, "nullsLast": False, "desc": True}
_FILTER_PARAM = re.compile(r"^(?:([a-zA-Z]+)\.)?([a-zA-Z]+)(>>|<<|!)?$")
_RELATIVE = re.compile(r"^-?(\d+)(mon|[smhdwy])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mon": 30 * 86400, "y": 365 * 86400}
SortSpec = tuple  # ((ancestor depth, field, descending), ...)
MAX_SORTED_VIEWS = 8  # per section; the least recently read goes first


@total_ordering
class _Descending:
    """A text value that sorts backwards, for descending text fields after the first sort field."""
    __slots__ = ("value",)

    def __init__(self, value: str):
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.value == other.value

    def __lt__(self, other: "_Descending") -> bool:
        return other.value < self.value

    def __hash__(self) -> int:
        return hash(self.value)


def _lineage_depth(prefix: Optional[str], kind: str, raw: str) -> int:
    if not prefix:
        return 0
    if prefix not in LINEAGE[kind]:
        raise EditError(f"{raw!r}: a {kind} listing cannot use {prefix} fields")
    return LINEAGE[kind].index(prefix)


def parse_sort(raw: Optional[str], kind: str) -> SortSpec:
    """The sort= parameter ("addedAt:desc", "episode.titleSort,show.title:desc"); () for the default
    order; EditError (400) for an unknown field, libtype or direction, as Plex refuses them."""
    if not (raw or "").strip():
        return ()
    spec = []
    for part in raw.split(","):
        found = _SORT_PART.match(part.strip())
        if not found or found[2] not in SORT_KEYS or (found[3] or "") not in _SORT_DIRECTIONS:
            raise EditError(f"unknown sort {part!r}")
        spec.append((_lineage_depth(found[1], kind, part), found[2], _SORT_DIRECTIONS[found[3] or ""]))
    return tuple(spec)


def _filter_value(kind: str, raw: str) -> float:
    relative = _RELATIVE.match(raw)
    if kind == "date" and relative:
        return time.time() - int(relative[1]) * _UNIT_SECONDS[relative[2]]
    if kind == "date" and _DATE.match(raw):
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=timezone.utc).timestamp()
    return float(raw)


def parse_filters(query: Iterable[tuple[str, str]], kind: str) -> list[tuple[int, str, str, list[float]]]:
    """The addedAt>>=<unix> style filters of a listing: (depth, field, operator, values) each.

    `>>=` keeps values above, `<<=` below, `=` (comma-separated: any of) equal, `!=` unequal;
    items without the value never pass. Parameters that are not filters are left alone; a
    comparison on a field the fake cannot filter by is refused rather than ignored."""
    filters = []
    for key, value in query:
        found = _FILTER_PARAM.match(key)
        if not found or (found[2] not in FILTER_FIELDS and not found[3]):
            continue
        if found[2] not in FILTER_FIELDS:
            raise EditError(f"the fake Plex cannot filter by {key}={value!r}")
        try:
            values = [_filter_value(FILTER_FIELDS[found[2]], part) for part in value.split(",") if part]
        except ValueError:
            raise EditError(f"bad filter value {key}={value!r}") from None
        if not values or (found[3] in (">>", "<<") and len(values) != 1):
            raise EditError(f"bad filter value {key}={value!r}")
        filters.append((_lineage_depth(found[1], kind, key), found[2], found[3] or "=", values))
    return filters


def _passes(value: float, operator: str, values: list[float]) -> bool:
    if value == NO_VALUE:
        return False
    if operator == ">>":
        return value > values[0]
    if operator == "<<":
        return value < values[0]
    return (value in values) == (operator == "=")


class SortedView:
    """One section's items of one type in one order: ascending entries (values..., ratingKey),
    the ratingKeys changed since they were sorted, and the highest ratingKey the server had
    then (a stale key above it is a new item, with no old entry to take out)."""
    __slots__ = ("entries", "stale", "newest")

    def __init__(self, entries: list, newest: int):
        self.entries, self.stale, self.newest = entries, set(), newest


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
    sorts: dict[tuple, SortedView] = field(default_factory=dict)  # (search type, spec) -> view

    def ordered(self, search_type: int) -> list:
        entries = self.lists.setdefault(search_type, [])
        if search_type in self.dirty:
            entries.sort()
            self.dirty.discard(search_type)
        return entries


@dataclass
class Collection:
    """A collection object: made by Plex when a collection tag is first set in a section."""
    rating_key: int
    section_key: int
    title: str
    subtype: str
    added_at: int
    updated_at: int = 0
    members: set = field(default_factory=set)
    summary: str = ""
    poster: Optional[str] = None  # the digest of an uploaded poster (else Plex shows a composite)
    locked: set = field(default_factory=set)


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
        self.tag_edit_mode = "replace"
        self._shows: dict[tuple[int, str], int] = {}
        # Collections are objects in Plex: a collection tag set on an item creates (or joins) one.
        self.collections: dict[tuple[int, str], "Collection"] = {}
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
            show = self._child(section, None, show_title, "show", 1, added_at)
            season_item = self._child(section, show, f"Season {season}", "season", season, added_at)
            item = self._new_item("episode", section_key, title, added_at, season_item, episode)
            self._attach(item, files, size, prepared)
            return item.rating_key

    def _child(self, section: Section, parent: Optional[Item], title: str, kind: str, index: int,
               added_at: Optional[int]) -> Item:
        if parent is None:
            key = self._shows.get((section.key, title))
        else:
            key = next((k for k in parent.children if self.items[k].index == index), None)
        if key is not None:
            return self.items[key]
        item = self._new_item(kind, section.key, title, added_at, parent, index)
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
        self.touch(item)
        search_type = TYPE_NUMBERS[item.kind]
        section = self.sections[item.section_key]
        entries = section.lists.setdefault(search_type, [])
        dirty = search_type in section.dirty
        new_key = self._sort_key(item)
        if item.sort_key == new_key:
            return
        if item.sort_key:
            self._unplace(item)
        item.sort_key = new_key
        if not entries or entries[-1] < new_key:
            entries.append(new_key)
        elif dirty or not item.media:
            entries.append(new_key)
            section.dirty.add(search_type)
        else:
            insort(entries, new_key)

    def _place_tree(self, item: Item) -> None:
        """Place an edited item and, as their default order follows a show's title, its descendants."""
        self._place(item)
        for key in item.children or ():
            self._place_tree(self.items[key])

    def _unplace(self, item: Item) -> None:
        section = self.sections[item.section_key]
        search_type = TYPE_NUMBERS[item.kind]
        entries = section.lists[search_type]
        if search_type in section.dirty:
            entries.remove(item.sort_key)
        else:
            del entries[bisect_left(entries, item.sort_key)]

    def touch(self, item: Item) -> None:
        """Note a change to an item for the sorted views of its section built so far."""
        section = self.sections[item.section_key]
        if not section.sorts:
            return
        search_type = TYPE_NUMBERS[item.kind]
        for view_key, view in list(section.sorts.items()):
            if view_key[0] == search_type:
                view.stale.add(item.rating_key)
            elif any(depth for depth, _, _ in view_key[1]):  # it may sort by this ancestor's fields
                del section.sorts[view_key]

    def listing(self, section: Section, search_type: int, sort: Optional[str],
                query: Iterable[tuple[str, str]], start: int, size: Optional[int]) -> tuple[list[int], int]:
        """The ratingKeys of one page of a section's listing, and how many the whole listing has."""
        kind = SEARCH_TYPES[search_type]
        spec, filters = parse_sort(sort, kind), parse_filters(query, kind)
        entries, backwards = (self._sorted(section, search_type, spec) if spec
                              else (section.ordered(search_type), False))
        if filters:
            entries = [e for e in (reversed(entries) if backwards else entries) if self._kept(e[-1], filters)]
            backwards = False
        total = len(entries)
        end = total if size is None else min(total, start + max(0, size))
        if start >= end:
            return [], total
        window = entries[total - end:total - start][::-1] if backwards else entries[start:end]
        return [entry[-1] for entry in window], total

    def _kept(self, rating_key: int, filters: list) -> bool:
        item = self.items[rating_key]
        for depth, name, operator, values in filters:
            if not _passes(SORT_KEYS[name](self._ancestor(item, depth)), operator, values):
                return False
        return True

    def _ancestor(self, item: Item, depth: int) -> Item:
        for _ in range(depth):
            item = self.items[item.parent_key]
        return item

    def _sorted(self, section: Section, search_type: int, spec: SortSpec) -> tuple[list, bool]:
        """Entries in the order `spec` asks for, ascending or (True) to be read backwards."""
        backwards = spec[0][2]
        if backwards:
            spec = tuple((depth, name, not descending) for depth, name, descending in spec)
        view = section.sorts.pop((search_type, spec), None)
        newest = self._next_key - 1
        if view is None or len(view.stale) * 8 > len(section.lists.get(search_type, ())):
            items = self.items
            listed = [items[entry[-1]] for entry in section.ordered(search_type)]
            if len(spec) == 1 and not spec[0][0]:  # the common case, kept quick for 100,000 items
                value = SORT_KEYS[spec[0][1]]
                entries = [(value(item), item.rating_key) for item in listed]
                entries.sort(key=itemgetter(1))  # two stable sorts on one field each beat one on pairs
                entries.sort(key=itemgetter(0))
            else:
                entries = [self._sort_entry(item, spec) for item in listed]
                entries.sort()
            view = SortedView(entries, newest)
        elif view.stale:
            kind, entries = SEARCH_TYPES[search_type], view.entries
            known = {key for key in view.stale if key <= view.newest}
            if known:  # edited or removed: take the old entries out (one pass)
                entries = [entry for entry in entries if entry[-1] not in known]
            fresh = [self._sort_entry(item, spec) for item in map(self.items.get, view.stale)
                     if item is not None and item.kind == kind and item.section_key == section.key]
            if len(fresh) <= 32:
                for entry in fresh:
                    insort(entries, entry)
            else:
                entries += fresh
                entries.sort()  # nearly sorted already: close to linear
            view = SortedView(entries, newest)
        section.sorts[(search_type, spec)] = view
        while len(section.sorts) > MAX_SORTED_VIEWS:
            del section.sorts[next(iter(section.sorts))]
        return view.entries, backwards

    def _sort_entry(self, item: Item, spec: SortSpec) -> tuple:
        values = []
        for depth, name, descending in spec:
            value = SORT_KEYS[name](self._ancestor(item, depth))
            values.append((_Descending(value) if isinstance(value, str) else -value) if descending else value)
        values.append(item.rating_key)
        return tuple(values)

    def remove(self, rating_key: int) -> list[int]:
        """Delete an item, everything under it, and the seasons and show it leaves empty.

        Returns the ratingKeys removed (KeyError for an unknown one). Files are released, tag
        counts drop; the tags themselves stay known to the server, as in Plex."""
        item = self.items[rating_key]
        removed = self._drop_tree(item)
        child, parent_key = item.rating_key, item.parent_key
        while parent_key is not None:
            parent = self.items[parent_key]
            parent.children.remove(child)
            self.touch(parent)  # leafCount/childCount changed
            if parent.children:
                break
            self._drop(parent)
            removed.append(parent.rating_key)
            child, parent_key = parent.rating_key, parent.parent_key
        return removed

    def _drop_tree(self, item: Item) -> list[int]:
        removed = []
        for key in item.children or ():
            removed += self._drop_tree(self.items[key])
        self._drop(item)
        return removed + [item.rating_key]

    def _drop(self, item: Item) -> None:
        self.touch(item)
        self._unplace(item)
        for _, _, path, _ in item.media:
            self.by_file.pop(path, None)
        for tag in list(item.tags or ()):
            self._set_tags(item, tag, [])
        if item.kind == "show":
            self._shows.pop((item.section_key, item.scanned_title), None)
        del self.items[item.rating_key]

    def _set_tags(self, item: Item, tag: str, entries: list) -> None:
        old = {tag_name(e) for e in item.tag_list(tag)}
        by_name: dict[str, TagEntry] = {}
        for entry in entries:
            by_name.setdefault(tag_name(entry), entry)
        self.tags.adjust(tag, old - by_name.keys(), -1)
        self.tags.adjust(tag, by_name.keys() - old, +1)
        if tag == "collection":
            self._move_collections(item, old - by_name.keys(), by_name.keys() - old)
        if by_name:
            item.tags = item.tags or {}
            item.tags[tag] = list(by_name.values())
        elif item.tags:
            item.tags.pop(tag, None)

    def _move_collections(self, item: Item, left: Iterable[str], joined: Iterable[str]) -> None:
        """Keep collection objects in step: created on first member; the last one leaving leaves it
        empty (Plex keeps empty collections: PlexSync's own must be deleted by PlexSync)."""
        for name in left:
            collection = self.collections.get((item.section_key, name))
            if collection is not None:
                collection.members.discard(item.rating_key)
                collection.updated_at = int(time.time())
        for name in joined:
            collection = self.collections.get((item.section_key, name))
            if collection is None:
                collection = Collection(self._next_key, item.section_key, name, item.kind, int(time.time()))
                self._next_key += 1
                self.collections[(item.section_key, name)] = collection
            collection.members.add(item.rating_key)
            collection.updated_at = int(time.time())

    def delete_collection(self, collection: "Collection") -> None:
        """DELETE /library/metadata/{collection}: the members lose the tag, the object goes."""
        for key in list(collection.members):
            member = self.items.get(key)
            if member is not None:
                self._set_tags(member, "collection", [e for e in member.tag_list("collection")
                                                      if tag_name(e) != collection.title])
        self.collections.pop((collection.section_key, collection.title), None)

    def section_collections(self, section_key: int) -> list["Collection"]:
        found = [c for (key, _), c in self.collections.items() if key == section_key]
        return sorted(found, key=lambda c: (c.title.lower(), c.rating_key))

    def collection(self, rating_key: int) -> Optional["Collection"]:
        return next((c for c in self.collections.values() if c.rating_key == rating_key), None)

    def apply_edit(self, item: Item, plan: EditPlan, single: bool = True) -> None:
        for name, value in plan.values.items():
            if name == "addedAt":
                item.added_at = int(value) if value else item.added_at
            elif value:
                item.fields[name] = value
            else:
                item.fields.pop(name, None)
        for name, locked in plan.locks.items():
            item.locked = (item.locked or set()) | {name} if locked else (item.locked or set()) - {name}
        for tag in set(plan.indexed) | set(plan.removals) | plan.clears:
            self._set_tags(item, tag, self._edited_tags(item, tag, plan, single))
        item.locked = item.locked or None
        item.updated_at = max(int(time.time()), item.updated_at + 1)
        self._place_tree(item)

    def _edited_tags(self, item: Item, tag: str, plan: EditPlan, single: bool = True) -> list:
        current = [] if tag in plan.clears else list(item.tag_list(tag))
        given = [plan.indexed[tag][i] for i in sorted(plan.indexed.get(tag, {}))]
        if given and single and self.tag_edit_mode == "replace":
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
        self._place_tree(item)

    def add_image(self, item: Item, kind: str, payload: Union[bytes, str]) -> str:
        """An upload: kept under a key made from its content (the same bytes twice are one image),
        selected, and locked (`thumb` for posters, `art` for backgrounds) as Plex does."""
        item.images = item.images or {}
        entries = item.images.setdefault(kind, [])
        raw = payload.encode() if isinstance(payload, str) else payload
        key = f"upload://{kind}/{hashlib.sha1(raw).hexdigest()}"
        if key not in [entry[0] for entry in entries]:
            entries.append([key, payload])
        self.select_image(item, kind, key)
        item.locked = (item.locked or set()) | {IMAGE_KIND_LOCKS[kind]}
        return key

    def select_image(self, item: Item, kind: str, key: str) -> bool:
        entries = (item.images or {}).get(kind, [])
        if key not in [entry[0] for entry in entries]:
            return False
        item.images[f"{kind}:selected"] = [key]
        item.updated_at = max(int(time.time()), item.updated_at + 1)
        self.touch(item)
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
