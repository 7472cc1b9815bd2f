"""Exactly one drainer at a time, across processes: an OS file lock held for the drainer's life.

The OS drops the lock when its process dies, however it dies, so a SIGKILLed drainer never
blocks the next one and no stale-pid guessing is needed. POSIX uses `flock` (tied to the open
file, so two opens in one process exclude each other too); Windows locks one byte with
`msvcrt.locking`. Both modules are imported inside functions: a peer plugin that imported
`fcntl` at module top could not start on Windows. The holder writes its pid into the file so a
second drainer can say who is running. The same lock (ProcessLock) keeps plays imports and
watch mode to one process each (plays.lock, watch.lock); DrainerLock is the drainer's use of it.
"""
from __future__ import annotations

import os
import time

TYPE_CHECKING = False  # typing costs ~7 ms to import, paid on every hook
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Optional

LOCK_FILENAME = "drainer.lock"
_WINDOWS_LOCK_OFFSET = 1 << 30  # lock a byte far past the pid text, which others must read


def lock_path(data_dir: "os.PathLike[str] | str") -> Path:
    from pathlib import Path  # not at module top: the hook's probe joins the path as text

    return Path(data_dir) / LOCK_FILENAME


def _try_lock(fd: int) -> bool:
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(fd: int) -> None:
    if os.name == "nt":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


class ProcessLock:
    """One process at a time holds the lock file `path`. `acquire()` never waits; a process holds
    at most what it acquired."""

    def __init__(self, path: "os.PathLike[str] | str") -> None:
        from pathlib import Path

        self.path = Path(path)
        self._fd: Optional[int] = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o600)
        if not _try_lock(fd):
            os.close(fd)
            return False
        self._fd = fd
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, str(os.getpid()).encode("ascii"))
        return True

    def acquire_within(self, seconds: float, interval: float = 0.02) -> bool:
        """Try for a short while: a hook's `drainer_running` probe holds the lock for microseconds."""
        deadline = time.monotonic() + seconds
        while True:
            if self.acquire():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # no stale pid for the next reader
            _unlock(fd)
        finally:
            os.close(fd)

    def holder_pid(self) -> Optional[int]:
        """The pid the current holder wrote, or None (no holder yet, or it is still writing)."""
        try:
            with open(self.path, "rb") as handle:
                text = handle.read(32).strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def __enter__(self) -> "ProcessLock":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


DrainerLock = ProcessLock  # the single-drainer lock (LOCK_FILENAME in the data dir)


def is_locked(path: "os.PathLike[str] | str") -> bool:
    """Whether some process holds the lock at this instant.

    The probe takes the lock for a moment when it is free; a drainer starting in that moment
    exits as if another were running. That is safe because a caller that sees False starts a
    drainer itself.
    """
    try:
        fd = os.open(str(path), os.O_RDWR)
    except OSError:
        return False  # no lock file: no drainer has ever run here
    try:
        if not _try_lock(fd):
            return True
        _unlock(fd)
        return False
    finally:
        os.close(fd)
