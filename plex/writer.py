"""Turns "what Stash says" and "what the Plex item holds" into the fewest, correct Plex writes.

`plan_edit()` compares the wanted fields with the item's full state (never a listing: listings
carry truncated tag lists), skips fields that already hold the value and are locked, and builds
the edit parameters real Plex accepts (`title.value`, `title.locked`, `genre[0].tag.tag`,
`genre[].tag.tag-` with names URL-quoted then comma-joined, `actor[0].tag.thumb`) — the same
names and encoding plexapi's own edit mixins produce. Every written field is locked.

Collections and labels are shared: people and other tools (Kometa's `Overlay`, a hand-made
"Favorites") put theirs on the same items. For them PlexSync owns only the values it added
itself: the memory keeps, per item, the names PlexSync put there (`written[tag]`), and an edit
removes a name only when it is in that list and Stash no longer wants it; every other name on
the item is sent back as it is. A name that was already on the item when Stash first wanted it
stays the user's. Genres, actors, director and the plain fields are Stash's: exact sets.

preserve_plex_edits rule: a field counts as edited by hand when Plex has it locked and PlexSync
has no memory of writing the value Plex now holds (we never wrote it, or someone changed it
after we did); for collections and labels, when a name PlexSync added was removed in Plex.
Such fields are left alone. The memory (`written`) is what we last wrote per item, kept by the
index database. Stdlib only.

The rating rides in the edit (`userRating.value`, as plexapi's editField sends it), so it
costs no request of its own. Every PUT's request line stays under `REQUEST_LINE_MAX` (nginx
refuses longer ones with 414 by default).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple
from urllib.parse import quote

from plex.fields import ACTOR, COLLECTION, LABEL, TAG_FIELDS, Wanted, encoded_len

# nginx, the usual proxy in front of Plex, answers 414 to a request line over 8 KiB
# (large_client_header_buffers 4 8k); Plex itself answers 400 to very long edit URLs.
REQUEST_LINE_MAX = 8_000
# Room for "PUT /library/sections/{id}/all?" + "&type=N&id=K" + " HTTP/1.1" around the query.
QUERY_MAX = REQUEST_LINE_MAX - 200
# Shared fields: PlexSync removes only the names it added itself (see the module docstring).
OWNED_TAGS = (COLLECTION, LABEL)
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
    # collections/labels: the names that are PlexSync's after these writes, and the others' kept
    owned: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    others: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    added: Dict[str, Tuple[str, ...]] = field(default_factory=dict)  # names this edit gives the item
    removed: Dict[str, Tuple[str, ...]] = field(default_factory=dict)  # PlexSync's names it takes away

    @property
    def fields(self) -> Tuple[str, ...]:
        return tuple(self.groups)

    def requests(self, alone: Tuple[str, ...] = (), limit: int = QUERY_MAX) -> List[Dict[str, Any]]:
        """The parameters of each PUT: normally one, split per field only if one would be too long.

        Fields named in `alone` go last, each in its own PUT(s), so that a server refusing them
        still gets the rest (episode actors: no evidence shows Plex accepts them). `limit` is the
        longest query string a PUT may carry (smaller after a server refused one as too long)."""
        shared = [group for name, group in self.groups.items() if name not in alone]
        chunks = packed(shared, limit)
        for name in alone:
            if name in self.groups:
                chunks += packed([self.groups[name]], limit)
        return chunks


def packed(groups: List[Dict[str, Any]], limit: int = QUERY_MAX) -> List[Dict[str, Any]]:
    """Field groups packed into as few queries of at most `limit` as they fit (a group is never cut,
    except a long removal list, which is spread over several)."""
    chunks: List[Dict[str, Any]] = []
    size = limit
    for params in (piece for group in groups for piece in _split_removals(group, limit)):
        cost = query_len(params)
        if not chunks or size + cost > limit:
            chunks.append({})
            size = 0
        chunks[-1].update(params)
        size += cost
    return chunks


def _split_removals(params: Dict[str, Any], limit: int = QUERY_MAX) -> List[Dict[str, Any]]:
    """A field's parameters, with a removal list too long for one request spread over several."""
    removal = next((key for key in params if key.endswith("[].tag.tag-")), None)
    if removal is None or query_len(params) <= limit:
        return [params]
    rest = {key: value for key, value in params.items() if key != removal}
    pieces: List[Dict[str, Any]] = [rest]
    budget = limit - query_len(rest)
    current: List[str] = []
    for name in str(params[removal]).split(","):
        if current and query_len({removal: ",".join(current + [name])}) > budget:
            pieces.append({removal: ",".join(current)})
            current, budget = [], limit
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


def rating_params(rating: Optional[float]) -> Dict[str, Any]:
    """The rating in the edit (plexapi's editField('userRating')): set and lock, or clear and unlock."""
    if rating is None:
        return {f"{RATING_KEY}.value": "", f"{RATING_KEY}.locked": 0}
    return {f"{RATING_KEY}.value": f"{rating:g}", f"{RATING_KEY}.locked": 1}


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
        if tag in OWNED_TAGS:
            _plan_shared(plan, tag, tuple(want.tags[tag]), item, memory, preserve_plex_edits)
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
        if plan.rate:
            plan.groups[RATING_KEY] = rating_params(plan.rating)
    return plan


def _folded(names: Any) -> FrozenSet[str]:
    return frozenset(str(name).casefold() for name in names) if isinstance(names, (list, tuple)) else frozenset()


def _plan_shared(plan: EditPlan, tag: str, names: Tuple[str, ...], item: ItemState, memory: Mapping[str, Any],
                 preserve_plex_edits: bool) -> None:
    """A collection or label field: add what Stash wants, remove only PlexSync's own names it no longer wants.

    `memory[tag]` lists the names PlexSync added to this item (written by any earlier version:
    those versions wrote exact sets, so every name they last wrote is theirs)."""
    now: Tuple[str, ...] = tuple(item.tags.get(tag, ()))
    now_folded = _folded(now)
    ours = _folded(memory.get(tag))
    wanted = _folded(names)
    if preserve_plex_edits and tag in item.locked and ours - now_folded:
        plan.kept.append(tag)  # someone removed a name PlexSync had added: their edit stands
        plan.owned[tag] = tuple(n for n in now if n.casefold() in ours)
        plan.others[tag] = tuple(n for n in now if n.casefold() not in ours)
        return
    removed = tuple(n for n in now if n.casefold() in ours and n.casefold() not in wanted)
    others = tuple(n for n in now if n.casefold() not in ours and n.casefold() not in wanted)
    owned = tuple(n for n in names if n.casefold() in ours or n.casefold() not in now_folded)
    final = others + names
    plan.written[tag] = list(owned)
    plan.owned[tag] = owned
    plan.others[tag] = tuple(n for n in now if n.casefold() not in ours)
    if not _same_tags(now, final) or tag not in item.locked:
        plan.groups[tag] = tag_params(tag, final, removed)
        plan.added[tag] = tuple(n for n in names if n.casefold() not in now_folded)
        plan.removed[tag] = removed


def _sorted_memory(memory: Mapping[str, Any], tag: str) -> Dict[str, Any]:
    value = memory.get(tag)
    return {tag: sorted(value)} if isinstance(value, list) else {}

