"""Opens every store of the queue database at once, for the drainer, tasks and the CLI."""
from __future__ import annotations

import os
from dataclasses import dataclass

from sync_queue.db import Database
from sync_queue.dead_letters import DeadLetters
from sync_queue.drainer_status import DrainerStatus
from sync_queue.jobqueue import JobQueue
from sync_queue.sync_state import SyncStateStore


@dataclass
class Stores:
    db: Database
    jobs: JobQueue
    dead_letters: DeadLetters
    sync_state: SyncStateStore
    status: DrainerStatus

    def close(self) -> None:
        self.jobs.close()
        self.db.close()

    def __enter__(self) -> "Stores":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_stores(data_dir: "os.PathLike[str] | str", *, for_drainer: bool = False) -> Stores:
    """All stores on one connection. The drainer's connection syncs less often (see Database)."""
    db = Database(data_dir, synchronous="NORMAL" if for_drainer else "FULL")
    try:
        jobs = JobQueue(db)
    except BaseException:
        db.close()
        raise
    return Stores(db, jobs, DeadLetters(db), SyncStateStore(db), DrainerStatus(db))
