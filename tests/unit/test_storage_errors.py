"""A damaged or unusable queue database gets a one-line answer that names the file and the remedy."""
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sync_queue.storage_errors import storage_problem

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("error, words", [
    (sqlite3.DatabaseError("file is not a database"), "move it aside"),
    (sqlite3.DatabaseError("database disk image is malformed"), "Sync changed scenes"),
    (sqlite3.OperationalError("database is locked"), "run it again"),
    (sqlite3.OperationalError("unable to open database file"), "writable"),
    (sqlite3.OperationalError("database or disk is full"), "free space"),
])
def test_each_failure_says_what_to_do(error, words):
    message = storage_problem(error, "/data/queue.db")
    assert "/data/queue.db" in message and words in message and "\n" not in message


def test_other_errors_are_not_storage_problems():
    assert storage_problem(ValueError("no")) is None


def test_a_hook_on_a_damaged_database_answers_in_one_line(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "queue.db").write_bytes(b"this is not an SQLite file" * 100)
    stdin = {"server_connection": {"Scheme": "http", "Host": "127.0.0.1", "Port": 9, "PluginDir": str(tmp_path)},
             "args": {"hookContext": {"id": 5, "type": "Scene.Update.Post", "input": {"id": "5", "title": "x"},
                                      "inputFields": ["id", "title"]}}}
    run = subprocess.run([sys.executable, str(ROOT / "PlexSync.py")], input=json.dumps(stdin), capture_output=True,
                         text=True, env={"PLEXSYNC_DATA_DIR": str(data_dir), "PATH": ""}, timeout=60)
    assert run.returncode == 0 and run.stdout.count("\n") == 1
    answer = json.loads(run.stdout)
    assert answer["output"] is None
    assert str(data_dir / "queue.db") in answer["error"] and "move it aside" in answer["error"]
    assert "Traceback" not in run.stderr
