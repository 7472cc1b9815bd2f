"""PlexTarget: the one object the worker holds to make a Plex item say what a Stash scene says.

It ties the rooms together — `scene_matching.py` (where is the scene in Plex?), `prefetch.py`
(the batch's hashes and shared item reads), `item_writes.py` (what must change, and the writes)
and `reads.py` (what tasks read: `target.reads`) — and owns the request budget: an unchanged
scene costs no request; a changed one costs a read of the item, one PUT (the rating rides in
it), and one upload per changed image; `prepare()` reads the items of a whole batch in one
bounded request first, so the read is shared. `settle()`, once per batch, tidies the
collections PlexSync made (plex/collections.py). `preview_scene()` runs the same steps up to the
writes and answers what they would change (plex/preview.py). It raises only `common.errors`
classes and hands back `SyncRecord`s and `MatchResult`s, never plexapi objects; it knows
nothing of the queue.

Threads: `sync_scene` may run on several threads at once (the worker writes a batch
concurrently). The library index refresh and matching run under one lock, and every read and
write of one Plex item runs under that item's lock, so two writes to the same item never overlap
and a second scene of the same item reads what the first one wrote.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, TypeVar

from common.errors import NotInPlexYet, PermanentError, SyncError, wider_than_item
from common.models import Scene, SyncRecord
from common.settings import Settings
from plex.client import PlexClient
from plex.collections import CollectionKeeper
from plex.errors import ItemVanished
from plex.index import Database, LibraryIndex
from plex.index_refresh import MAX_AGE, PAGE_SIZE, RECENT_INTERVAL, SCAN_INTERVAL, IndexRefresher
from plex.item_writes import ItemWrites, Keep, keep_nothing
from plex.matcher import MatchResult, Probe
from plex.prefetch import BatchPrefetch
from plex.preview import FAILED, UNCHANGED, UNMATCHED, ScenePlan, ScenePreview, describe
from plex.reads import PlexReads
from plex.scene_matching import SceneMatching, gone
from plex.writer import ItemState

T = TypeVar("T")


class ItemLocks:
    """One lock per Plex item in use, created on demand and dropped when nobody holds it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: Dict[int, Tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, rating_key: int) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(rating_key, (threading.Lock(), 0))
            self._locks[rating_key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[rating_key]
                if users <= 1:
                    del self._locks[rating_key]
                else:
                    self._locks[rating_key] = (lock, users - 1)


class PlexTarget:
    """One per drainer. Build with `PlexTarget.connect(...)`; every method raises classified errors."""

    def __init__(self, settings: Settings, client: PlexClient, index: LibraryIndex, library: IndexRefresher,
                 fetch_image: Callable[[str], bytes], clock: Callable[[], float] = time.time):
        self.settings = settings
        self.client = client
        self.index = index
        self.matching = SceneMatching(settings, index, library, clock)
        self.prefetch = BatchPrefetch(settings, client, self.matching)
        self.collections = CollectionKeeper(client, index.database, fetch_image)
        self.writes = ItemWrites(settings, client, index, fetch_image, self.collections, clock)
        self.reads = PlexReads(client, index, library)
        self._items = ItemLocks()

    @classmethod
    def connect(cls, settings: Settings, data_dir: Path, database: Database, fetch_image: Callable[[str], bytes], *,
                clock: Callable[[], float] = time.time, page_size: int = PAGE_SIZE, max_age: float = MAX_AGE,
                recent_interval: float = RECENT_INTERVAL, scan_interval: float = SCAN_INTERVAL) -> "PlexTarget":
        """Open Plex (GET /), check the libraries setting (GET /library/sections), open the index
        on `database` (the process's one handle, which the caller keeps and closes)."""
        client = PlexClient.connect(settings, Path(data_dir))
        index: Optional[LibraryIndex] = None
        try:
            index = LibraryIndex(database)
            library = IndexRefresher(client, index, settings.libraries, clock=clock, page_size=page_size,
                                   max_age=max_age, recent_interval=recent_interval, scan_interval=scan_interval)
            library.load_sections()
        except BaseException:
            client.close()
            if index is not None:
                index.close()
            raise
        return cls(settings, client, index, library, fetch_image, clock)

    def probe(self) -> None:
        """A cheap GET / : raises PlexUnreachable, TokenRejected or TransientError."""
        self.client.probe()

    def ping(self) -> None:
        """The breaker's probe while Plex is down: GET /identity."""
        self.client.identity()

    def refresh_index(self, full: bool = False) -> int:
        """Rebuild the index (full, or when stale) or read the newest items; returns files read."""
        return self.matching.refresh_index(full)

    def match(self, scene: Scene, trace: Optional[List[Probe]] = None) -> MatchResult:
        """Which Plex item is this scene (no writes): index first, newest items before "missing"."""
        return self.matching.match(scene, trace)

    def request_scan(self, scene: Scene) -> Optional[str]:
        """Under `trigger_plex_scan`, ask Plex to scan the folder of the scene's first file."""
        return self.matching.request_scan(scene)

    def would_write(self, scene: Scene, previous: Optional[SyncRecord]) -> bool:
        """Whether a sync of `scene` now would write to Plex (no request: the hash check `sync_scene` makes)."""
        return previous is None or not self.prefetch.unchanged(scene, previous, self.prefetch.digest(scene), False)

    def prepare(self, scenes: Sequence[Scene], previous: Dict[int, Optional[SyncRecord]], force: bool = False) -> None:
        """Read the matched items of the scenes that will be written, several per request (optional)."""
        self.prefetch.prepare(scenes, previous, force)

    def settle(self) -> None:
        """After a batch: delete the collections PlexSync made and emptied, send changed collection
        posters and summaries (plex/collections.py). Never raises."""
        self.collections.settle()

    def sync_scene(self, scene: Scene, previous: Optional[SyncRecord], force: bool = False,
                   keep: Keep = keep_nothing) -> SyncRecord:
        """Make the scene's Plex item say what Stash says; returns the record for the caller to keep.

        When the metadata reached Plex but an image did not, `keep` gets the record of what Plex
        holds before the image's error is raised (its retry uploads only the image)."""
        digest = self.prefetch.digest(scene)
        if previous is not None and self.prefetch.unchanged(scene, previous, digest, force):
            return previous
        result = self.matching.resolve(scene, previous)
        return self._on_item(scene, result, lambda item: self.writes.write(scene, previous, digest, item, force, keep))

    def preview_scene(self, scene: Scene, previous: Optional[SyncRecord], force: bool = False) -> ScenePreview:
        """What `sync_scene` would do, computed by the same steps, without writing to Plex.

        Reads only (the matched item, the newest items before "not in Plex yet", the screenshot
        from Stash); never asks Plex to scan and never remembers what was written. Plex-wide
        failures are raised as `sync_scene` raises them; a scene's own failure is its answer."""
        if previous is not None and self.prefetch.unchanged(scene, previous, self.prefetch.digest(scene), force):
            return ScenePreview(scene.id, UNCHANGED, previous.rating_key, previous.section_id,
                                reason="unchanged since the last sync", title=scene.title)
        try:
            result = self.matching.resolve(scene, previous, scan=False)
        except (NotInPlexYet, PermanentError) as exc:
            would_scan = isinstance(exc, NotInPlexYet) and previous is None and self.matching.would_scan(scene)
            note = "; a sync would ask Plex to scan its folder (trigger_plex_scan)" if would_scan else ""
            return ScenePreview(scene.id, UNMATCHED, reason=f"{exc}{note}", title=scene.title)

        def plan(item: ItemState) -> Tuple[ItemState, ScenePlan]:
            return item, self.writes.plan(scene, previous, item, force)

        try:
            item, planned = self._on_item(scene, result, plan)
        except NotInPlexYet as exc:
            return ScenePreview(scene.id, UNMATCHED, reason=str(exc), title=scene.title)
        except SyncError as exc:
            if wider_than_item(exc):
                raise
            return ScenePreview(scene.id, FAILED, int(result.rating_key or 0), int(result.section_id or 0),
                                reason=str(exc), title=scene.title)
        return describe(scene.id, item, planned.want, planned.edit, planned.images, result.step, scene.title)

    def _on_item(self, scene: Scene, result: MatchResult, use: Callable[[ItemState], T]) -> T:
        """`use(item)` on the matched item read fresh, under its lock; a vanished item is matched again."""
        rating_key = int(result.rating_key or 0)
        with self._items.hold(rating_key):
            try:
                item = self.prefetch.take(rating_key) or self.client.item(rating_key)
            except ItemVanished:
                self.index.remove_item(rating_key)
            else:
                return use(item)
        again_key = self.matching.match_again(scene, result)
        with self._items.hold(again_key):
            try:
                item = self.client.item(again_key)
            except ItemVanished:
                self.index.remove_item(again_key)
                raise gone(scene, result) from None
            return use(item)

    def close(self) -> None:
        self.client.close()
        self.index.close()
