"""How the demo shows what happened: before/after tables and request counts on 80 columns.

Titles in a real library hold accents, CJK and emoji, which take two terminal columns each;
cutting them by `len()` breaks the table, so widths here are display widths.
"""
from __future__ import annotations

import unicodedata
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

WIDTH = 80
NONE = "-"

# The fake servers count requests by route; these say what each route is for.
PLEX_ROUTES = {
    "GET /library/metadata/{ids}": "read an item",
    "PUT /library/sections/{id}/all": "edit an item",
    "PUT /:/rate": "set a rating",
    "POST /library/metadata/{id}/posters": "upload a poster",
    "POST /library/metadata/{id}/arts": "upload background art",
    "GET /library/sections/{id}/all": "list a library page",
    "GET /library/sections": "list libraries",
    "GET /library/sections/{id}/collections": "list collections",
    "DELETE /library/collections/{id}": "delete an emptied collection",
    "GET /": "server identity",
}
STASH_ROUTES = {
    "GET /scene/{id}/screenshot": "download a screenshot",
    "GET /studio/{id}/image": "studio image",
    "GET /group/{id}/frontimage": "group cover",
    "POST /graphql PlexSyncFindScenes": "read scenes",
    "POST /graphql PlexSyncPluginSettings": "read settings",
    "POST /graphql getApiKey": "switch to the API key",
    "POST /graphql StashVersion": "check the version",
    "POST /graphql PlexSyncCountScenes": "count scenes",
    "POST /graphql PlexSyncSceneIds": "list scene ids",
    "POST /graphql anonymous": "(unnamed query)",
}


def display_width(text: str) -> int:
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def fit(text: str, width: int) -> str:
    """`text` on one line, cut with an ellipsis to at most `width` columns, padded to `width`."""
    text = " ".join(str(text).split())
    if display_width(text) > width:
        kept, used = [], 0
        for char in text:
            step = display_width(char)
            if used + step > width - 1:
                break
            kept.append(char)
            used += step
        text = "".join(kept) + "…"
    return text + " " * (width - display_width(text))


def names(values: Iterable[str]) -> str:
    joined = ", ".join(values)
    return joined or NONE


def plex_fields(item: Optional[Mapping]) -> Dict[str, str]:
    """The fields the demo shows of a fake Plex item, as text."""
    if item is None:
        return {"title": "(no Plex item)"}
    return {
        "title": item.get("title") or NONE,
        "date": item.get("originallyAvailableAt") or NONE,
        "studio": item.get("studio") or NONE,
        "genres": names(item.get("genres") or ()),
        "actors": names(name for name, _ in item.get("actors") or ()),
        "collections": names(item.get("collections") or ()),
    }


def wrap(text: str, width: int, max_lines: int = 4) -> List[str]:
    """Lines of at most `width` columns, breaking after ", " or spaces; the last line cut with "…"."""
    words = " ".join(str(text).split()).split(" ")
    lines: List[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if display_width(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [" ".join(lines[max_lines - 1:])]
    return [fit(line, width).rstrip() for line in lines]


def before_after(before: Mapping[str, str], after: Mapping[str, str], headings: Tuple[str, str],
                 indent: int = 5) -> List[str]:
    """field | before | after, one row per field (long lists wrap); a changed row is marked `*`."""
    label = 12
    column = (WIDTH - 1 - indent - label - 3) // 2
    lines = [" " * indent + fit("", label) + " " + fit(headings[0], column) + "  " + fit(headings[1], column).rstrip()]
    for field in after:
        old, new = before.get(field, NONE), after[field]
        mark = "*" if old != new else " "
        left, right = wrap(old, column), wrap(new, column)
        for number in range(max(len(left), len(right))):
            head = (mark + " " + fit(field, label)) if number == 0 else " " * (label + 2)
            lines.append((" " * (indent - 2) + head + " " + fit(left[number] if number < len(left) else "", column)
                          + "  " + (right[number] if number < len(right) else "")).rstrip())
    return lines


def request_lines(counts: Mapping[str, int], labels: Mapping[str, str], skip: Sequence[str] = (),
                  indent: int = 5) -> List[str]:
    """One line per route: count, route, and what it is for; most frequent first."""
    rows = sorted(((n, key) for key, n in counts.items() if key not in skip and n), key=lambda r: (-r[0], r[1]))
    lines = []
    for count, key in rows:
        label = labels.get(key, "")
        route = fit(key, 42) if label else key
        lines.append((" " * indent + f"{count:>5}  " + route + "  " + label).rstrip()[:WIDTH - 1])
    return lines


def total(counts: Mapping[str, int], skip: Sequence[str] = ()) -> int:
    return sum(n for key, n in counts.items() if key not in skip)


def id_list(ids: Sequence[int], limit: int = 8) -> str:
    shown = ", ".join(str(i) for i in list(ids)[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
