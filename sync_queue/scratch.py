"""A throw-away copy of the queue database, for runs that must leave PlexSync's state as it was.

The preview does everything a sync does, and a sync updates the Plex path index, reads the
sync state and "what was last written" memory, and could trim them. Running the preview on a
copy (SQLite's online backup, consistent even while a drainer writes) lets it use the very same
code with its writes landing in a temporary file that is deleted afterwards: the real queue,
dead letters, sync state and index are never written, and a data dir without a database gets
none. Disk, not memory: a 100,000-item index stays out of RAM.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sync_queue.db import Database
from sync_queue.rows import connect, db_path


def copy_database(source: Path, target: Path) -> None:
    """Copy the database at `source` into a new file `target` (the source is only read)."""
    reader = connect(source)
    try:
        writer = connect(target)
        try:
            reader.backup(writer)
        finally:
            writer.close()
    finally:
        reader.close()


@contextmanager
def scratch_copy(data_dir: "os.PathLike[str] | str") -> Iterator[Database]:
    """A Database on a temporary copy of `data_dir`'s queue database (empty when there is none)."""
    source = db_path(data_dir)
    with tempfile.TemporaryDirectory(prefix="plexsync-preview-") as temporary:
        if source.exists():
            copy_database(source, db_path(temporary))
        database = Database(temporary)
        try:
            yield database
        finally:
            database.close()
