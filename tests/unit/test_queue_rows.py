"""The hook's fast enqueue: persist-queue reads what it writes, it stays cheap, files stay private."""
import os
import sqlite3
import stat
import subprocess
import sys

import persistqueue.serializers.json as json_serializer
import pytest
from persistqueue import SQLiteAckQueue

from sync_queue.db import Database
from sync_queue.jobs import Job
from sync_queue.rows import DB_FILENAME, QUEUE_NAME, enqueue
from tests.helpers.procs import REPO, hook_process


def library_queue(data_dir):
    return SQLiteAckQueue(str(data_dir), name=QUEUE_NAME, db_file_name=DB_FILENAME, auto_resume=False,
                          serializer=json_serializer, multithreading=True)


def test_library_reads_acks_and_counts_fast_rows(tmp_path):
    enqueue(tmp_path, [7], "update", "edit form")
    enqueue(tmp_path, [8, 9], "destroy", "multi delete")
    queue = library_queue(tmp_path)
    try:
        assert queue.qsize() == 3
        first = queue.get(block=False, raw=True)
        assert first["data"] == {"scene_ids": [7], "scene_id": 7, "event": "update", "reason": "edit form",
                                 "force": False, "enqueued_at": first["data"]["enqueued_at"], "attempts": 0,
                                 "not_before": 0}
        assert queue.unack_count() == 1 and queue.qsize() == 2
        assert queue.ack(id=first["pqid"]) == first["pqid"]
        assert queue.acked_count() == 1
        second = queue.get(block=False, raw=True)
        queue.nack(id=second["pqid"])
        assert queue.ready_count() == 1
        assert [row["data"]["scene_ids"] for row in queue.queue()] == [[7], [8], [9]]
    finally:
        queue.close()


def test_fast_rows_match_rows_the_library_puts(tmp_path):
    queue = library_queue(tmp_path)  # the library creates the table this time
    try:
        library_id = queue.put(Job([5], "sync", "task").to_dict())
        enqueue(tmp_path, [6], "sync", "task")
        rows = {row["id"]: row for row in queue.queue()}
        fast_id = max(rows)
        assert rows[fast_id]["status"] == rows[library_id]["status"] == 0  # inited
        assert type(rows[fast_id]["timestamp"]) is type(rows[library_id]["timestamp"])  # noqa: E721
        assert Job.from_dict(rows[fast_id]["data"]).scene_ids == [6]
    finally:
        queue.close()
    reopened = library_queue(tmp_path)  # qsize() is a counter kept per instance, read at open
    try:
        assert reopened.qsize() == 2 and reopened.ready_count() == 0  # both waiting, neither "ready"
    finally:
        reopened.close()


def test_fast_rows_decode_as_jobs(tmp_path):
    enqueue(tmp_path, [3], "create", "scan", force=True)
    with Database(tmp_path) as db:
        (data,) = db.query_one("SELECT data FROM ack_queue_jobs")
    job = Job.decode(data)
    assert (job.scene_ids, job.scene_id, job.event, job.force, job.attempts) == ([3], 3, "create", True, 0)
    assert isinstance(data, bytes)  # a BLOB, as persist-queue's JSON serializer stores it


@pytest.mark.parametrize("ids, event", [([0], "update"), ([True], "update"), (["5"], "update"), ([5], "edit"), (5, "update")])
def test_bad_arguments_write_nothing(tmp_path, ids, event):
    with pytest.raises(ValueError):
        enqueue(tmp_path, ids, event, "x")
    assert not (tmp_path / DB_FILENAME).exists() or Database(tmp_path).query_one(
        "SELECT COUNT(*) FROM ack_queue_jobs")[0] == 0


@pytest.mark.skipif(os.name == "nt", reason="POSIX file modes; Windows has no 0600")
def test_database_and_companions_are_owner_only(tmp_path):
    data_dir = tmp_path / "data"
    old_umask = os.umask(0o022)
    try:
        enqueue(data_dir, [1], "update", "x")
        with Database(data_dir) as db:  # an open connection keeps -wal and -shm on disk
            db.query("SELECT COUNT(*) FROM ack_queue_jobs")
            enqueue(data_dir, [2], "update", "x")
            names = sorted(os.listdir(data_dir))
            assert {DB_FILENAME, DB_FILENAME + "-wal", DB_FILENAME + "-shm"} <= set(names)
            for name in names:
                assert stat.S_IMODE(os.stat(data_dir / name).st_mode) == 0o600, name
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    assert sqlite3.connect(str(data_dir / DB_FILENAME)).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_hook_path_imports_nothing_heavy():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import sync_queue.rows, worker.launcher"],
        cwd=str(REPO), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert "sync_queue" in imported and "worker" in imported
    assert not imported & {"persistqueue", "plexapi", "requests", "stashapi", "urllib3", "subprocess"}, imported


def test_processes_creating_the_database_at_once_all_land(tmp_path):
    data_dir = tmp_path / "fresh"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    processes = [hook_process(data_dir, None, "update", [scene_id], env) for scene_id in range(1, 13)]
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0 and not err, err.decode()
    with Database(data_dir) as db:
        rows = db.query("SELECT data FROM ack_queue_jobs")
    assert sorted(Job.decode(data).scene_id for (data,) in rows) == list(range(1, 13))
