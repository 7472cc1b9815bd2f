"""The queue and drainer with real processes and a real SQLite file: concurrency, kills, one drainer.

Drainers here are `tests/helpers/scripted_drainer.py`: `run_drainer` with a processor that
records every job (pid, scenes, start, end) in a separate SQLite file.
"""
import os
import signal
import sys
import time
from collections import Counter

import pytest

from sync_queue.rows import enqueue
from sync_queue.stores import open_stores
from tests.helpers.procs import (
    assert_never_concurrent,
    completed_scenes,
    drainer_env,
    hook_process,
    make_plugin_dir,
    read_runs,
    start_scripted_drainer,
    wait_until,
    waiting_rows,
)
from worker.launcher import drainer_command, drainer_running, start_drainer

POSIX_ONLY = pytest.mark.skipif(os.name == "nt", reason="POSIX-only: SIGKILL, sessions and /proc do not exist on Windows")


def _gone(pid):
    """True once `pid` has exited (reaping it if it is our child)."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped:
            return True
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _wait_for_no_drainer(data_dir):
    wait_until(lambda: not drainer_running(data_dir), timeout=30, interval=0.1, message="every drainer to exit")


def test_200_hook_processes_enqueue_while_a_drainer_runs(tmp_path):
    data_dir, record = tmp_path / "data", tmp_path / "runs.db"
    plugin_dir = make_plugin_dir(tmp_path)
    env = drainer_env(data_dir, record, settle=0.1, idle_exit=1.5, job_seconds=0.002)
    drainer = start_scripted_drainer(env)
    wait_until(lambda: drainer_running(data_dir), message="the first drainer to hold the lock")
    scene_ids = list(range(1, 201))
    for start in range(0, len(scene_ids), 40):  # waves of 40 hook processes at once
        hooks = [hook_process(data_dir, plugin_dir, "update", [scene_id], env)
                 for scene_id in scene_ids[start:start + 40]]
        for hook in hooks:
            _, err = hook.communicate(timeout=60)
            assert hook.returncode == 0 and err == b"", err.decode()  # no "database is locked", nothing
    wait_until(lambda: set(completed_scenes(record)) >= set(scene_ids), timeout=60, message="all 200 scenes")
    drainer.communicate(timeout=30)
    _wait_for_no_drainer(data_dir)
    runs = read_runs(record)
    assert Counter(completed_scenes(record)) == Counter(scene_ids)  # each exactly once
    assert_never_concurrent(runs)
    assert all(run["ended"] is not None for run in runs)
    assert waiting_rows(data_dir) == 0


@POSIX_ONLY
def test_sigkilled_drainers_lose_no_job(tmp_path):
    data_dir, record = tmp_path / "data", tmp_path / "runs.db"
    scene_ids = list(range(1, 61))
    enqueue(data_dir, scene_ids, "update", "bulk edit")
    env = drainer_env(data_dir, record, settle=0, idle_exit=0.5, job_seconds=0.03, max_batch=1)
    killed_mid_job = 0
    for done_before_kill in (8, 20, 35):
        drainer = start_scripted_drainer(env)
        wait_until(lambda: len(completed_scenes(record)) >= done_before_kill, timeout=30,
                   message=f"{done_before_kill} jobs before the kill")
        os.kill(drainer.pid, signal.SIGKILL)
        drainer.wait(timeout=10)
        killed_mid_job += sum(1 for run in read_runs(record) if run["ended"] is None and run["pid"] == drainer.pid)
    last = start_scripted_drainer(env)
    _, err = last.communicate(timeout=60)
    assert last.returncode == 0, err.decode()
    assert set(completed_scenes(record)) == set(scene_ids)
    assert waiting_rows(data_dir) == 0
    assert_never_concurrent(read_runs(record))
    assert killed_mid_job >= 1  # at least one kill landed inside a job, and that job still completed


def test_two_drainers_started_at_the_same_instant(tmp_path):
    data_dir, record = tmp_path / "data", tmp_path / "runs.db"
    enqueue(data_dir, list(range(1, 31)), "update", "bulk edit")
    env = drainer_env(data_dir, record, settle=0, idle_exit=0.5, job_seconds=0.02, max_batch=1,
                      start_at=time.time() + 1.5)
    drainers = [start_scripted_drainer(env), start_scripted_drainer(env)]
    finished = wait_until(lambda: [d for d in drainers if d.poll() is not None], timeout=30,
                          message="one drainer to exit")
    (loser,) = finished
    (winner,) = [d for d in drainers if d is not loser]
    assert winner.poll() is None  # the loser left at once, while the winner still drains
    _, loser_err = loser.communicate(timeout=10)
    assert loser.returncode == 0
    assert f"another drainer is running (pid {winner.pid})" in loser_err.decode()
    _, winner_err = winner.communicate(timeout=60)
    assert winner.returncode == 0, winner_err.decode()
    runs = read_runs(record)
    assert {run["pid"] for run in runs} == {winner.pid}
    assert sorted(completed_scenes(record)) == list(range(1, 31))
    assert_never_concurrent(runs)


def test_a_burst_of_hook_events_for_one_scene_syncs_once(tmp_path):
    data_dir, record = tmp_path / "data", tmp_path / "runs.db"
    env = drainer_env(data_dir, record, settle=1.0, idle_exit=0.5)
    hook = hook_process(data_dir, make_plugin_dir(tmp_path), "update", [5] * 20, env)  # 20 events, 20 enqueues
    _, err = hook.communicate(timeout=60)
    assert hook.returncode == 0 and err == b"", err.decode()
    wait_until(lambda: completed_scenes(record), timeout=30, message="the scene to sync")
    _wait_for_no_drainer(data_dir)
    assert [run["scene_ids"] for run in read_runs(record)] == [[5]]


@POSIX_ONLY
def test_start_drainer_detaches_from_the_hook_and_dead_letters_reach_the_store(tmp_path, monkeypatch):
    data_dir, record = tmp_path / "data", tmp_path / "runs.db"
    plugin_dir = make_plugin_dir(tmp_path)
    for name, value in drainer_env(data_dir, record, settle=0, idle_exit=0.5, job_seconds=0.2, max_batch=1,
                                   permanent_ids=3).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PLEXSYNC_DATA_DIR")  # the launcher must set it
    enqueue(data_dir, [1, 2, 3, 4, 5], "update", "bulk edit")
    pid = start_drainer(data_dir, plugin_dir)
    wait_until(lambda: drainer_running(data_dir), message="the detached drainer to hold the lock")
    if sys.platform.startswith("linux"):
        proc = f"/proc/{pid}"
        cmdline = open(f"{proc}/cmdline", "rb").read().split(b"\0")[:-1]
        assert [part.decode() for part in cmdline] == drainer_command(plugin_dir)
        assert all(os.readlink(f"{proc}/fd/{fd}") == "/dev/null" for fd in (0, 1, 2))
        environ = open(f"{proc}/environ", "rb").read().split(b"\0")
        assert f"PLEXSYNC_DATA_DIR={data_dir.resolve()}".encode() in environ
    assert os.getsid(pid) == pid  # its own session: no signal for the hook's group reaches it
    wait_until(lambda: _gone(pid), timeout=30, message="the detached drainer to exit when idle")
    assert sorted(completed_scenes(record)) == [1, 2, 3, 4, 5]
    with open_stores(data_dir) as stores:
        (letter,) = stores.dead_letters.list()
        assert letter.scene_id == 3 and "matches two Plex items" in letter.message
        assert stores.dead_letters.retry(letter.id) == 1 and stores.jobs.waiting_count() == 1
        assert stores.dead_letters.purge(0) == 0


def test_a_hook_that_starts_a_drainer_returns_at_once(tmp_path):
    """Stash reads the hook's stdout to EOF: it must close while the drainer it started keeps working."""
    data_dir, record = tmp_path / "data", tmp_path / "runs.db"
    env = drainer_env(data_dir, record, settle=0, idle_exit=0.5, job_seconds=0.3, max_batch=1)
    hook = hook_process(data_dir, make_plugin_dir(tmp_path), "update", [1, 2, 3, 4, 5, 6], env)
    out, err = hook.communicate(timeout=30)  # EOF on stdout and stderr, then exit
    assert hook.returncode == 0 and out == b"" and err == b""
    wait_until(lambda: drainer_running(data_dir), timeout=30, message="the drainer the hook started")
    assert len(completed_scenes(record)) < 6  # the drainer was still working when the hook had finished
    wait_until(lambda: len(completed_scenes(record)) == 6, timeout=30, message="all six scenes")
    _wait_for_no_drainer(data_dir)
