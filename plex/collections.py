"""The collections PlexSync made in Plex: remembered, dressed with their studio's or group's art,
and deleted once PlexSync has emptied them.

Plex makes a collection object the first time an item gets a collection tag and keeps it, empty,
when its last item leaves (REAL-SERVERS.md P14). A collection counts as PlexSync's only when
PlexSync's own edit created it: before an edit gives an item a collection, the library's
collections are listed (once per library per process) and a name that was not there is
recorded in `plex_collections` once the edit succeeded. Only recorded collections are ever
deleted (once empty), or given a poster (the studio image or the group's front cover) and a
summary (the studio's details or the group's synopsis). A hand-made collection, another tool's,
or one an earlier PlexSync version made is never touched.

Nothing here is sent per scene: a write only records what is due (in the database, so a killed
drainer loses nothing); `settle()`, once per batch, lists each library concerned once, deletes
the emptied collections and sends each changed summary and poster once. Stdlib and plex/ only.
"""
from __future__ import annotations

import hashlib
import threading
from typing import Any, Callable, Dict, Iterable, List, Optional, Protocol, Sequence, Tuple

from common.errors import SyncError, wider_than_item
from common.log import get_logger
from plex.client import ListedCollection
from plex.images import is_placeholder
from plex.index import Database

log = get_logger("plex")
_SCHEMA = """CREATE TABLE IF NOT EXISTS plex_collections (
    section_id INTEGER NOT NULL, name_key TEXT NOT NULL, name TEXT NOT NULL,
    poster_wanted TEXT NOT NULL DEFAULT '', poster_sent TEXT NOT NULL DEFAULT '',
    poster_digest TEXT NOT NULL DEFAULT '',
    summary_wanted TEXT, summary_sent TEXT, check_empty INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL, PRIMARY KEY (section_id, name_key))"""
# summary_wanted NULL: nothing to say (a studio without details); the summary is left as Plex has it.


class CollectionClient(Protocol):
    def collections(self, section_id: int, page_size: int = 1000) -> List[ListedCollection]: ...

    def edit_collection_summary(self, section_id: int, rating_key: int, summary: str) -> None: ...

    def upload_image(self, rating_key: int, kind: str, data: bytes) -> None: ...

    def delete_collection(self, rating_key: int) -> None: ...


def _key(name: str) -> str:
    return name.casefold()


class CollectionKeeper:
    """One per PlexTarget; thread-safe (scenes of a batch are written concurrently)."""

    def __init__(self, client: CollectionClient, db: Database, fetch_image: Callable[[str], bytes]) -> None:
        self._client = client
        self._db = db
        self._fetch_image = fetch_image
        self._lock = threading.Lock()
        self._existing: Dict[int, set] = {}  # section -> name keys known to exist (listed or made)
        with db.transaction() as connection:
            connection.execute(_SCHEMA)

    # -- what a write records ------------------------------------------------------------------
    def missing(self, section_id: int, names: Iterable[str]) -> List[str]:
        """Of `names` (collections an edit is about to give an item), those the library lacks: the
        edit will create them. Lists the library's collections the first time (one paged GET)."""
        names = list(names)
        if not names:
            return []
        with self._lock:
            known = self._existing.get(section_id)
        if known is None:
            try:
                listed = {_key(c.title) for c in self._client.collections(section_id)}
            except SyncError as exc:  # then nothing counts as made by this edit: never deleted, never dressed
                if wider_than_item(exc):
                    raise
                log.warning("could not list the collections of library %s (%s)", section_id, exc)
                return []
            with self._lock:
                known = self._existing.setdefault(section_id, listed)
        return [name for name in names if _key(name) not in known]

    def created(self, section_id: int, names: Sequence[str], now: float) -> None:
        """The edit that gave an item these collections succeeded: they are PlexSync's."""
        if not names:
            return
        with self._lock:
            self._existing.setdefault(section_id, set()).update(_key(name) for name in names)
        with self._db.transaction() as connection:
            connection.executemany(
                "INSERT OR IGNORE INTO plex_collections(section_id, name_key, name, created_at) VALUES (?, ?, ?, ?)",
                [(section_id, _key(name), name, now) for name in names])

    def left(self, section_id: int, names: Sequence[str]) -> None:
        """PlexSync removed these collections from an item: the next settle looks whether they are empty."""
        if names:
            with self._db.transaction() as connection:
                connection.executemany("UPDATE plex_collections SET check_empty = 1 WHERE section_id = ? AND name_key = ?",
                                       [(section_id, _key(name)) for name in names])

    def wanted_art(self, section_id: int, art: Dict[str, Tuple[str, str]]) -> None:
        """What a studio's or group's collection should show (image URL, summary), for the next settle."""
        if art:
            with self._db.transaction() as connection:
                connection.executemany(
                    "UPDATE plex_collections SET poster_wanted = ?, summary_wanted = ? "
                    "WHERE section_id = ? AND name_key = ?",
                    [(url, summary or None, section_id, _key(name)) for name, (url, summary) in art.items()])

    # -- once per batch --------------------------------------------------------------------------
    def settle(self) -> None:
        """Delete PlexSync's emptied collections and send changed posters and summaries: one listing
        per library concerned, then one request per change. Never raises: what fails stays due."""
        rows = self._db.query(
            "SELECT section_id, name_key, name, poster_wanted, poster_sent, summary_wanted, summary_sent, check_empty, "
            "poster_digest "
            "FROM plex_collections WHERE check_empty = 1 OR poster_wanted != poster_sent "
            "OR (summary_wanted IS NOT NULL AND (summary_sent IS NULL OR summary_sent != summary_wanted))")
        by_section: Dict[int, List[Tuple[Any, ...]]] = {}
        for row in rows:
            by_section.setdefault(int(row[0]), []).append(row)
        for section_id, due in by_section.items():
            try:
                self._settle_section(section_id, due)
            except SyncError as exc:
                if wider_than_item(exc):  # a server or the settings: every library waits for the next batch
                    log.debug("collections of library %s stay due: %s", section_id, exc)
                    return
                log.warning("the collections PlexSync made in library %s could not be tidied (%s); tried again later",
                            section_id, exc)

    def _settle_section(self, section_id: int, due: List[Tuple[Any, ...]]) -> None:
        listed = {_key(c.title): c for c in self._client.collections(section_id)}
        with self._lock:
            self._existing[section_id] = set(listed)
        for _, name_key, name, poster_wanted, poster_sent, summary_wanted, summary_sent, check_empty, sent_digest in due:
            found: Optional[ListedCollection] = listed.get(name_key)
            if found is None:  # deleted in Plex meanwhile: nothing of ours left to look after
                self._forget(section_id, name_key)
                continue
            if check_empty and found.child_count == 0:
                self._client.delete_collection(found.rating_key)
                self._forget(section_id, name_key)
                with self._lock:
                    self._existing.get(section_id, set()).discard(name_key)
                log.info("deleted the empty collection %r PlexSync had made in library %s", name, section_id)
                continue
            if summary_wanted is not None and summary_sent != summary_wanted:
                self._client.edit_collection_summary(section_id, found.rating_key, summary_wanted)
                self._update(section_id, name_key, summary_sent=summary_wanted)
            if poster_wanted != poster_sent:
                self._send_poster(section_id, found, poster_wanted, sent_digest)
            if check_empty:
                self._update(section_id, name_key, check_empty=0)

    def _send_poster(self, section_id: int, found: ListedCollection, url: str, sent_digest: str) -> None:
        """Upload the image at `url` unless Plex has it already (Stash's URL changes with every
        edit of the studio or group, its bytes only with a new image)."""
        digest = ""
        if url:
            data = self._fetch_image(url)
            if data and not is_placeholder(data):
                digest = hashlib.sha256(data).hexdigest()
                if digest != sent_digest:
                    self._client.upload_image(found.rating_key, "poster", data)
        self._update(section_id, _key(found.title), poster_sent=url, poster_digest=digest or sent_digest)

    def _update(self, section_id: int, name_key: str, **values: Any) -> None:
        """Set these columns (names from this module only) of one collection's row, in one statement."""
        assignments = ", ".join(f"{column} = ?" for column in values)
        with self._db.transaction() as connection:
            connection.execute(f"UPDATE plex_collections SET {assignments} WHERE section_id = ? AND name_key = ?",
                               (*values.values(), section_id, name_key))

    def _forget(self, section_id: int, name_key: str) -> None:
        with self._db.transaction() as connection:
            connection.execute("DELETE FROM plex_collections WHERE section_id = ? AND name_key = ?",
                               (section_id, name_key))

