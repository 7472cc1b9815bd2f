"""What Stash says each Plex field should be, cleaned, and the hash that says whether anything changed.

`wanted()` is the single place that decides, under the current settings, which fields are
written and with what value; `metadata_hash()` hashes exactly that (plus where the scene's
files are), so toggling a setting or editing the scene changes the hash and an unchanged scene
costs no Plex request. Values are cleaned here: control characters out (newlines and tabs kept
in the summary), Unicode NFC, and every length bounded so one edit stays well inside URL
limits. Stdlib only, so it is unit-testable without plexapi.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from common.models import Scene
from common.settings import Settings

TITLE_MAX = 255
SUMMARY_MAX = 4000
TAG_MAX = 255
TAGS_PER_FIELD = 100
URL_MAX = 1000
# Percent-encoded bytes: a summary of emoji costs 12 bytes per character once in a query string.
# Every field group must fit one edit PUT under plex.writer.QUERY_MAX (7,800): a tag field's
# names and its actors' photo URLs together stay under it.
SUMMARY_ENCODED_MAX = 6000
FIELD_ENCODED_MAX = 4500
THUMBS_ENCODED_MAX = 2500
WORD_BACKTRACK = 0.2  # a cut goes back to the last space within this share of the text kept
ELLIPSIS = "…"

# Plex field names (the `<name>.value` / `<name>.locked` edit parameters).
TITLE, SUMMARY, DATE, STUDIO, CONTENT_RATING = "title", "summary", "originallyAvailableAt", "studio", "contentRating"
# Plex tag names (`<tag>[i].tag.tag`), in the order they are written.
GENRE, ACTOR, DIRECTOR, COLLECTION, LABEL = "genre", "actor", "director", "collection", "label"
TAG_FIELDS = (GENRE, ACTOR, DIRECTOR, COLLECTION, LABEL)

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_DROP_UNRESERVED = dict.fromkeys(map(ord, _UNRESERVED))
_SPACES = re.compile(r"[ \t\n\x0b\x0c\r\u0085\u2028\u2029]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_CONTROLS: Dict[str, "re.Pattern[str]"] = {}


def _controls_except(keep: str) -> "re.Pattern[str]":
    pattern = _CONTROLS.get(keep)
    if pattern is None:
        chars = [chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0xD800, 0xE000)) if chr(c) not in keep]
        pattern = _CONTROLS[keep] = re.compile("[" + "".join(re.escape(c) for c in chars) + "]")
    return pattern


@dataclass(frozen=True)
class Wanted:
    """The Plex side of a scene: only the fields enabled in settings, values already cleaned."""

    values: Dict[str, str] = field(default_factory=dict)  # field -> value ("" clears it)
    tags: Dict[str, Tuple[str, ...]] = field(default_factory=dict)  # tag field -> names, exact set
    thumbs: Dict[str, str] = field(default_factory=dict)  # actor name -> photo URL (performer_photos)
    rating: Optional[float] = None  # 0..10; None clears a rating we set
    sync_rating: bool = False
    shortened: Tuple[str, ...] = ()  # fields cut to fit one Plex request (the worker warns once)
    # collection name -> (image URL on Stash or "", summary): the studio's and groups' collections
    collection_art: Dict[str, Tuple[str, str]] = field(default_factory=dict)


def encoded_len(text: str) -> int:
    """Length of `text` once percent-encoded in a query string (what counts against URL limits).

    Unreserved characters (all ASCII) stay one byte; every other UTF-8 byte becomes three.
    """
    unreserved = len(text) - len(text.translate(_DROP_UNRESERVED))
    return 3 * len(text.encode("utf-8", "surrogatepass")) - 2 * unreserved


def _strip_controls(text: str, keep: str = "") -> str:
    """`text` without control characters (category Cc: U+0000–U+001F, U+007F–U+009F) and lone
    surrogates (Cs: U+D800–U+DFFF), which Stash's JSON can carry, except those in `keep`."""
    return _controls_except(keep).sub("", text)


def _bound(text: str, max_chars: int, max_encoded: Optional[int] = None) -> str:
    """Cut `text` to both limits, marking a cut with an ellipsis (never mid-way through a character;
    at the last space when one is near the end, so a word is not cut in two)."""
    budget = max_encoded if max_encoded is not None else 9 * max_chars + 16
    if len(text) <= max_chars and encoded_len(text) <= budget:
        return text
    room, room_chars = budget - encoded_len(ELLIPSIS), max_chars - 1
    kept: List[str] = []
    for ch in text:
        cost = encoded_len(ch)
        if len(kept) >= room_chars or cost > room:
            break
        kept.append(ch)
        room -= cost
    while kept and (unicodedata.combining(kept[-1]) or kept[-1] == "\u200d"):
        kept.pop()
    cut = "".join(kept)
    space = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
    if space > 0 and len(cut) - space <= WORD_BACKTRACK * len(cut):
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def was_shortened(cleaned: str, source: Optional[str]) -> bool:
    """Whether `cleaned` is `source` cut to its limits (it ends in the ellipsis `_bound` adds)."""
    return cleaned.endswith(ELLIPSIS) and not str(source or "").rstrip().endswith(ELLIPSIS)


def clean_line(value: Optional[str], max_chars: int = TITLE_MAX) -> str:
    """One line of text: controls removed, whitespace runs collapsed, NFC, bounded."""
    text = unicodedata.normalize("NFC", str(value or ""))
    text = _SPACES.sub(" ", _strip_controls(text, keep=" \t\n\r\x0b\x0c\x85")).strip()
    return _bound(text, max_chars)


def clean_summary(value: Optional[str]) -> str:
    """Multi-line text: newlines and tabs kept, other controls removed, NFC, bounded in chars and bytes."""
    text = unicodedata.normalize("NFC", str(value or "")).replace("\r\n", "\n").replace("\r", "\n")
    text = _BLANK_LINES.sub("\n\n", _strip_controls(text, keep="\n\t")).strip()
    return _bound(text, SUMMARY_MAX, SUMMARY_ENCODED_MAX)


def clean_date(value: Optional[str]) -> str:
    """YYYY-MM-DD or "" (Plex takes nothing else; Stash's date may carry a time or be partial)."""
    found = _DATE.match((value or "").strip())
    if not found:
        return ""
    try:
        return date(int(found.group(1)), int(found.group(2)), int(found.group(3))).isoformat()
    except ValueError:
        return ""


def clean_names(names: Iterable[Optional[str]]) -> Tuple[str, ...]:
    """Cleaned tag names, empty ones dropped, duplicates (ignoring case) dropped, bounded in count and size."""
    seen: set = set()
    out: List[str] = []
    spent = 0
    for name in names:
        text = clean_line(name, TAG_MAX)
        key = text.casefold()
        if not text or key in seen:
            continue
        cost = encoded_len(text) + 24  # the `genre[12].tag.tag=` key and separator
        if len(out) >= TAGS_PER_FIELD or spent + cost > FIELD_ENCODED_MAX:
            break
        seen.add(key)
        out.append(text)
        spent += cost
    return tuple(out)


def file_stem(path: str) -> str:
    base = path.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, _ext = base.rpartition(".")
    return stem if dot and stem else base


def scene_rating(rating100: Optional[int]) -> Optional[float]:
    """Stash's 0..100 as Plex's 0..10, one decimal (Plex shows 10 as five stars)."""
    if rating100 is None:
        return None
    return round(min(100, max(0, int(rating100))) / 10.0, 1)


def wanted(scene: Scene, settings: Settings) -> Wanted:
    """Every field PlexSync would write for `scene` under `settings`, cleaned."""
    values: Dict[str, str] = {}
    tags: Dict[str, Tuple[str, ...]] = {}
    thumbs: Dict[str, str] = {}
    shortened: List[str] = []
    if settings.sync_title:
        title = clean_line(scene.title) or (clean_line(file_stem(scene.files[0].path)) if scene.files else "")
        if title:  # Plex needs a title; with neither title nor file, leave Plex's
            values[TITLE] = title
            if scene.title and was_shortened(title, scene.title):
                shortened.append(TITLE)
    if settings.sync_summary:
        values[SUMMARY] = clean_summary(scene.details)
        if was_shortened(values[SUMMARY], scene.details):
            shortened.append(SUMMARY)
    if settings.sync_date:
        values[DATE] = clean_date(scene.date)
    if settings.sync_studio:
        values[STUDIO] = clean_line(scene.studio)
    if settings.content_rating.strip():
        values[CONTENT_RATING] = clean_line(settings.content_rating)
    kept = kept_tags(scene, settings.excluded_tag_names)
    if settings.sync_tags:
        tags[GENRE] = clean_names(kept)
    if settings.label_tag_names or settings.label_prefix.strip():
        tags[LABEL] = clean_names(label_tags(scene, kept, settings))
    if settings.sync_performers:
        tags[ACTOR] = clean_names(p.name for p in scene.performers)
        if settings.performer_photos:
            spent = 0
            for performer in scene.performers:
                name, url = clean_line(performer.name, TAG_MAX), clean_line(performer.image_url, URL_MAX)
                cost = encoded_len(url) + 24  # the `actor[12].tag.thumb=` key and separator
                if name in tags[ACTOR] and url and name not in thumbs and spent + cost <= THUMBS_ENCODED_MAX:
                    thumbs[name] = url
                    spent += cost
    if settings.sync_director:
        tags[DIRECTOR] = clean_names([scene.director])
    if settings.sync_collections:
        names: List[Optional[str]] = [scene.studio]
        if settings.collection_parent_studio:
            names.append(scene.parent_studio)
        if settings.sync_groups:
            names.extend(scene.groups)
        tags[COLLECTION] = clean_names(names)
    art: Dict[str, Tuple[str, str]] = {}
    if settings.sync_collections:
        for entry in scene.collection_art:
            name = clean_line(entry.name, TAG_MAX)
            if name in tags[COLLECTION] and name not in art:
                art[name] = (clean_line(entry.image_url, URL_MAX), clean_summary(entry.summary))
    rating = scene_rating(scene.rating100) if settings.sync_rating else None
    return Wanted(values, tags, thumbs, rating, settings.sync_rating, tuple(shortened), art)


def _lineage(scene: Scene) -> Dict[str, FrozenSet[str]]:
    """Each tag's own name and its ancestors' names, casefolded."""
    parents = {name: ancestors for name, ancestors in scene.tag_parents}
    return {tag: frozenset(name.casefold() for name in (tag, *parents.get(tag, ()))) for tag in scene.tags}


def kept_tags(scene: Scene, excluded: FrozenSet[str]) -> Tuple[str, ...]:
    """The scene's tags without those in `excluded` (a child tag counts as its parent)."""
    if not excluded:
        return scene.tags
    lineage = _lineage(scene)
    return tuple(tag for tag in scene.tags if not lineage[tag] & excluded)


def label_tags(scene: Scene, kept: Sequence[str], settings: Settings) -> Tuple[str, ...]:
    """The kept tags that are labels: named in `label_tags` (or a child of one), or prefixed."""
    lineage = _lineage(scene)
    chosen, prefix = settings.label_tag_names, settings.label_prefix.strip().casefold()
    return tuple(tag for tag in kept
                 if lineage.get(tag, frozenset()) & chosen or (prefix and tag.casefold().startswith(prefix)))


def metadata_hash(want: Wanted, plex_paths: Sequence[str], preserve_plex_edits: bool = False) -> str:
    """A digest of everything that would be written, and where: equal hashes mean nothing to do."""
    payload: Dict[str, Any] = {
        "v": 2,  # 2: labels (episodes get their genres as labels)
        "values": want.values,
        "tags": {name: list(names) for name, names in want.tags.items()},
        "thumbs": want.thumbs,
        "rating": [want.sync_rating, want.rating],
        "preserve": preserve_plex_edits,
        "paths": sorted(plex_paths),
    }
    if want.collection_art:  # only then: the hashes of scenes without it stay as earlier versions made them
        payload["collection_art"] = want.collection_art
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# Plex keeps studio and genres on the show, not the episode (plexapi's Episode has no studio or
# genre edit mixin), so they are not sent for episodes. The fake Plex answers 400 to them; what a
# real server does with them is unverified.
UNSUPPORTED = {"episode": frozenset({STUDIO, GENRE})}


def for_item_type(want: Wanted, item_type: str) -> Wanted:
    """`want` without the fields a Plex item of this type does not have."""
    dropped = UNSUPPORTED.get(item_type, frozenset())
    if not dropped:
        return want
    tags = {k: v for k, v in want.tags.items() if k not in dropped}
    if item_type == "episode" and GENRE in want.tags:  # episodes have no genres: tags become labels
        tags[LABEL] = clean_names((*want.tags.get(LABEL, ()), *want.tags[GENRE]))
    return Wanted({k: v for k, v in want.values.items() if k not in dropped},
                  tags,
                  want.thumbs, want.rating, want.sync_rating, want.shortened, want.collection_art)
