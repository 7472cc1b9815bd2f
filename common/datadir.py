"""Where PlexSync keeps its state, and how files there are created: owner-only, always.

The data directory is `$PLEXSYNC_DATA_DIR` when set, otherwise `<PluginDir>/data`. The queue
database, the drainer lock, the settings snapshot and the drainer log live there; all of them
may hold job data or connection details, so the directory is 0700 and files are 0600.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

TYPE_CHECKING = False  # typing costs ~7 ms to import, paid on every hook
if TYPE_CHECKING:
    from typing import Any, Optional

ENV_DATA_DIR = "PLEXSYNC_DATA_DIR"
CONNECTION_FILE = "stash_connection.json"  # how the detached drainer reaches Stash (stash/connection.py)
PLUGIN_DIR = Path(__file__).resolve().parent.parent


def resolve_data_dir(plugin_dir: Optional[str] = None) -> Path:
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env)
    return Path(plugin_dir) / "data" if plugin_dir else PLUGIN_DIR / "data"


def ensure_private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def touch_private(path: Path) -> Path:
    """Create `path` with mode 0600 if it does not exist (SQLite's -wal/-shm files copy this mode).

    An existing file is not opened at all: closing any descriptor of a file drops every POSIX
    lock this process holds on it, including the locks of an SQLite connection already open on
    it. Without them, another process closing its connection believes it is the last one,
    checkpoints and deletes the WAL, and this process's later commits vanish.
    """
    ensure_private_dir(path.parent)
    try:
        fd = os.open(str(path), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return path
    os.close(fd)
    return path


def write_private_json(path: Path, value: Any) -> None:
    """Write JSON atomically (temp file + rename) with mode 0600."""
    ensure_private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(str(temp), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(value, handle)
    os.replace(temp, path)


def read_json(path: Path, default: Any = None) -> Any:
    """Read a JSON file; a missing or corrupt file gives `default` (state files are rebuilt, never fatal)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return default
