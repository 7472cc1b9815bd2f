"""What PlexSync brought from Plex's play history to Stash, so every view is imported exactly once.

Lives in the queue database (one connection per process, 0600 file):
- `plays_imported`: one row per (Plex history row, scene) PlexSync wrote to Stash (or found
  already there), with the view's time: dedup by historyKey across runs, and the count of plays
  PlexSync owes a scene at a given second (two accounts may finish the same item in the same
  second: two plays).
- `plays_unmatched`: views of Plex items no scene is matched to yet; imported later when a sync
  matches the item, counted and named meanwhile.
- `plays_resume`: per Plex item, the owner's `lastViewedAt`/`viewOffset` PlexSync last acted
  on, so a resume point is written once and never overrides a newer Stash play.
- `plays_meta`: the history watermark (an inclusive `viewedAt>=` bound) for the chosen
  accounts, the resume watermark, and the last import's summary.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

from sync_queue.db import Database, in_chunks

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS plays_imported (
        history_key TEXT NOT NULL, scene_id INTEGER NOT NULL, rating_key INTEGER NOT NULL,
        account_id INTEGER NOT NULL, viewed_at INTEGER NOT NULL, imported_at REAL NOT NULL,
        PRIMARY KEY (history_key, scene_id))""",
    "CREATE INDEX IF NOT EXISTS plays_imported_scene ON plays_imported (scene_id, viewed_at)",
    "CREATE INDEX IF NOT EXISTS plays_imported_item ON plays_imported (rating_key, viewed_at)",
    """CREATE TABLE IF NOT EXISTS plays_unmatched (
        history_key TEXT PRIMARY KEY, rating_key INTEGER NOT NULL, account_id INTEGER NOT NULL,
        viewed_at INTEGER NOT NULL, title TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS plays_unmatched_item ON plays_unmatched (rating_key, viewed_at)",
    """CREATE TABLE IF NOT EXISTS plays_resume (
        rating_key INTEGER PRIMARY KEY, last_viewed_at INTEGER NOT NULL, view_offset INTEGER NOT NULL,
        updated_at REAL NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS plays_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS plays_exported (
        scene_id INTEGER PRIMARY KEY, resume_time REAL NOT NULL, updated_at REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS sync_state_by_rating_key ON sync_state (rating_key)",
)
WATERMARK, RESUME_WATERMARK, LAST_IMPORT = "watermark", "resume_watermark", "last_import"
# (history_key, scene_id, rating_key, account_id, viewed_at)
Imported = Tuple[str, int, int, int, int]
# (history_key, rating_key, account_id, viewed_at, title)
Unmatched = Tuple[str, int, int, int, str]


@dataclass(frozen=True)
class PlaysStatus:
    """What `status` shows of plays from Plex (tasks.queue_ops formats it)."""

    ever_imported: bool = False  # False: no plays table yet, nothing else is set
    last_import_at: Optional[float] = None
    plays_added: int = 0  # by the last import
    watermark: Optional[float] = None  # the next history read starts here (Plex's viewedAt)
    views_imported: int = 0
    waiting: int = 0  # views of items no scene is matched to yet
    waiting_titles: Tuple[str, ...] = ()  # the first few of them

    @classmethod
    def read(cls, db: Database, examples: int = 5) -> "PlaysStatus":
        if not db.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'plays_meta'"):
            return cls()
        store = PlaysStore(db)
        last = store.meta(LAST_IMPORT) or {}
        waiting = store.unmatched_count()
        return cls(True, last.get("at"), int(last.get("plays_added") or 0), (store.meta(WATERMARK) or {}).get("at"),
                   store.imported_count(), waiting, tuple(row[4] for row in store.unmatched(examples)) if waiting else ())


class PlaysStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as connection:
            for statement in _SCHEMA:
                connection.execute(statement)

    # -- meta -------------------------------------------------------------------------------
    def meta(self, key: str, default: Any = None) -> Any:
        row = self.db.query_one("SELECT value FROM plays_meta WHERE key = ?", (key,))
        return json.loads(row[0]) if row else default

    def set_meta(self, values: Dict[str, Any]) -> None:
        with self.db.transaction() as connection:
            connection.executemany("INSERT OR REPLACE INTO plays_meta (key, value) VALUES (?, ?)",
                                   [(key, json.dumps(value)) for key, value in values.items()])

    def watermark(self, accounts: str) -> Optional[int]:
        """The inclusive viewedAt bound of the next history read, for this choice of accounts
        (another choice starts from the beginning: its older plays were never read)."""
        stored = self.meta(WATERMARK) or {}
        return stored.get("at") if stored.get("accounts") == accounts else None

    def set_watermark(self, accounts: str, at: int) -> None:
        self.set_meta({WATERMARK: {"accounts": accounts, "at": int(at)}})

    def scenes_for(self, rating_keys: Iterable[int]) -> Dict[int, List[int]]:
        """Plex item -> the scenes PlexSync matched to it (sync_state), for the items that have any."""
        found: Dict[int, List[int]] = {}
        for chunk in in_chunks(sorted(set(rating_keys))):
            marks = ",".join("?" * len(chunk))
            for scene_id, rating_key in self.db.query(
                    f"SELECT scene_id, rating_key FROM sync_state WHERE rating_key IN ({marks}) ORDER BY scene_id",
                    tuple(chunk)):
                found.setdefault(int(rating_key), []).append(int(scene_id))
        return found

    def items_for(self, scene_ids: Iterable[int]) -> Dict[int, int]:
        """Scene -> the Plex item PlexSync matched it to (sync_state)."""
        found: Dict[int, int] = {}
        for chunk in in_chunks(sorted(set(scene_ids))):
            marks = ",".join("?" * len(chunk))
            for scene_id, rating_key in self.db.query(
                    f"SELECT scene_id, rating_key FROM sync_state WHERE scene_id IN ({marks})", tuple(chunk)):
                found[int(scene_id)] = int(rating_key)
        return found

    def imported_seconds(self, scene_id: int) -> List[int]:
        """The play times PlexSync brought to this scene from Plex (one entry per play)."""
        return [int(row[0]) for row in self.db.query(
            "SELECT viewed_at FROM plays_imported WHERE scene_id = ?", (scene_id,))]

    def exported_resume(self, scene_ids: Sequence[int]) -> Dict[int, float]:
        found: Dict[int, float] = {}
        for chunk in in_chunks(list(scene_ids)):
            marks = ",".join("?" * len(chunk))
            for scene_id, resume in self.db.query(
                    f"SELECT scene_id, resume_time FROM plays_exported WHERE scene_id IN ({marks})", tuple(chunk)):
                found[int(scene_id)] = float(resume)
        return found

    def set_exported_resume(self, rows: Sequence[Tuple[int, float]], now: float) -> None:
        with self.db.transaction() as connection:
            connection.executemany("INSERT OR REPLACE INTO plays_exported (scene_id, resume_time, updated_at)"
                                   " VALUES (?, ?, ?)", [(*row, now) for row in rows])

    # -- history rows -------------------------------------------------------------------------
    def known_keys(self, keys: Sequence[str]) -> Set[str]:
        """Which of these history keys were imported or parked as unmatched already."""
        found: Set[str] = set()
        for chunk in in_chunks(list(keys)):
            marks = ",".join("?" * len(chunk))
            for table in ("plays_imported", "plays_unmatched"):
                found.update(row[0] for row in self.db.query(
                    f"SELECT history_key FROM {table} WHERE history_key IN ({marks})", tuple(chunk)))
        return found

    def owed(self, pairs: Iterable[Tuple[int, int]]) -> Dict[Tuple[int, int], int]:
        """Plays PlexSync recorded per (scene, second)."""
        counts: Dict[Tuple[int, int], int] = {}
        for scene_id, second in set(pairs):
            counts[(scene_id, second)] = int(self.db.scalar(
                "SELECT COUNT(*) FROM plays_imported WHERE scene_id = ? AND viewed_at = ?", (scene_id, second)))
        return counts

    def record(self, rows: Sequence[Imported], now: float) -> None:
        with self.db.transaction() as connection:
            connection.executemany(
                "INSERT OR IGNORE INTO plays_imported (history_key, scene_id, rating_key, account_id, viewed_at,"
                " imported_at) VALUES (?, ?, ?, ?, ?, ?)", [(*row, now) for row in rows])
            connection.executemany("DELETE FROM plays_unmatched WHERE history_key = ?",
                                   [(row[0],) for row in rows])

    def park_unmatched(self, rows: Sequence[Unmatched]) -> None:
        with self.db.transaction() as connection:
            connection.executemany(
                "INSERT OR IGNORE INTO plays_unmatched (history_key, rating_key, account_id, viewed_at, title)"
                " VALUES (?, ?, ?, ?, ?)", rows)

    def unmatched(self, limit: int = -1) -> List[Unmatched]:
        return [tuple(row) for row in self.db.query(
            "SELECT history_key, rating_key, account_id, viewed_at, title FROM plays_unmatched"
            " ORDER BY viewed_at LIMIT ?", (limit,))]

    def unmatched_count(self) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM plays_unmatched"))

    def imported_count(self) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM plays_imported"))

    def scene_plays(self, scene_id: int) -> List[Tuple[str, int, int, int]]:
        """(history_key, rating_key, account_id, viewed_at) of the plays PlexSync brought to a scene."""
        return [tuple(row) for row in self.db.query(
            "SELECT history_key, rating_key, account_id, viewed_at FROM plays_imported WHERE scene_id = ?"
            " ORDER BY viewed_at", (scene_id,))]

    def has_view_near(self, rating_key: int, at: int, seconds: int) -> bool:
        """Did PlexSync import a view of this item within `seconds` of `at`?"""
        return any(self.db.scalar(f"SELECT COUNT(*) FROM {table} WHERE rating_key = ? AND viewed_at BETWEEN ? AND ?",
                                  (rating_key, at - seconds, at + seconds))
                   for table in ("plays_imported", "plays_unmatched"))

    # -- resume -------------------------------------------------------------------------------
    def resume_seen(self, rating_keys: Sequence[int]) -> Dict[int, Tuple[int, int]]:
        """rating key -> (lastViewedAt, viewOffset) PlexSync last acted on."""
        found: Dict[int, Tuple[int, int]] = {}
        for chunk in in_chunks(list(rating_keys)):
            marks = ",".join("?" * len(chunk))
            for rk, at, offset in self.db.query(
                    f"SELECT rating_key, last_viewed_at, view_offset FROM plays_resume WHERE rating_key IN ({marks})",
                    tuple(chunk)):
                found[int(rk)] = (int(at), int(offset))
        return found

    def set_resume_seen(self, rows: Sequence[Tuple[int, int, int]], now: float) -> None:
        with self.db.transaction() as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO plays_resume (rating_key, last_viewed_at, view_offset, updated_at)"
                " VALUES (?, ?, ?, ?)", [(*row, now) for row in rows])
