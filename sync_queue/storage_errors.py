"""One line for a user when the queue database itself fails, saying which file and what to do.

SQLite's own words ("file is not a database", "unable to open database file") name neither
the file nor a remedy. Nothing here runs unless something already failed.
"""
from __future__ import annotations

import sqlite3
from typing import Optional


def storage_problem(exc: BaseException, path: Optional[object] = None) -> Optional[str]:
    """The user's message for an SQLite failure, or None when `exc` is not one."""
    if not isinstance(exc, sqlite3.Error):
        return None
    text = " ".join(str(exc).split())
    lowered = text.lower()
    where = f"the queue database {path}" if path else "the queue database (queue.db in PlexSync's data directory)"
    if "locked" in lowered or "busy" in lowered:
        return f"{where} stayed locked by another PlexSync process: run it again; nothing queued was lost"
    if "unable to open" in lowered or "readonly" in lowered or "read-only" in lowered:
        return (f"cannot write {where}: make the data directory writable by the user Stash runs as, "
                "or set PLEXSYNC_DATA_DIR to a writable folder")
    if "full" in lowered or "i/o" in lowered:
        return f"the disk holding {where} is full or failing ({text}): free space, then run it again"
    if "not a database" in lowered or "malformed" in lowered or "corrupt" in lowered:
        return (f"{where} is damaged ({text}): move it aside (PlexSync starts a new one), then run the "
                "'Sync changed scenes' task to queue every scene again")
    return f"{where} failed ({text}): run it again; if it keeps failing, move the file aside and run 'Sync changed scenes'"
