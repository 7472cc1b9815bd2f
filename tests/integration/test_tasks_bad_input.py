"""Whatever arrives on stdin, a task run answers with one JSON object, a clear one-line error and
exit status 0, and leaves the queue exactly as it was (no server is contacted for any of these)."""
from __future__ import annotations

import json
import sqlite3

import pytest

from entry.task_table import MODES
from sync_queue.dead_letters import DeadLetterEntry
from sync_queue.rows import enqueue
from sync_queue.stores import open_stores
from tests.integration.e2e import run_plexsync

CONNECTION = {"Scheme": "http", "Host": "0.0.0.0", "Port": 9, "SessionCookie": None, "Dir": "/tmp",
              "PluginDir": "/nonexistent/plugins/PlexSync"}


def task(args, connection=CONNECTION) -> str:
    return json.dumps({"server_connection": connection, "args": args})


CASES = [
    ("", "no input on stdin"),
    ("   \n", "no input on stdin"),
    ("{not json", "stdin is not JSON"),
    ("[1, 2]", "stdin JSON is a list, not an object"),
    ('"status"', "stdin JSON is a str, not an object"),
    (json.dumps({"args": {"mode": "status"}}), "server_connection is missing from the input"),
    (json.dumps({"server_connection": "localhost", "args": {"mode": "status"}}), "server_connection is missing"),
    (json.dumps({"server_connection": CONNECTION, "args": ["status"]}), "args must be an object, got list"),
    (task({"mode": 5}), "args.mode must be text, got int"),
    (task({}), "neither args.mode nor args.hookContext is set"),
    (task({"mode": "sync_everything"}), "unknown task mode 'sync_everything': valid modes are " + ", ".join(MODES)),
    (task({"mode": ""}), "neither args.mode nor args.hookContext is set"),
    (task({"mode": "dlq_purge", "days": "soon"}), "args.days must be a number, got 'soon'"),
    (task({"mode": "dlq_purge", "days": -1}), "args.days must be at least 0.0, got -1"),
    (task({"mode": "dlq_list", "limit": True}), "args.limit must be a number, got bool"),
    (task({"mode": "status"}, dict(CONNECTION, Port="abc")), "server_connection Port must be a number, got 'abc'"),
    (task({"mode": "sync_all"}, dict(CONNECTION, Scheme="ftp")), "server_connection Scheme must be http or https"),
    (task({"mode": "sync_all", "hookContext": "x"}), "args.hookContext must be an object, got str"),
]


def _queue_snapshot(data_dir):
    connection = sqlite3.connect(str(data_dir / "queue.db"))
    try:
        return (connection.execute("SELECT _id, data, status FROM ack_queue_jobs ORDER BY _id").fetchall(),
                connection.execute("SELECT * FROM dead_letters ORDER BY id").fetchall())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A queue with waiting jobs and a dead letter, which no bad input may change."""
    path = tmp_path_factory.mktemp("bad-input") / "data"
    enqueue(path, [1, 2, 3], "update", "edit form")
    with open_stores(path) as stores:
        stores.dead_letters.add(DeadLetterEntry(7, '{"scene_ids": [7], "event": "sync"}', "PermanentError",
                                                "permanent", "scene 7 matches 2 Plex files", 1, 1.0, 1.0))
    return path


@pytest.mark.parametrize("stdin, expected", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_bad_input_gets_a_clear_error_and_leaves_the_queue_alone(data_dir, stdin, expected):
    before = _queue_snapshot(data_dir)
    run = run_plexsync(stdin, data_dir)
    assert run.returncode == 0
    assert run.output is None
    assert expected in run.error, run.error
    assert "\n" not in run.error and len(run.error) < 600
    assert run.logs("e") == [run.error]
    assert "Traceback" not in run.stderr
    assert _queue_snapshot(data_dir) == before
    assert not (data_dir / "stash_connection.json").exists()
