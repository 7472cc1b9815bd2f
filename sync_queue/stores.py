"""Opens every store of the queue database at once, for the drainer, tasks and the CLI."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from sync_queue.db import Database
from sync_queue.dead_letters import DeadLetters
from sync_queue.drainer_status import DrainerStatus
from sync_queue.entity_changes import EntityChanges
from sync_queue.jobqueue import JobQueue
from sync_queue.sync_state import SyncStateStore


@dataclass
class Stores:
    db: Database
    jobs: JobQueue
    dead_letters: DeadLetters
    sync_state: SyncStateStore
    status: DrainerStatus
    changes: EntityChanges
    owns_db: bool = True  # False: the database was handed in, and its opener closes it

    def close(self) -> None:
        self.jobs.close()
        if self.owns_db:
            self.db.close()

    def __enter__(self) -> "Stores":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_stores(data_dir: "os.PathLike[str] | str", *, for_drainer: bool = False,
                database: Optional[Database] = None) -> Stores:
    """All stores on one connection: `database` (the process's, opened by the composition root) or
    a new one. The drainer's connection syncs less often (see Database)."""
    db = database or Database(data_dir, synchronous="NORMAL" if for_drainer else "FULL")
    try:
        jobs = JobQueue(db)
    except BaseException:
        if database is None:
            db.close()
        raise
    return Stores(db, jobs, DeadLetters(db), SyncStateStore(db), DrainerStatus(db), EntityChanges(db),
                  owns_db=database is None)
