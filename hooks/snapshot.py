"""What the hook knows about the settings without asking Stash: a small file in the data dir.

Settings live in Stash's configuration and cost a GraphQL request to read, too slow for a
hook that runs inline in every save. Every task and drainer run writes `settings.json`
(`write_hook_snapshot`, called by entry/wiring.py) with only what the hook needs; the hook reads it with
the standard library. A missing or unreadable snapshot means "enabled": an edit queued while
sync is off costs one skipped job later, an edit dropped while sync is on is lost.
"""
from __future__ import annotations

import os

from common.datadir import write_private_json
from common.fastjson import loads

SNAPSHOT_FILE = "settings.json"
SNAPSHOT_VERSION = 1
_MAX_BYTES = 64 * 1024


def snapshot_path(data_dir: str | os.PathLike) -> str:
    return os.path.join(os.fspath(data_dir), SNAPSHOT_FILE)


def snapshot_document(enabled: bool, written_at: float) -> dict:
    """The snapshot as stored."""
    return {"version": SNAPSHOT_VERSION, "enabled": bool(enabled), "written_at": float(written_at)}


def write_hook_snapshot(data_dir: str | os.PathLike, enabled: bool, now: float) -> str:
    """Write what the hook needs (the enabled flag and when it was read), owner-only; the path."""
    path = snapshot_path(data_dir)
    write_private_json(path, snapshot_document(enabled, now))
    return path


def read_hook_snapshot(data_dir: str | os.PathLike) -> dict:
    """`{"enabled": bool, "written_at": float | None}`; a missing or corrupt file reads as enabled."""
    result: dict = {"enabled": True, "written_at": None}
    try:
        with open(snapshot_path(data_dir), "rb") as handle:
            raw = handle.read(_MAX_BYTES + 1)
        if len(raw) > _MAX_BYTES:
            return result
        document = loads(raw.decode("utf-8"))
    except (OSError, ValueError):
        return result
    if not isinstance(document, dict):
        return result
    if isinstance(document.get("enabled"), bool):
        result["enabled"] = document["enabled"]
    written_at = document.get("written_at")
    if isinstance(written_at, (int, float)) and not isinstance(written_at, bool):
        result["written_at"] = float(written_at)
    return result


def hook_enabled(data_dir: str | os.PathLike) -> bool:
    """Whether the hook should queue scene changes (True unless a snapshot says off)."""
    return bool(read_hook_snapshot(data_dir)["enabled"])
