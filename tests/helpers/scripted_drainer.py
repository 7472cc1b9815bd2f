"""A real drainer process with a scripted processor, for the process-level queue tests.

`python tests/helpers/scripted_drainer.py worker` runs `run_drainer` exactly as
`python PlexSync.py worker` does, but its processor only records each job in a separate SQLite
file (pid, scene ids, start and end time), so tests can check that every job ran, and that no
two ran at the same time. Configuration comes from the environment, because the launcher
passes the environment through to a detached drainer:

    PLEXSYNC_DATA_DIR          the queue's data directory (required)
    SCRIPTED_RECORD_DB         where to record runs (required)
    SCRIPTED_JOB_SECONDS       how long each job takes (default 0)
    SCRIPTED_SETTLE            settle delay (default 0.1)
    SCRIPTED_IDLE_EXIT         idle exit (default 1.0)
    SCRIPTED_MAX_BATCH         scenes per combined job (default 50)
    SCRIPTED_PERMANENT_IDS     comma-separated scene ids that fail permanently
    SCRIPTED_START_AT          epoch time to call run_drainer at (two drainers at one instant)
"""
from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from common.errors import PermanentError  # noqa: E402
from common.log import setup_file_logging  # noqa: E402
from worker.drainer import run_drainer  # noqa: E402
from worker.options import WorkerOptions  # noqa: E402
from worker.protocol import JobResult, ProcessorBase, ReadyProcessor  # noqa: E402

RECORD_SCHEMA = ("CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, pid INTEGER, scene_ids TEXT,"
                 " event TEXT, started REAL, ended REAL)")


def open_record(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(RECORD_SCHEMA)
    return connection


class RecordingProcessor(ProcessorBase):
    def __init__(self, record_path: str, job_seconds: float, permanent_ids: set) -> None:
        self.record = open_record(record_path)
        self.job_seconds = job_seconds
        self.permanent_ids = permanent_ids

    def process(self, job) -> JobResult:
        row = self.record.execute(
            "INSERT INTO runs (pid, scene_ids, event, started) VALUES (?, ?, ?, ?)",
            (os.getpid(), json.dumps(job.scene_ids), job.event, time.time())).lastrowid
        if self.job_seconds:
            time.sleep(self.job_seconds)
        failures = {scene_id: PermanentError(f"scene {scene_id} matches two Plex items; pick one in Plex")
                    for scene_id in job.scene_ids if scene_id in self.permanent_ids}
        self.record.execute("UPDATE runs SET ended = ? WHERE id = ?", (time.time(), row))
        return JobResult(failures)

    def close(self) -> None:
        self.record.close()


def main(argv: list) -> int:
    env = os.environ
    data_dir = Path(env["PLEXSYNC_DATA_DIR"])
    setup_file_logging(data_dir / "drainer.log")
    permanent = {int(value) for value in env.get("SCRIPTED_PERMANENT_IDS", "").split(",") if value}
    options = WorkerOptions(
        settle_seconds=float(env.get("SCRIPTED_SETTLE", "0.1")),
        idle_exit_seconds=float(env.get("SCRIPTED_IDLE_EXIT", "1.0")),
        max_batch=int(env.get("SCRIPTED_MAX_BATCH", "50")),
        poll_seconds=0.05,
    )
    record_path = env["SCRIPTED_RECORD_DB"]
    job_seconds = float(env.get("SCRIPTED_JOB_SECONDS", "0"))
    start_at = float(env.get("SCRIPTED_START_AT", "0"))
    time.sleep(max(0.0, start_at - time.time()))
    return run_drainer(data_dir, lambda: ReadyProcessor(RecordingProcessor(record_path, job_seconds, permanent)),
                       options=options)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
