"""What people watched in Plex, read through plexapi: play history, view state, sessions; and the
played state and resume point PlexSync may write back for the owner.

History (`/status/sessions/history/all`) has one row per completed view of any account (the
owner's token sees all), oldest first here (`sort=viewedAt`) so a run can move its watermark
page by page; pages of HISTORY_PAGE rows (Plex refuses a history request without a size).
Per-item `viewCount`/`lastViewedAt`/`viewOffset` are the token's account's: the owner's, so
resume points are the owner's only. Everything leaves this module as small dataclasses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

from plexapi.utils import joinArgs

from plex.client import PlexClient, Section, key_batches

HISTORY_PAGE = 1000
ITEM_PAGE = 1000
IDENTIFIER = "com.plexapp.plugins.library"
OWNER_ACCOUNT = 1


@dataclass(frozen=True)
class HistoryRow:
    history_key: str
    rating_key: int
    account_id: int
    viewed_at: int  # epoch seconds
    title: str
    section_id: int


@dataclass(frozen=True)
class ViewState:
    """The owner's state of one item."""

    rating_key: int
    view_count: int
    last_viewed_at: Optional[int]
    view_offset_ms: int
    duration_ms: int
    user_rating: Optional[float]
    last_rated_at: Optional[int] = None


@dataclass(frozen=True)
class PlaySession:
    session_key: str
    rating_key: int
    account_id: int
    state: str
    view_offset_ms: int


def _int(value: Optional[str], default: int = 0) -> int:
    try:
        return int(float(value)) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _view_state(el: Any) -> ViewState:
    rating = el.get("userRating")
    return ViewState(_int(el.get("ratingKey")), _int(el.get("viewCount")), _int(el.get("lastViewedAt")) or None,
                     _int(el.get("viewOffset")), _int(el.get("duration")), float(rating) if rating else None,
                     _int(el.get("lastRatedAt")) or None)


def _title(el: Any) -> str:
    show = el.get("grandparentTitle")
    title = el.get("title", "")
    if show:
        return f"{show} S{_int(el.get('parentIndex')):02d}E{_int(el.get('index')):02d} {title}".strip()
    return title


class PlexPlays:
    """Play reads and writes on a connected PlexClient (the owner's token)."""

    def __init__(self, client: PlexClient) -> None:
        self.client = client

    def history(self, since: Optional[int], account: Optional[int] = None,
                page_size: int = HISTORY_PAGE, rating_key: Optional[int] = None) -> Iterator[List[HistoryRow]]:
        """Pages of completed views at or after `since` (inclusive), oldest first (of one item: `rating_key`)."""
        args: Dict[str, Any] = {"sort": "viewedAt"}
        if account is not None:
            args["accountID"] = account
        if rating_key is not None:
            args["metadataItemID"] = rating_key
        query = joinArgs(args)
        if since is not None:
            query += f"&viewedAt>={int(since)}"
        for root in self.client.listing("reading Plex's play history", f"/status/sessions/history/all{query}",
                                        page_size):
            rows = []
            for el in root:
                key, item_key = el.get("historyKey"), _int(el.get("ratingKey"), -1)
                if not key or item_key < 0:
                    continue
                rows.append(HistoryRow(key, item_key, _int(el.get("accountID"), -1), _int(el.get("viewedAt")),
                                       _title(el), _int(el.get("librarySectionID"))))
            yield rows

    def accounts(self) -> Dict[int, str]:
        """The server's accounts (owner 1): id -> name."""
        root = self.client.query("listing Plex accounts", "/accounts")
        return {_int(el.get("id"), -1): el.get("name", "") for el in (root if root is not None else ())
                if el.tag == "Account" and _int(el.get("id"), -1) > 0}

    def sections(self) -> List[Section]:
        return [s for s in self.client.sections() if s.type in ("movie", "show")]

    def viewed_items(self, section: Section, since: int, field: str = "lastViewedAt") -> Iterator[ViewState]:
        """The owner's view state of every item of `section` viewed (or rated: field
        "lastRatedAt") at or after `since`."""
        query = joinArgs({"type": section.search_type}) + f"&{field}>>={max(0, int(since) - 1)}"
        for root in self.client.listing(f"reading what was watched in {section.title!r}",
                                        f"/library/sections/{section.key}/all{query}", ITEM_PAGE):
            for el in root:
                yield _view_state(el)

    def view_states(self, rating_keys: List[int]) -> Dict[int, ViewState]:
        """The owner's view state of these items (BATCH_KEYS a request)."""
        found: Dict[int, ViewState] = {}
        for batch in key_batches(sorted(set(rating_keys))):
            keys = ",".join(str(key) for key in batch)
            root = self.client.query(f"reading the view state of {len(batch)} Plex items", f"/library/metadata/{keys}")
            for el in root if root is not None else ():
                state = _view_state(el)
                found[state.rating_key] = state
        return found

    def sessions(self) -> List[PlaySession]:
        """Playbacks now (admin only), with the account of each."""
        root = self.client.query("reading Plex's sessions", "/status/sessions")
        found = []
        for el in root if root is not None else ():
            user = el.find("User")
            player = el.find("Player")
            found.append(PlaySession(el.get("sessionKey", ""), _int(el.get("ratingKey")),
                                     _int(user.get("id") if user is not None else None, -1),
                                     player.get("state", "") if player is not None else "",
                                     _int(el.get("viewOffset"))))
        return found

    # -- the owner's state, written back (opt-in) ---------------------------------------------------
    def mark_played(self, rating_key: int) -> None:
        self.client.query(f"marking Plex item {rating_key} played",
                          f"/:/scrobble?key={rating_key}&identifier={IDENTIFIER}")

    def set_progress(self, rating_key: int, offset_ms: int) -> None:
        """The owner's resume point (Plex ignores 0: use mark_played or leave it)."""
        self.client.query(f"setting the resume point of Plex item {rating_key}",
                          f"/:/progress?key={rating_key}&identifier={IDENTIFIER}&time={int(offset_ms)}&state=stopped")

    def notification_target(self) -> Tuple[str, str]:
        return self.client.notification_target()
