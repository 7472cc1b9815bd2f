"""What PlexSync last wrote for each scene, so the writer can skip a scene that has not changed.

Scene id → Plex library section, ratingKey, hash of the metadata written, the image source and
hashes of the images uploaded, and when. One row per scene; a destroyed scene's row is deleted.
"""
from __future__ import annotations

from typing import List, Optional

from common.models import SyncRecord
from sync_queue.db import Database

_COLUMNS = "scene_id, section_id, rating_key, metadata_hash, image_source, poster_hash, art_hash, synced_at"


class SyncStateStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, scene_id: int) -> Optional[SyncRecord]:
        row = self.db.query_one(f"SELECT {_COLUMNS} FROM sync_state WHERE scene_id = ?", (scene_id,))
        return SyncRecord(*row) if row else None

    def put(self, record: SyncRecord) -> None:
        with self.db.transaction() as connection:
            connection.execute(
                f"INSERT OR REPLACE INTO sync_state ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (record.scene_id, record.section_id, record.rating_key, record.metadata_hash,
                 record.image_source, record.poster_hash, record.art_hash, record.synced_at))

    def delete(self, scene_id: int) -> None:
        with self.db.transaction() as connection:
            connection.execute("DELETE FROM sync_state WHERE scene_id = ?", (scene_id,))

    def last_synced_at(self) -> Optional[float]:
        """When any scene was last written to Plex; None before the first sync."""
        return self.db.scalar("SELECT MAX(synced_at) FROM sync_state")

    def synced_since(self, since: float) -> List[int]:
        """Scenes written to Plex at or after `since` (a task's summary and progress)."""
        return [row[0] for row in self.db.query("SELECT scene_id FROM sync_state WHERE synced_at >= ?", (since,))]

    def count(self) -> int:
        return self.db.scalar("SELECT COUNT(*) FROM sync_state")
