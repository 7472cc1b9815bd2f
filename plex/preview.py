"""What a sync would change on one Plex item, read off the very edit the sync would send.

The preview must never drift from the sync, so it does not compute values of its own: the
"after" of each field is taken from the edit parameters `plan_edit` built (`title.value`,
`genre[i].tag.tag`, `genre[].tag.tag-`), the rating from the plan's rating, the images from the
image plan — the objects `PlexTarget._write` sends. A field the edit leaves alone keeps its
value in Plex. Stdlib only, so it is unit-testable without plexapi or a server.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote

from common.models import SyncRecord
from plex.fields import TAG_FIELDS, Wanted
from plex.images import ImagePlan
from plex.writer import ART_LOCK, POSTER_LOCK, RATING_KEY, EditPlan, ItemState

CHANGE, UNCHANGED, UNMATCHED, FAILED = "change", "unchanged", "unmatched", "failed"
_INDEXED = re.compile(r"^(\w+)\[(\d+)\]\.tag\.(tag|thumb)$")


@dataclass(frozen=True)
class ScenePlan:
    """Everything one sync of a scene sends to its item (built by `plex.item_writes.ItemWrites.plan`)."""

    want: Wanted  # already for the item's type (episodes: no studio, tags as labels)
    images: ImagePlan
    edit: EditPlan
    same_item: Optional[SyncRecord]  # the last record, when it was for this item


@dataclass(frozen=True)
class FieldChange:
    """One field as Plex holds it now and as it would be after the sync."""

    name: str
    before: Any
    after: Any
    written: bool = False  # the sync sends it (a new value, or only the lock)
    added: Tuple[str, ...] = ()  # tag fields: names that arrive
    removed: Tuple[str, ...] = ()  # tag fields: names that leave
    kept: bool = False  # left alone as a hand edit (preserve_plex_edits)
    # collections and labels: the names that are PlexSync's after the sync, and the others' it keeps
    ours: Optional[Tuple[str, ...]] = None
    others: Tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def to_json(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {"before": self.before, "after": self.after, "changed": self.changed,
                                "written": self.written}
        if self.added or self.removed:
            data.update(added=list(self.added), removed=list(self.removed))
        if self.kept:
            data["kept_hand_edit"] = True
        if self.ours is not None:
            data.update(plexsync_values=list(self.ours), others_kept=list(self.others))
        return data


@dataclass(frozen=True)
class ScenePreview:
    """One scene's answer: its status, the Plex item, and (when matched) each field before → after."""

    scene_id: int
    status: str  # change | unchanged | unmatched | failed
    rating_key: Optional[int] = None
    section_id: Optional[int] = None
    item_type: str = ""
    step: str = ""  # how the item was matched (path, normalized, basename...)
    fields: Tuple[FieldChange, ...] = ()
    poster: bool = False  # the screenshot is uploaded as the poster
    art: bool = False  # ... as background art
    locks: Tuple[str, ...] = ()  # fields only locked, value unchanged (images included)
    reason: str = ""  # why unchanged, unmatched or failed
    title: str = ""  # the scene's title in Stash, for people

    @property
    def writes(self) -> bool:
        return self.status == CHANGE

    def to_json(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {"scene_id": self.scene_id, "title": self.title, "status": self.status,
                                "plex_item": self.rating_key or None, "section_id": self.section_id or None}
        if self.item_type:
            data.update(item_type=self.item_type, match=self.step)
        if self.fields:
            data["fields"] = {change.name: change.to_json() for change in self.fields}
            data["images"] = {"poster": "upload" if self.poster else "unchanged",
                              "art": "upload" if self.art else "unchanged"}
            data["locks"] = list(self.locks)
        if self.reason:
            data["reason"] = self.reason
        return data


def _indexed(params: Dict[str, Any], tag: str, part: str) -> Dict[int, str]:
    """`tag[i].tag.<part>` parameters by index i."""
    found = {}
    for key, value in params.items():
        match = _INDEXED.match(key)
        if match and match.group(1) == tag and match.group(3) == part:
            found[int(match.group(2))] = str(value)
    return found


def _removed(params: Dict[str, Any], tag: str) -> Tuple[str, ...]:
    text = params.get(f"{tag}[].tag.tag-")
    return tuple(unquote(name) for name in str(text).split(",")) if text else ()


def describe(scene_id: int, item: ItemState, want: Wanted, edit: EditPlan, images: ImagePlan,
             step: str = "", title: str = "") -> ScenePreview:
    """The preview of one matched scene from the plan the sync would carry out on `item`."""
    changes: List[FieldChange] = []
    locks: List[str] = []
    kept = set(edit.kept)
    for name in want.values:
        params = edit.groups.get(name, {})
        before = item.values.get(name, "")
        after = params.get(f"{name}.value", before)
        changes.append(FieldChange(name, before, after, bool(params), kept=name in kept))
        if params and before == after:
            locks.append(name)
    for tag in TAG_FIELDS:
        if tag not in want.tags:
            continue
        params = edit.groups.get(tag, {})
        before_tags = list(item.tags.get(tag, ()))
        ours = edit.owned.get(tag)
        others = edit.others.get(tag, ())
        if not params:
            changes.append(FieldChange(tag, before_tags, before_tags, kept=tag in kept, ours=ours, others=others))
            continue
        by_index = _indexed(params, tag, "tag")
        names = tuple(by_index[index] for index in sorted(by_index))
        now = {name.casefold() for name in before_tags}
        added = tuple(name for name in names if name.casefold() not in now)
        changes.append(FieldChange(tag, before_tags, list(names), True, added, _removed(params, tag),
                                   ours=ours, others=others))
        photos = {by_index.get(index, ""): url for index, url in _indexed(params, tag, "thumb").items()}
        if sorted(before_tags) == sorted(names) and all(item.thumbs.get(name) == url for name, url in photos.items()):
            locks.append(tag)
    if want.sync_rating:
        after_rating = edit.rating if edit.rate else item.user_rating
        changes.append(FieldChange(RATING_KEY, item.user_rating, after_rating, edit.rate))
    locks.extend(lock for lock in (POSTER_LOCK, ART_LOCK) if lock in edit.groups)
    writes = bool(edit.groups) or edit.rate or bool(images.uploads)
    return ScenePreview(scene_id, CHANGE if writes else UNCHANGED, item.rating_key, item.section_id, item.type,
                        step, tuple(changes), images.poster, images.art, tuple(locks),
                        "" if writes else "Plex already holds what Stash says", title)


@dataclass
class Totals:
    """Counts over every previewed scene."""

    scanned: int = 0
    by_status: Dict[str, int] = field(default_factory=lambda: {CHANGE: 0, UNCHANGED: 0, UNMATCHED: 0, FAILED: 0})

    def add(self, preview: ScenePreview) -> None:
        self.scanned += 1
        self.by_status[preview.status] = self.by_status.get(preview.status, 0) + 1

    def to_json(self) -> Dict[str, int]:
        return {"scanned": self.scanned, "would_change": self.by_status[CHANGE],
                "unchanged": self.by_status[UNCHANGED], "unmatched": self.by_status[UNMATCHED],
                "failed": self.by_status[FAILED]}
