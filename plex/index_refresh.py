"""Keeps the path index in step with Plex, spending as few requests as possible.

Which libraries: the `plex_library` setting (comma-separated names; empty = every movie and
show library); an unknown name is a configuration error listing the names Plex has. A full
build is one paged pass per library (`type=1` for movies, `type=4` for the episodes of a show
library): ceil(items / page size) requests per library plus one for the sections. Staleness:
the index is rebuilt when it is older than `max_age` (default 6 h), when the chosen libraries
(or their folders, or the server) change, or on request. Before a scene is declared "not in
Plex", the newest items of each library are read (`sort=addedAt:desc`, one page per library
unless a page holds only unseen items), at most once per `recent_interval` seconds.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple

from common.errors import ConfigurationError
from common.log import get_logger
from common.pathmap import is_windows_path, normalize
from common.settings import WHERE
from plex.client import PlexClient, Section
from plex.index import LibraryIndex

log = get_logger("plex.index_refresh")
PAGE_SIZE = 500
RECENT_PAGE = 100
RECENT_MAX_PAGES = 5
MAX_AGE = 6 * 3600.0
RECENT_INTERVAL = 15.0
SCAN_INTERVAL = 600.0
SYNCABLE = ("movie", "show")


def select_sections(sections: Sequence[Section], names: Sequence[str]) -> List[Section]:
    """The sections named in settings (exact title, then ignoring case), or every movie and show library."""
    syncable = [s for s in sections if s.type in SYNCABLE]
    if not names:
        return syncable
    chosen: List[Section] = []
    unknown: List[str] = []
    for name in names:
        found = ([s for s in syncable if s.title == name]
                 or [s for s in syncable if s.title.casefold() == name.casefold()])
        if not found:
            unknown.append(name)
        chosen.extend(s for s in found if s not in chosen)
    if unknown:
        available = ", ".join(repr(s.title) for s in syncable) or "none"
        raise ConfigurationError(
            f"plex_library names {', '.join(repr(n) for n in unknown)} that Plex does not have as a movie or show "
            f"library; Plex has: {available}. Fix it in {WHERE}")
    return chosen


def signature(sections: Sequence[Section], machine_identifier: str) -> str:
    """What the index was built for: this server, these libraries and their folders."""
    parts = [f"{s.key}:{s.type}:{s.title}:{';'.join(sorted(s.locations))}" for s in sorted(sections, key=lambda s: s.key)]
    text = "|".join([machine_identifier] + parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _under(path: str, folder: str) -> bool:
    key, base = normalize(path), normalize(folder)
    if is_windows_path(folder):
        key = key.casefold()
    return key == base or key.startswith(base.rstrip("/") + "/")


@dataclass
class IndexRefresher:
    client: PlexClient
    index: LibraryIndex
    names: Tuple[str, ...]
    sections: List[Section] = field(default_factory=list)
    clock: Callable[[], float] = time.time
    page_size: int = PAGE_SIZE
    max_age: float = MAX_AGE
    recent_interval: float = RECENT_INTERVAL
    scan_interval: float = SCAN_INTERVAL
    _sections_read_at: float = field(default=0.0, init=False)
    _recent_at: float = field(default=float("-inf"), init=False)

    def load_sections(self) -> List[Section]:
        """Read Plex's sections (one request) and choose ours; ConfigurationError for unknown names."""
        self.sections = select_sections(self.client.sections(), self.names)
        self._sections_read_at = self.clock()
        return self.sections

    def signature(self) -> str:
        return signature(self.sections, self.client.machine_identifier)

    def ensure_fresh(self) -> None:
        """Rebuild the index if it is stale; free when it is warm."""
        if self.index.is_stale(self.signature(), self.clock(), self.max_age):
            self.rebuild()

    def rebuild(self) -> int:
        """One paged pass over every chosen library; returns the number of files indexed."""
        now = self.clock()
        if now - self._sections_read_at > 60.0 or not self.sections:
            self.load_sections()
        gen = self.index.begin_build()
        for section in self.sections:
            start = 0
            while True:
                page = self.client.page(section, start, self.page_size)
                self.index.add_rows(section.key, ((f.rating_key, f.path, f.size, f.added_at) for f in page.files), gen)
                start += self.page_size
                if page.items == 0 or start >= page.total:
                    break
        count = self.index.finish_build(gen, [s.key for s in self.sections], self.signature(), self.clock())
        self._recent_at = self.clock()
        log.info("Plex index built: %d files in %d libraries", count, len(self.sections))
        return count

    def refresh_recent(self, force: bool = False) -> int:
        """Read the newest items of each library into the index; returns how many files were read."""
        now = self.clock()
        if not force and now - self._recent_at < self.recent_interval:
            return 0
        self._recent_at = now
        read = 0
        for section in self.sections:
            known = self.index.latest_added(section.key)
            for number in range(RECENT_MAX_PAGES):
                page = self.client.page(section, number * RECENT_PAGE, RECENT_PAGE, newest_first=True)
                rows = [(f.rating_key, f.path, f.size, f.added_at) for f in page.files]
                read += self.index.add_rows(section.key, rows)
                all_new = bool(rows) and all((f.added_at or 0) > known for f in page.files)
                if not all_new or (number + 1) * RECENT_PAGE >= page.total:
                    break
        return read

    def section_for(self, plex_path: str) -> Optional[Section]:
        """The chosen library whose folder holds `plex_path` (the deepest one)."""
        best: Optional[Tuple[int, Section]] = None
        for section in self.sections:
            for location in section.locations:
                if _under(plex_path, location) and (best is None or len(location) > best[0]):
                    best = (len(location), section)
        return best[1] if best else None

    def request_scan(self, plex_path: str) -> Optional[str]:
        """Ask Plex to scan the folder of `plex_path` (at most once per scan_interval per folder)."""
        cut = max(plex_path.rfind("/"), plex_path.rfind("\\"))
        folder = plex_path[:cut] if cut > 0 else plex_path[:1]
        section = self.section_for(plex_path)
        if section is None:
            return None
        key = f"scan:{section.key}:{normalize(folder)}"
        now = self.clock()
        last = float(self.index.meta(key, "0") or 0)
        if 0 <= now - last < self.scan_interval:
            return folder
        self.client.scan(section, folder)
        self.index.prune_meta("scan:", now - self.scan_interval)
        self.index.set_meta(key, now)
        return folder

