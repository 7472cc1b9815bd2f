"""Where PlexSync keeps its state, and how files there are created: owner-only, always.

The data directory is `$PLEXSYNC_DATA_DIR` when set, otherwise `<PluginDir>/data`. The queue
database, the drainer lock, the settings snapshot and the drainer log live there; all of them
may hold job data or connection details, so the directory is 0700 and files are 0600.
"""
from __future__ import annotations

import os

from common.fastjson import dumps, loads

TYPE_CHECKING = False  # typing (~7 ms) and pathlib (~5 ms with urllib) are not paid on every hook
if TYPE_CHECKING:
    from typing import Any, Optional, TypeVar

    PathT = TypeVar("PathT", str, "os.PathLike[str]")

ENV_DATA_DIR = "PLEXSYNC_DATA_DIR"
CONNECTION_FILE = "stash_connection.json"  # how the detached drainer reaches Stash (stash/connection.py)
PLUGIN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # text: the hook imports no pathlib
PLUGIN_ID = "PlexSync"  # the plugin's id in Stash: its settings are stored under it
# The clientMutationId of PlexSync's own rating writes (a rating read from Plex, stash.plays); Stash
# hands the update's input to the hook, which queues nothing for it: sending it back would echo.
OWN_RATING_WRITE = "PlexSync:rating-from-plex"


def resolve_data_dir(plugin_dir: Optional[str] = None) -> str:
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return env
    return os.path.join(plugin_dir or PLUGIN_DIR, "data")


def ensure_private_dir(path: PathT) -> PathT:
    os.makedirs(os.fspath(path), mode=0o700, exist_ok=True)
    return path


def touch_private(path: PathT) -> PathT:
    """Create `path` with mode 0600 if it does not exist (SQLite's -wal/-shm files copy this mode).

    An existing file is not opened at all: closing any descriptor of a file drops every POSIX
    lock this process holds on it, including the locks of an SQLite connection already open on
    it. Without them, another process closing its connection believes it is the last one,
    checkpoints and deletes the WAL, and this process's later commits vanish.
    """
    ensure_private_dir(os.path.dirname(os.fspath(path)) or ".")
    try:
        fd = os.open(os.fspath(path), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return path
    os.close(fd)
    return path


def write_private_json(path: "os.PathLike[str] | str", value: Any) -> None:
    """Write JSON atomically (temp file + rename) with mode 0600."""
    folder, name = os.path.split(os.fspath(path))
    ensure_private_dir(folder or ".")
    temp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(dumps(value))
    os.replace(temp, path)


def read_json(path: "os.PathLike[str] | str", default: Any = None) -> Any:
    """Read a JSON file; a missing or corrupt file gives `default` (state files are rebuilt, never fatal)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return loads(handle.read())
    except (OSError, ValueError):
        return default
