"""The Plex library path index, kept in SQLite so matching costs no Plex request and memory stays flat.

One paged pass over each library fills `plex_items` (one row per file Plex knows: section,
ratingKey, path and its lookup keys). Lookups by path, normalised path, folded path and basename
go through SQL indexes, so 100,000 items cost disk, not memory. A rebuild writes a new
generation and drops the old one at the end, so a crash mid-build leaves the previous index
usable. `plex_meta` holds when and for what libraries the index was built; `plex_written`
remembers what PlexSync last wrote per item (the preserve_plex_edits rule and clearing a
rating need it). Stdlib only. It has no connection of its own: it is handed the process's one
database handle (the queue's `sync_queue.db.Database`, through the composition root), so every
write of a process goes through one connection and one lock.
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any, ContextManager, Dict, Iterable, List, Optional, Protocol, Sequence, Tuple

from common.pathmap import normalize
from plex.matcher import Candidate, base_key, fold_key

MAX_CANDIDATES = 50
_SCHEMA = """
CREATE TABLE IF NOT EXISTS plex_items (
    section_id INTEGER NOT NULL, rating_key INTEGER NOT NULL, path TEXT NOT NULL,
    norm TEXT NOT NULL, fold TEXT NOT NULL, base TEXT NOT NULL,
    size INTEGER, added_at INTEGER, gen INTEGER NOT NULL,
    PRIMARY KEY (path, section_id, rating_key));
CREATE INDEX IF NOT EXISTS plex_items_norm ON plex_items(norm);
CREATE INDEX IF NOT EXISTS plex_items_fold ON plex_items(fold);
CREATE INDEX IF NOT EXISTS plex_items_base ON plex_items(base);
CREATE INDEX IF NOT EXISTS plex_items_rk ON plex_items(rating_key, section_id);
CREATE INDEX IF NOT EXISTS plex_items_added ON plex_items(section_id, added_at);
CREATE TABLE IF NOT EXISTS plex_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plex_written (
    rating_key INTEGER PRIMARY KEY, data TEXT NOT NULL, updated_at REAL NOT NULL);
"""
# (rating_key, path, size, added_at) as read from a listing page
Row = Tuple[int, str, Optional[int], Optional[int]]


class Database(Protocol):
    """What the index needs of the process's database handle (sync_queue.db.Database has it)."""

    def transaction(self) -> ContextManager[sqlite3.Connection]: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> List[tuple]: ...

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Optional[tuple]: ...


class LibraryIndex:
    """Plex file path → (section, ratingKey), persistent and bounded."""

    def __init__(self, db: Database):
        self._db = db
        with db.transaction() as connection:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                connection.execute(statement)

    @property
    def database(self) -> Database:
        """The process's database handle this index writes through (other plex/ tables share it)."""
        return self._db

    def close(self) -> None:
        """Nothing to release: the database handle belongs to whoever opened it."""

    # -- metadata ---------------------------------------------------------------------------
    def meta(self, key: str, default: str = "") -> str:
        row = self._db.query_one("SELECT value FROM plex_meta WHERE key = ?", (key,))
        return row[0] if row else default

    def set_meta(self, key: str, value: Any) -> None:
        with self._db.transaction() as connection:
            connection.execute("INSERT OR REPLACE INTO plex_meta(key, value) VALUES (?, ?)", (key, str(value)))

    def prune_meta(self, prefix: str, before: float) -> None:
        """Forget `prefix*` entries whose value (a timestamp) is older than `before`."""
        with self._db.transaction() as connection:
            connection.execute("DELETE FROM plex_meta WHERE key LIKE ? AND CAST(value AS REAL) < ?",
                               (prefix.replace("%", "") + "%", before))

    # -- building ---------------------------------------------------------------------------
    def begin_build(self) -> int:
        """A new generation number for a full rebuild."""
        return int(self.meta("generation", "0") or 0) + 1

    def add_rows(self, section_id: int, rows: Iterable[Row], gen: Optional[int] = None) -> int:
        """Insert or refresh rows for one section (a listing page); returns how many.

        Without `gen` (a refresh between builds) a file's rows under another ratingKey go: Plex
        re-added it. A full build leaves that to `finish_build`, which drops older generations.
        """
        refresh = gen is None
        if gen is None:
            gen = int(self.meta("generation", "0") or 0)
        values = [(section_id, rk, path, normalize(path), fold_key(path), base_key(path), size, added, gen)
                  for rk, path, size, added in rows if path]
        with self._db.transaction() as connection:
            if refresh:
                connection.executemany("DELETE FROM plex_items WHERE path = ? AND section_id = ? AND rating_key != ?",
                                       [(v[2], section_id, v[1]) for v in values])
            connection.executemany(
                "INSERT OR REPLACE INTO plex_items(section_id, rating_key, path, norm, fold, base, size, added_at, gen)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
        return len(values)

    def finish_build(self, gen: int, section_ids: Sequence[int], signature: str, now: float) -> int:
        """Drop rows of older generations and of unselected sections; record the build. Returns the row count."""
        marks = ",".join("?" * len(section_ids)) or "NULL"
        with self._db.transaction() as connection:
            connection.execute("DELETE FROM plex_items WHERE gen < ?", (gen,))
            connection.execute(f"DELETE FROM plex_items WHERE section_id NOT IN ({marks})", tuple(section_ids))
            connection.execute("DELETE FROM plex_written WHERE rating_key NOT IN (SELECT rating_key FROM plex_items)")
            for key, value in (("generation", gen), ("built_at", now), ("signature", signature)):
                connection.execute("INSERT OR REPLACE INTO plex_meta(key, value) VALUES (?, ?)", (key, str(value)))
        return self.count()

    def built_at(self) -> float:
        return float(self.meta("built_at", "0") or 0)

    def is_stale(self, signature: str, now: float, max_age: float) -> bool:
        """Never built, built for other libraries, or older than `max_age` seconds."""
        built = self.built_at()
        return not built or self.meta("signature") != signature or now - built > max_age or now < built

    def remove_item(self, rating_key: int) -> None:
        with self._db.transaction() as connection:
            connection.execute("DELETE FROM plex_items WHERE rating_key = ?", (rating_key,))

    def latest_added(self, section_id: int) -> int:
        row = self._db.query_one("SELECT MAX(added_at) FROM plex_items WHERE section_id = ?", (section_id,))
        return int(row[0] or 0) if row else 0

    def count(self) -> int:
        row = self._db.query_one("SELECT COUNT(*) FROM plex_items")
        return int(row[0]) if row else 0

    # -- lookups (the matcher's Lookup protocol) --------------------------------------------
    def _find(self, column: str, value: str) -> List[Candidate]:
        rows = self._db.query(f"SELECT section_id, rating_key, path, size FROM plex_items WHERE {column} = ?"
                              f" ORDER BY rating_key LIMIT {MAX_CANDIDATES}", (value,))
        return [Candidate(int(s), int(rk), p, sz) for s, rk, p, sz in rows]

    def by_path(self, path: str) -> List[Candidate]:
        return self._find("path", path)

    def by_norm(self, norm: str) -> List[Candidate]:
        return self._find("norm", norm)

    def by_fold(self, fold: str) -> List[Candidate]:
        return self._find("fold", fold)

    def by_base(self, base: str) -> List[Candidate]:
        return self._find("base", base)

    # -- what PlexSync last wrote per item --------------------------------------------------
    def written(self, rating_key: int) -> Dict[str, Any]:
        row = self._db.query_one("SELECT data FROM plex_written WHERE rating_key = ?", (rating_key,))
        try:
            return dict(json.loads(row[0])) if row else {}
        except (TypeError, ValueError):
            return {}

    def set_written(self, rating_key: int, data: Dict[str, Any], now: float) -> None:
        text = json.dumps(data, ensure_ascii=False, sort_keys=True)
        with self._db.transaction() as connection:
            connection.execute("INSERT OR REPLACE INTO plex_written(rating_key, data, updated_at) VALUES (?, ?, ?)",
                               (rating_key, text, now))
