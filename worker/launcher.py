"""Starts the drainer (and watch mode) from a hook or task without making Stash wait for it.

Stash reads a hook's stdout to EOF before it answers the user's save, so a child that inherits
stdout would hold the save until the child exits. The drainer is therefore started with every
standard stream on DEVNULL, in its own session (POSIX) or detached process group (Windows), as
the plain command `python PlexSync.py worker` (what `ps` shows), with no secret on its command
line: it reads settings from Stash itself. Standard library only; `subprocess` is imported only
when a drainer is actually started.
"""
from __future__ import annotations

import os
import sys

from worker.lock import LOCK_FILENAME, is_locked

TYPE_CHECKING = False  # typing costs ~7 ms to import, paid on every hook
if TYPE_CHECKING:
    from typing import List, Optional, Sequence

ENV_DATA_DIR = "PLEXSYNC_DATA_DIR"  # same name as common.datadir.ENV_DATA_DIR
_DETACHED_PROCESS = 0x00000008
_CREATE_NEW_PROCESS_GROUP = 0x00000200
_CREATE_NO_WINDOW = 0x08000000


def drainer_running(data_dir: "os.PathLike[str] | str") -> bool:
    """Whether a drainer holds the lock now. When this says False, call `start_drainer`."""
    return is_locked(os.path.join(os.fspath(data_dir), LOCK_FILENAME))


def drainer_command(plugin_dir: "os.PathLike[str] | str", command: str = "worker") -> List[str]:
    return [sys.executable, os.path.join(os.fspath(plugin_dir), "PlexSync.py"), command]


def start_drainer(data_dir: "os.PathLike[str] | str", plugin_dir: "os.PathLike[str] | str",
                  argv: Optional[Sequence[str]] = None) -> int:
    """Start `python <plugin_dir>/PlexSync.py worker` detached; returns its pid at once.

    `argv` replaces the command (tests). If a drainer is already running, the new one sees the
    lock and exits straight away, so a spare start costs one short-lived process, nothing more.
    """
    return start_detached(data_dir, plugin_dir, argv if argv is not None else drainer_command(plugin_dir))


def start_detached(data_dir: "os.PathLike[str] | str", plugin_dir: "os.PathLike[str] | str",
                   argv: Sequence[str]) -> int:
    """Start `argv` (a `PlexSync.py` command: drainer_command) detached, as the drainer is; its pid."""
    import subprocess

    env = dict(os.environ)
    env[ENV_DATA_DIR] = os.path.realpath(os.fspath(data_dir))
    options: dict = {}
    if os.name == "nt":
        options["creationflags"] = _DETACHED_PROCESS | _CREATE_NEW_PROCESS_GROUP | _CREATE_NO_WINDOW
    else:
        options["start_new_session"] = True
    process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, close_fds=True, cwd=os.fspath(plugin_dir), env=env,
                               **options)
    return process.pid


def ensure_drainer(data_dir: "os.PathLike[str] | str", plugin_dir: "os.PathLike[str] | str") -> bool:
    """Start a drainer unless one is running; True when one was started. Call after enqueueing."""
    if drainer_running(data_dir):
        return False
    start_drainer(data_dir, plugin_dir)
    return True
