"""The single-drainer lock and the launcher's probe, within one process and across two."""
import os
import subprocess
import sys

from tests.helpers.procs import REPO, wait_until
from worker.launcher import drainer_command, drainer_running
from worker.lock import DrainerLock, is_locked, lock_path


def test_only_one_holder_and_it_names_itself(tmp_path):
    first, second = DrainerLock(lock_path(tmp_path)), DrainerLock(lock_path(tmp_path))
    assert first.acquire() and first.held
    assert not second.acquire() and not second.held
    assert second.holder_pid() == os.getpid()
    assert is_locked(lock_path(tmp_path)) and drainer_running(tmp_path)
    first.release()
    assert second.holder_pid() is None and not drainer_running(tmp_path)
    assert second.acquire()
    second.release()


def test_probe_on_a_fresh_directory_creates_nothing(tmp_path):
    assert not drainer_running(tmp_path / "never-used")
    assert not (tmp_path / "never-used").exists()


def test_the_os_releases_the_lock_of_a_killed_process(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from worker.lock import DrainerLock;"
         f" DrainerLock({str(lock_path(tmp_path))!r}).acquire(); print('held', flush=True); time.sleep(60)"],
        cwd=str(REPO), stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = DrainerLock(lock_path(tmp_path))
        assert not lock.acquire() and lock.holder_pid() == holder.pid
    finally:
        holder.kill()
        holder.wait()
    assert wait_until(lambda: lock.acquire(), message="lock free after kill")
    lock.release()


def test_lock_file_is_owner_only(tmp_path):
    lock = DrainerLock(lock_path(tmp_path / "data"))
    assert lock.acquire()
    lock.release()
    if os.name != "nt":
        assert os.stat(lock_path(tmp_path / "data")).st_mode & 0o777 == 0o600


def test_drainer_command_is_plain_and_secret_free(tmp_path):
    assert drainer_command(tmp_path) == [sys.executable, str(tmp_path / "PlexSync.py"), "worker"]
