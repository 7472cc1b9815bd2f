"""Turns "what Stash says" and "what the Plex item holds" into the fewest, correct Plex writes.

`plan_edit()` compares the wanted fields with the item's full state (never a listing: listings
carry truncated tag lists), skips fields that already hold the value and are locked, and builds
the edit parameters real Plex accepts (`title.value`, `title.locked`, `genre[0].tag.tag`,
`genre[].tag.tag-` with names URL-quoted then comma-joined, `actor[0].tag.thumb`) — the same
names and encoding plexapi's own edit mixins produce. Every written field is locked.

preserve_plex_edits rule: a field counts as edited by hand when Plex has it locked and PlexSync
has no memory of writing the value Plex now holds (we never wrote it, or someone changed it
after we did). Such fields are left alone. The memory (`written`) is what we last wrote per
item, kept by the index database. Stdlib only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple
from urllib.parse import quote

from plex.fields import ACTOR, TAG_FIELDS, Wanted, encoded_len

# A single PUT's query string stays under this (real servers and proxies accept 16-64 KiB).
QUERY_MAX = 12_000
RATING_KEY = "userRating"  # key of the rating in the written-memory
POSTER_LOCK, ART_LOCK = "thumb", "art"


@dataclass(frozen=True)
class ItemState:
    """A Plex item as GET /library/metadata/{ratingKey} describes it (all tags, field locks)."""

    rating_key: int
    section_id: int
    type: str  # "movie" | "episode"
    values: Dict[str, str] = field(default_factory=dict)
    tags: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    thumbs: Dict[str, str] = field(default_factory=dict)  # actor name -> thumb
    locked: FrozenSet[str] = frozenset()
    user_rating: Optional[float] = None
    files: Tuple[str, ...] = ()

    @property
    def type_number(self) -> int:
        return 4 if self.type == "episode" else 1


@dataclass
class EditPlan:
    """The writes for one item: edit parameters grouped per field, the rating, and the new memory."""

    groups: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # field -> its parameters
    rate: bool = False
    rating: Optional[float] = None  # the rating to send when `rate` (None clears)
    kept: List[str] = field(default_factory=list)  # fields left alone as hand edits
    written: Dict[str, Any] = field(default_factory=dict)  # memory after these writes

    @property
    def fields(self) -> Tuple[str, ...]:
        return tuple(self.groups)

    def requests(self, alone: Tuple[str, ...] = ()) -> List[Dict[str, Any]]:
        """The parameters of each PUT: normally one, split per field only if one would be too long.

        Fields named in `alone` go last, each in its own PUT(s), so that a server refusing them
        still gets the rest (episode actors: no evidence shows Plex accepts them)."""
        shared = [group for name, group in self.groups.items() if name not in alone]
        chunks = _packed(shared)
        for name in alone:
            if name in self.groups:
                chunks += _packed([self.groups[name]])
        return chunks


def _packed(groups: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    chunks: List[Dict[str, Any]] = []
    size = QUERY_MAX
    for params in (piece for group in groups for piece in _split_removals(group)):
        cost = query_len(params)
        if not chunks or size + cost > QUERY_MAX:
            chunks.append({})
            size = 0
        chunks[-1].update(params)
        size += cost
    return chunks


def _split_removals(params: Dict[str, Any]) -> List[Dict[str, Any]]:
    """A field's parameters, with a removal list too long for one request spread over several."""
    removal = next((key for key in params if key.endswith("[].tag.tag-")), None)
    if removal is None or query_len(params) <= QUERY_MAX:
        return [params]
    rest = {key: value for key, value in params.items() if key != removal}
    pieces: List[Dict[str, Any]] = [rest]
    budget = QUERY_MAX - query_len(rest)
    current: List[str] = []
    for name in str(params[removal]).split(","):
        if current and query_len({removal: ",".join(current + [name])}) > budget:
            pieces.append({removal: ",".join(current)})
            current, budget = [], QUERY_MAX
        current.append(name)
    if current:
        pieces.append({removal: ",".join(current)})
    return pieces


def query_len(params: Mapping[str, Any]) -> int:
    """Length of the encoded query string for `params` (keys as written, values percent-encoded)."""
    return sum(len(key) + 2 + encoded_len(str(value)) for key, value in params.items())


def field_params(name: str, value: str) -> Dict[str, Any]:
    """Parameters setting and locking one field (as plexapi's editField builds them)."""
    return {f"{name}.value": value, f"{name}.locked": 1}


def tag_params(tag: str, names: Tuple[str, ...], remove: Tuple[str, ...] = (),
               thumbs: Optional[Mapping[str, str]] = None) -> Dict[str, Any]:
    """Parameters making `tag` hold exactly `names`, locked (as plexapi's _tagHelper builds them)."""
    params: Dict[str, Any] = {f"{tag}.locked": 1}
    for index, name in enumerate(names):
        params[f"{tag}[{index}].tag.tag"] = name
        if thumbs and thumbs.get(name):
            params[f"{tag}[{index}].tag.thumb"] = thumbs[name]
    if remove:
        params[f"{tag}[].tag.tag-"] = ",".join(quote(str(name)) for name in remove)
    return params


def hand_edited(name: str, current: Any, item: ItemState, written: Mapping[str, Any]) -> bool:
    """Locked in Plex, and holding a value PlexSync did not write: someone set it by hand."""
    return name in item.locked and written.get(name) != current


def _same_tags(current: Tuple[str, ...], wanted: Tuple[str, ...]) -> bool:
    return sorted(current) == sorted(wanted)


def _removals(current: Tuple[str, ...], wanted: Tuple[str, ...]) -> Tuple[str, ...]:
    # A name differing only in case is re-added, not removed: Plex may match tags case-insensitively.
    keep = {name.casefold() for name in wanted}
    return tuple(name for name in current if name.casefold() not in keep)


def _rating_differs(current: Optional[float], wanted: Optional[float]) -> bool:
    if current is None or wanted is None:
        return current is not wanted
    return abs(current - wanted) > 0.05


def plan_edit(want: Wanted, item: ItemState, written: Optional[Mapping[str, Any]] = None,
              preserve_plex_edits: bool = False, locks: Tuple[str, ...] = ()) -> EditPlan:
    """The writes that make `item` say what `want` says; `locks` adds image locks (thumb, art)."""
    memory: Dict[str, Any] = dict(written or {})
    plan = EditPlan(written=dict(memory))
    for name, value in want.values.items():
        current = item.values.get(name, "")
        if preserve_plex_edits and hand_edited(name, current, item, memory):
            plan.kept.append(name)
            continue
        plan.written[name] = value
        if current != value or name not in item.locked:
            plan.groups[name] = field_params(name, value)
    for tag in TAG_FIELDS:
        if tag not in want.tags:
            continue
        names: Tuple[str, ...] = tuple(want.tags[tag])
        tags_now: Tuple[str, ...] = tuple(item.tags.get(tag, ()))
        if preserve_plex_edits and hand_edited(tag, sorted(tags_now), item, _sorted_memory(memory, tag)):
            plan.kept.append(tag)
            continue
        plan.written[tag] = list(names)
        thumbs = {name: want.thumbs[name] for name in names if name in want.thumbs} if tag == ACTOR else {}
        thumbs_differ = any(item.thumbs.get(name) != url for name, url in thumbs.items())
        if not _same_tags(tags_now, names) or thumbs_differ or tag not in item.locked:
            plan.groups[tag] = tag_params(tag, names, _removals(tags_now, names), thumbs)
    for lock in locks:
        if lock not in item.locked:
            plan.groups[lock] = {f"{lock}.locked": 1}
    if want.sync_rating:
        if want.rating is not None:
            plan.rate = _rating_differs(item.user_rating, want.rating)
            plan.rating = want.rating
            plan.written[RATING_KEY] = want.rating
        elif memory.get(RATING_KEY) is not None:
            plan.rate = item.user_rating is not None
            plan.rating = None
            plan.written.pop(RATING_KEY, None)
    return plan


def _sorted_memory(memory: Mapping[str, Any], tag: str) -> Dict[str, Any]:
    value = memory.get(tag)
    return {tag: sorted(value)} if isinstance(value, list) else {}

