"""Finding and stopping the processes of one PlexSync data dir, for the demo, tests and benches.

Hooks start drainers detached, so nobody holds a handle to them: these helpers find them by the
data dir in their environment (or by the drainer lock) and stop them, and wait for conditions
with a deadline instead of sleeping.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any, Callable, List, Optional

from common.datadir import ENV_DATA_DIR


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `predicate` until it is truthy; TimeoutError naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def _alive(pid: int) -> bool:
    """Whether `pid` still runs (a zombie does not; our own dead child is reaped here)."""
    if os.name == "nt":
        return _alive_windows(pid)
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except OSError:  # not our child
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive_windows(pid: int) -> bool:
    """os.kill(pid, 0) would terminate the process on Windows; ask for its exit code instead."""
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return False
    code = ctypes.c_ulong()
    try:
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
    finally:
        kernel32.CloseHandle(handle)
    return code.value == 259  # STILL_ACTIVE


def processes_for(data_dir: Path) -> List[int]:
    """Live processes whose environment names `data_dir` as PlexSync's data dir (Linux /proc).

    Hooks and the launcher pass the data dir to every process they start, so this finds the
    drainers a hook started detached, which no one holds a handle to. Elsewhere: the lock holder.
    """
    wanted = f"{ENV_DATA_DIR}={Path(data_dir).resolve()}".encode()
    also = f"{ENV_DATA_DIR}={data_dir}".encode()
    pids = []
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if (wanted in environ or also in environ) and _alive(int(entry.name)):
                pids.append(int(entry.name))
        return pids
    holder = lock_holder(data_dir)
    return [holder] if holder and _alive(holder) else []


def lock_holder(data_dir: Path) -> Optional[int]:
    from worker.launcher import drainer_running
    from worker.lock import DrainerLock, lock_path

    if not drainer_running(data_dir):
        return None
    return DrainerLock(lock_path(data_dir)).holder_pid()


def stop_processes(pids: List[int], timeout: float = 15.0) -> List[int]:
    """SIGTERM (the drainer finishes its current job), SIGKILL what outlives `timeout`.

    Returns the pids that had to be killed.
    """
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + timeout
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    killed = [pid for pid in pids if _alive(pid)]
    for pid in killed:
        try:
            os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        except OSError:
            pass
    for pid in killed:
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
    return killed
