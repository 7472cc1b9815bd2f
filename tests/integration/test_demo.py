"""`python PlexSync.py demo`: it tells its story, and leaves nothing behind, also when interrupted.

The demo starts servers, a detached drainer and plugin processes; a user who runs it (or presses
Ctrl-C halfway) must not be left with any of them, nor with temporary files. Each run gets its own
TMPDIR, so "nothing left" is checked exactly: no process names a data dir under it, and it is empty.
"""
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from devkit.demo.report import display_width
from tests.integration.e2e import REPO, wait_until

LINUX = sys.platform.startswith("linux")


def demo_env(tmp_dir):
    env = {name: value for name, value in os.environ.items() if not name.startswith("PLEXSYNC_")}
    env["TMPDIR"] = str(tmp_dir)
    env.pop("PYTHONPATH", None)
    return env


def processes_under(tmp_dir):
    """Live processes whose PLEXSYNC_DATA_DIR lies under `tmp_dir` (Linux /proc)."""
    prefixes = {f"PLEXSYNC_DATA_DIR={tmp_dir}".encode(), f"PLEXSYNC_DATA_DIR={Path(tmp_dir).resolve()}".encode()}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if state != b"Z" and any(var.startswith(prefix) for var in environ for prefix in prefixes):
            found.append(int(entry.name))
    return found


@pytest.fixture
def demo_tmp(tmp_path):
    tmp_dir = tmp_path / "tmp"
    tmp_dir.mkdir()
    yield tmp_dir
    leftovers = processes_under(tmp_dir) if LINUX else []
    for pid in leftovers:  # never leave them running, even when the test failed
        os.kill(pid, signal.SIGKILL)
    assert leftovers == [], "the demo left processes running"


def test_the_demo_syncs_plays_an_edit_and_leaves_nothing_running(demo_tmp):
    done = subprocess.run([sys.executable, str(REPO / "PlexSync.py"), "demo"], capture_output=True, text=True,
                          cwd=str(demo_tmp), env=demo_env(demo_tmp), stdin=subprocess.DEVNULL, timeout=120)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    for expected in ("1. Full sync", "2. An edit in Stash, through the hook", "before the sync", "after the sync",
                     "before the edit", "after the edit", '"queued scene', "3. A tag renamed in Stash",
                     '"queued tag', "Plex items show", "4. A movie watched in Plex", "play count 1",
                     "still 1 play", "Totals", "synced to Plex",
                     "not in Plex yet", "Plex requests", "PUT /library/sections/{id}/all", "elapsed",
                     "Nothing left running"):
        assert expected in out, expected
    assert max(display_width(line) for line in out.splitlines()) < 80
    assert done.stderr == ""
    if LINUX:
        assert processes_under(demo_tmp) == []
    assert list(demo_tmp.iterdir()) == []


@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_ctrl_c_halfway_stops_the_drainer_and_the_servers_and_removes_the_files(demo_tmp):
    proc = subprocess.Popen([sys.executable, str(REPO / "PlexSync.py"), "demo"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True, cwd=str(demo_tmp),
                            env=demo_env(demo_tmp))
    seen = []
    reader = threading.Thread(target=lambda: seen.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any(line.startswith("1. Full sync") for line in list(seen)), timeout=60,
                   message="the demo to start its full sync")
        if LINUX:
            wait_until(lambda: processes_under(demo_tmp), timeout=30, message="the sync task or the drainer")
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        reader.join(30)
        proc.stdout.close()
    assert "interrupted" in "".join(seen)
    if LINUX:
        assert processes_under(demo_tmp) == []
    assert list(demo_tmp.iterdir()) == []
