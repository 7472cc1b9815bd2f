"""Which Plex item is this scene: the index first, the newest items before "not in Plex yet".

Matching and the index refresh run under one lock (threads of a batch share the index). A match
that finds no item reads Plex's newest items once and tries again; a scene whose matched item
vanished is matched once more after reading the newest items. Only reads, except `request_scan`
(under `trigger_plex_scan`: ask Plex to scan the folder of a scene it does not have yet).
"""
from __future__ import annotations

import threading
import time
from typing import Callable, List, Optional, Sequence

from common.errors import NotInPlexYet, PermanentError
from common.models import Scene, SyncRecord
from common.pathmap import map_path
from common.settings import WHERE, Settings
from plex.index import LibraryIndex
from plex.index_refresh import IndexRefresher
from plex.matcher import AMBIGUOUS, MATCHED, MISSING, MatchResult, Probe, match_files

NAMED_PATHS = 5


def paths_text(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:NAMED_PATHS])
    return shown + (f" and {len(paths) - NAMED_PATHS} more" if len(paths) > NAMED_PATHS else "")


class SceneMatching:
    def __init__(self, settings: Settings, index: LibraryIndex, library: IndexRefresher,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.index = index
        self.library = library
        self.clock = clock
        self.rules = settings.path_rules
        self.lock = threading.RLock()  # index refresh, matching and scans: one thread at a time

    def refresh_index(self, full: bool = False) -> int:
        """Rebuild the index (full, or when stale) or read the newest items; returns files read."""
        if full or self.index.is_stale(self.library.signature(), self.clock(), self.library.max_age):
            return self.library.rebuild()
        return self.library.refresh_recent(force=True)

    def match(self, scene: Scene, trace: Optional[List[Probe]] = None) -> MatchResult:
        """Which Plex item is this scene (no writes); `trace` (explain) receives the lookups of the
        match that decided."""
        if not scene.files:
            return MatchResult(MISSING)
        with self.lock:
            self.library.ensure_fresh()
            result = match_files(scene.files, self.rules, self.index, self.settings.strict_matching, trace)
            if result.status == MISSING and self.library.refresh_recent():
                if trace is not None:
                    trace.clear()
                result = match_files(scene.files, self.rules, self.index, self.settings.strict_matching, trace)
            return result

    def match_indexed(self, scene: Scene) -> MatchResult:
        """The match from the index alone (kept fresh), no newest-items read: for a batch read."""
        with self.lock:
            self.library.ensure_fresh()
            return match_files(scene.files, self.rules, self.index, self.settings.strict_matching)

    def resolve(self, scene: Scene, previous: Optional[SyncRecord], scan: bool = True) -> MatchResult:
        """The scene's one item; NotInPlexYet (after asking Plex to scan, when `scan` and the
        setting say so) or PermanentError (several items) otherwise."""
        if not scene.files:
            raise NotInPlexYet(f"scene {scene.id} has no files in Stash, so it cannot be found in Plex")
        result = self.match(scene)
        if result.status == MATCHED:
            return result
        if result.status == AMBIGUOUS:
            raise PermanentError(
                f"scene {scene.id} matches {len(result.candidates)} Plex files ({result.step} match): "
                f"{paths_text(result.candidates)}; remove the duplicate in Plex or turn strict_matching off "
                f"in {WHERE}")
        folder = self.request_scan(scene) if previous is None and scan else None
        note = f"; asked Plex to scan {folder}" if folder else ""
        raise NotInPlexYet(f"scene {scene.id} is not in Plex yet (looked for {paths_text(result.mapped_paths)}){note}")

    def would_scan(self, scene: Scene) -> bool:
        """Would `request_scan` ask Plex to scan (without asking)?"""
        return bool(scene.files and self.settings.trigger_plex_scan
                    and self.library.section_for(map_path(scene.files[0].path, self.rules)) is not None)

    def request_scan(self, scene: Scene) -> Optional[str]:
        """Under `trigger_plex_scan`, ask Plex to scan the folder of the scene's first file (as Plex sees it).

        Returns the folder asked for, or None (setting off, no file, or no chosen library holds it).
        At most one request per folder per scan interval, so calling it again is cheap.
        """
        if not self.settings.trigger_plex_scan or not scene.files:
            return None
        with self.lock:
            return self.library.request_scan(map_path(scene.files[0].path, self.rules))

    def match_again(self, scene: Scene, result: MatchResult) -> int:
        """After the matched ratingKey vanished: read the newest items and match once more."""
        with self.lock:
            self.library.refresh_recent(force=True)
            again = match_files(scene.files, self.rules, self.index, self.settings.strict_matching)
        if again.status == MATCHED and again.rating_key != result.rating_key:
            return int(again.rating_key or 0)
        raise gone(scene, result)


def gone(scene: Scene, result: MatchResult) -> NotInPlexYet:
    return NotInPlexYet(f"scene {scene.id}: its Plex item {result.rating_key} is gone; "
                        f"waiting for Plex to list {paths_text(result.mapped_paths)} again")
