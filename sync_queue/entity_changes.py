"""The entity changes waiting to become scene jobs: a tag renamed, a performer deleted, ...

Hooks insert rows (sync_queue/rows.py `enqueue_entity_change`); only the drainer changes them.
Changes to the same entity coalesce into the oldest row, which starts over (a second rename
while the first was half done must reach the scenes already queued too); deletes all coalesce
into one check of every scene, since the scenes of a deleted entity cannot be looked up. Each
page of resolved scene ids is queued as jobs and the row's place (`after_id`) advanced in one
transaction, so a kill repeats at most one page and loses none.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from sync_queue.db import Database
from sync_queue.rows import INSERT_JOB

EVERY_SCENE = "*"  # the kind a delete resolves to: every scene


@dataclass(frozen=True)
class PendingChange:
    id: int
    kind: str  # tag, performer, studio, group; EVERY_SCENE after a delete
    entity_id: int  # 0 for EVERY_SCENE
    change: str  # update, merge, destroy
    fields: Tuple[str, ...]
    queued_at: float
    after_id: int  # the last scene id already queued; 0 = not started
    attempts: int
    last_error: str = ""

    @property
    def what(self) -> str:
        """For logs and job reasons, e.g. "tag 12 renamed" or "performer 4 deleted"."""
        if self.kind == EVERY_SCENE:
            return "an entity deleted"
        done = {"update": "changed" if set(self.fields) - {"name"} else "renamed", "merge": "merged into",
                "destroy": "deleted"}[self.change]
        return f"{self.kind} {self.entity_id} {done}" if self.change != "merge" else \
            f"tags merged into tag {self.entity_id}"


def _key(kind: str, entity_id: int, change: str) -> Tuple[str, int]:
    return (EVERY_SCENE, 0) if change == "destroy" else (kind, entity_id)


class EntityChanges:
    def __init__(self, db: Database) -> None:
        self.db = db

    def count(self) -> int:
        return int(self.db.scalar("SELECT COUNT(*) FROM entity_changes") or 0)

    def pending(self) -> List[PendingChange]:
        rows = self.db.query("SELECT id, kind, entity_id, change, fields, queued_at, after_id, attempts, last_error "
                             "FROM entity_changes ORDER BY id")
        return [_change(row) for row in rows]

    def next_due(self) -> Optional[float]:
        value = self.db.scalar("SELECT MIN(not_before) FROM entity_changes")
        return None if value is None else float(value)

    def take(self, now: float) -> Optional[PendingChange]:
        """Coalesce what hooks added since, then the oldest change that is due (None: none is)."""
        rows = self.db.query("SELECT id, kind, entity_id, change, fields FROM entity_changes ORDER BY id")
        if not rows:
            return None
        if len({_key(kind, int(entity_id), change) for _, kind, entity_id, change, _ in rows}) < len(rows) or \
                any(change == "destroy" and kind != EVERY_SCENE for _, kind, _, change, _ in rows):
            self._coalesce()
        row = self.db.query_one("SELECT id, kind, entity_id, change, fields, queued_at, after_id, attempts, last_error "
                                "FROM entity_changes WHERE not_before <= ? ORDER BY id LIMIT 1", (now,))
        return None if row is None else _change(row)

    def _coalesce(self) -> None:
        with self.db.transaction() as connection:
            rows = connection.execute("SELECT id, kind, entity_id, change, fields FROM entity_changes "
                                      "ORDER BY id").fetchall()
            kept: dict = {}
            for change_id, kind, entity_id, change, fields in rows:
                key = _key(kind, int(entity_id), change)
                if key not in kept:
                    kept[key] = (change_id, set(filter(None, fields.split(","))))
                    if key[0] == EVERY_SCENE and kind != EVERY_SCENE:
                        connection.execute("UPDATE entity_changes SET kind = ?, entity_id = 0 WHERE id = ?",
                                           (EVERY_SCENE, change_id))
                    continue
                first, merged = kept[key]
                merged.update(filter(None, fields.split(",")))
                connection.execute("UPDATE entity_changes SET after_id = 0, attempts = 0, not_before = 0, "
                                   "fields = ?, change = CASE WHEN change = 'update' THEN ? ELSE change END "
                                   "WHERE id = ?", (",".join(sorted(merged)), change, first))
                connection.execute("DELETE FROM entity_changes WHERE id = ?", (change_id,))

    def advance(self, change: PendingChange, scene_ids: Sequence[int], job_rows: Sequence[tuple],
                finished: bool) -> None:
        """Queue `job_rows` (the jobs for `scene_ids`) and move past them, or finish the change."""
        with self.db.transaction() as connection:
            if job_rows:
                connection.executemany(INSERT_JOB, job_rows)
            if finished:
                connection.execute("DELETE FROM entity_changes WHERE id = ?", (change.id,))
            else:
                connection.execute("UPDATE entity_changes SET after_id = ?, attempts = 0, last_error = '' "
                                   "WHERE id = ?", (max(scene_ids, default=change.after_id), change.id))

    def postpone(self, change: PendingChange, not_before: float, error: str) -> None:
        with self.db.transaction() as connection:
            connection.execute("UPDATE entity_changes SET attempts = attempts + 1, not_before = ?, last_error = ? "
                               "WHERE id = ?", (not_before, error[:500], change.id))

    def drop(self, change: PendingChange) -> None:
        with self.db.transaction() as connection:
            connection.execute("DELETE FROM entity_changes WHERE id = ?", (change.id,))


def _change(row: tuple) -> PendingChange:
    change_id, kind, entity_id, change, fields, queued_at, after_id, attempts, last_error = row
    return PendingChange(int(change_id), str(kind), int(entity_id), str(change),
                         tuple(filter(None, str(fields).split(","))), float(queued_at), int(after_id),
                         int(attempts), str(last_error or ""))
