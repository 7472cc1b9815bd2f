"""A drainer's commits stay visible to other processes while tasks and hooks open the queue.

A process may hold more than one SQLite connection to the queue database (the one `Database`
its composition root opens and persist-queue's own; once also a second `Database` and the Plex
index's). Opening an existing file with `os.open` and closing it again drops every POSIX lock
the process holds on it, SQLite's included; a task or hook that then closes its own connection
believes it is the last user, checkpoints and deletes the WAL file, and the drainer's later
commits go to an unlinked file: no other process ever sees them. This happened to every job
the real drainer ran while `status` or a sync task polled the queue.
"""
from __future__ import annotations

import subprocess
import sys

from common.datadir import touch_private
from sync_queue.db import Database
from sync_queue.rows import db_path

READ = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(c.execute('SELECT COUNT(*) FROM sync_state').fetchone()[0]); c.close()"


def _count_from_another_process(path) -> int:
    done = subprocess.run([sys.executable, "-c", READ, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_commits_after_a_second_open_in_the_same_process_stay_visible(tmp_path):
    first = Database(tmp_path, synchronous="NORMAL")
    second = Database(tmp_path)  # a second SQLite connection in the same process (as persist-queue's is)
    try:
        touch_private(db_path(tmp_path))
        assert _count_from_another_process(db_path(tmp_path)) == 0  # another process opens and closes
        with first.transaction() as connection:
            connection.execute("INSERT INTO sync_state VALUES (1, 1, 1, 'h', '', '', '', 1.0)")
        with second.transaction() as connection:
            connection.execute("INSERT INTO sync_state VALUES (2, 1, 2, 'h', '', '', '', 1.0)")
        assert _count_from_another_process(db_path(tmp_path)) == 2
        assert _count_from_another_process(db_path(tmp_path)) == 2
    finally:
        second.close()
        first.close()
