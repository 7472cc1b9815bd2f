"""PlexTarget: the one object the worker holds to make a Plex item say what a Stash scene says.

It ties the parts together — index (where is the scene in Plex?), fields (what should Plex
say?), writer (what must change?), images (did the screenshot change?) — and owns the request
budget: an unchanged scene costs no request; a changed one costs a read of the item, one PUT
(the rating rides in it), and one upload per changed image; `prepare()` reads the items of a
whole batch in one bounded request first, so the read is shared. `preview_scene()` runs the
same steps up to the writes and answers what they would change (plex/preview.py). It raises
only `common.errors` classes and hands back `SyncRecord`s and `MatchResult`s, never plexapi
objects; it knows nothing of the queue.

Threads: `sync_scene` may run on several threads at once (the worker writes a batch
concurrently). The library index refresh and matching run under one lock, and every read and
write of one Plex item runs under that item's lock, so two writes to the same item never overlap
and a second scene of the same item reads what the first one wrote.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, TypeVar

from common.errors import (
    ConfigurationError,
    NotInPlexYet,
    PermanentError,
    PlexUnreachable,
    RequestTooLong,
    SyncError,
)
from common.log import get_logger
from common.models import Scene, SyncRecord
from common.pathmap import map_path
from common.settings import WHERE, Settings
from plex.client import PlexClient, key_batches
from plex.collections import CollectionKeeper
from plex.errors import ItemVanished
from plex.fields import ACTOR, COLLECTION, SUMMARY, for_item_type, metadata_hash, wanted
from plex.images import ImagePlan, needs_download, plan_images
from plex.index import Database, LibraryIndex
from plex.index_refresh import MAX_AGE, PAGE_SIZE, RECENT_INTERVAL, SCAN_INTERVAL, IndexRefresher
from plex.matcher import AMBIGUOUS, MATCHED, MISSING, MatchResult, Probe, match_files
from plex.preview import FAILED, UNCHANGED, UNMATCHED, ScenePlan, ScenePreview, describe
from plex.writer import ART_LOCK, POSTER_LOCK, QUERY_MAX, EditPlan, ItemState, packed, plan_edit, query_len

log = get_logger("plex")
T = TypeVar("T")
NAMED_PATHS = 5
MIN_QUERY = 1_000  # a PUT refused as too long is halved down to this


def _fields_of(params: Dict[str, Any]) -> Tuple[str, ...]:
    """The field names edit parameters are about (`genre[0].tag.tag` -> genre)."""
    return tuple(sorted({key.split(".")[0].split("[")[0] for key in params}))


def _paths_text(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:NAMED_PATHS])
    return shown + (f" and {len(paths) - NAMED_PATHS} more" if len(paths) > NAMED_PATHS else "")


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
        self.library = library
        self.fetch_image = fetch_image
        self.clock = clock
        self._rules = settings.path_rules
        self._library_lock = threading.RLock()  # index refresh, matching and scans: one thread at a time
        self._items = ItemLocks()
        self._prefetched: Dict[int, ItemState] = {}
        self._digests: Dict[int, Tuple[Scene, str]] = {}  # of the batch `prepare` saw
        self._prefetch_lock = threading.Lock()
        self.collections = CollectionKeeper(client, index.database, fetch_image)
        self._episode_actors_alone = False  # set once Plex refused an episode edit carrying actors

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

    # -- reads ------------------------------------------------------------------------------
    def probe(self) -> None:
        """A cheap GET / : raises PlexUnreachable, ConfigurationError (token) or TransientError."""
        self.client.probe()

    def ping(self) -> None:
        """The breaker's probe while Plex is down: GET /identity."""
        self.client.identity()

    def refresh_index(self, full: bool = False) -> int:
        """Rebuild the index (full, or when stale) or read the newest items; returns files read."""
        if full or self.index.is_stale(self.library.signature(), self.clock(), self.library.max_age):
            return self.library.rebuild()
        return self.library.refresh_recent(force=True)

    def match(self, scene: Scene, trace: Optional[List[Probe]] = None) -> MatchResult:
        """Which Plex item is this scene (no writes): index first, newest items before "missing".

        `trace` (explain) receives the lookups of the match that decided."""
        if not scene.files:
            return MatchResult(MISSING)
        with self._library_lock:
            self.library.ensure_fresh()
            result = match_files(scene.files, self._rules, self.index, self.settings.strict_matching, trace)
            if result.status == MISSING and self.library.refresh_recent():
                if trace is not None:
                    trace.clear()
                result = match_files(scene.files, self._rules, self.index, self.settings.strict_matching, trace)
            return result

    def would_write(self, scene: Scene, previous: Optional[SyncRecord]) -> bool:
        """Whether a sync of `scene` now would write to Plex (no request: the hash check `sync_scene` makes)."""
        return previous is None or not self._unchanged(scene, previous, self._digest(scene), False)

    def request_scan(self, scene: Scene) -> Optional[str]:
        """Under `trigger_plex_scan`, ask Plex to scan the folder of the scene's first file (as Plex sees it).

        Returns the folder asked for, or None (setting off, no file, or no chosen library holds it).
        At most one request per folder per scan interval, so calling it again is cheap.
        """
        if not self.settings.trigger_plex_scan or not scene.files:
            return None
        with self._library_lock:
            return self.library.request_scan(map_path(scene.files[0].path, self._rules))

    # -- the sync ---------------------------------------------------------------------------
    def _digest(self, scene: Scene) -> str:
        """The scene's metadata hash; computed once per scene of a prepared batch (it is most of
        what an unchanged scene costs)."""
        with self._prefetch_lock:
            known = self._digests.get(scene.id)
        if known is not None and known[0] is scene:
            return known[1]
        mapped = [map_path(f.path, self._rules) for f in scene.files]
        return metadata_hash(wanted(scene, self.settings), mapped, self.settings.preserve_plex_edits)

    def _unchanged(self, scene: Scene, previous: Optional[SyncRecord], digest: str, force: bool) -> bool:
        return (not force and previous is not None and previous.metadata_hash == digest
                and not needs_download(scene, previous, self.settings))

    def prepare(self, scenes: Sequence[Scene], previous: Dict[int, Optional[SyncRecord]], force: bool = False) -> None:
        """Read the matched items of the scenes that will be written, several per request.

        Optional: `sync_scene` reads an item itself when it was not read here. Only a Plex-wide
        failure (unreachable, token refused) is raised; any other failure of a batch read just
        leaves its items to be read one by one.
        """
        keys: List[int] = []
        with self._prefetch_lock:
            self._digests = {}
        digests = {scene.id: (scene, self._digest(scene)) for scene in scenes}
        with self._prefetch_lock:
            self._digests = digests
        with self._library_lock:
            for scene in scenes:
                if not scene.files or self._unchanged(scene, previous.get(scene.id), digests[scene.id][1], force):
                    continue
                self.library.ensure_fresh()
                result = match_files(scene.files, self._rules, self.index, self.settings.strict_matching)
                if result.status == MATCHED and result.rating_key:
                    keys.append(int(result.rating_key))
        keys = list(dict.fromkeys(keys))
        fetched: Dict[int, ItemState] = {}
        if len(keys) > 1:  # one item costs one read either way
            for batch in key_batches(keys):
                try:
                    fetched.update(self.client.items(batch))
                except (PlexUnreachable, ConfigurationError):
                    raise
                except SyncError as exc:
                    log.debug("batch read of %d items failed (%s); reading them one by one", len(batch), exc)
        with self._prefetch_lock:
            self._prefetched = fetched

    def settle(self) -> None:
        """After a batch: delete the collections PlexSync made and emptied, send changed collection
        posters and summaries (plex/collections.py). Never raises."""
        self.collections.settle()

    def _take_prefetched(self, rating_key: int) -> Optional[ItemState]:
        with self._prefetch_lock:
            return self._prefetched.pop(rating_key, None)

    def sync_scene(self, scene: Scene, previous: Optional[SyncRecord], force: bool = False) -> SyncRecord:
        """Make the scene's Plex item say what Stash says; returns the record for the caller to keep."""
        digest = self._digest(scene)
        if previous is not None and self._unchanged(scene, previous, digest, force):
            return previous
        result = self._resolve(scene, previous)
        return self._on_item(scene, result, lambda item: self._write(scene, previous, digest, item, force))

    def preview_scene(self, scene: Scene, previous: Optional[SyncRecord], force: bool = False) -> ScenePreview:
        """What `sync_scene` would do, computed by the same steps, without writing to Plex.

        Reads only (the matched item, the newest items before "not in Plex yet", the screenshot
        from Stash); never asks Plex to scan and never remembers what was written. Plex-wide
        failures are raised as `sync_scene` raises them; a scene's own failure is its answer."""
        digest = self._digest(scene)
        if previous is not None and self._unchanged(scene, previous, digest, force):
            return ScenePreview(scene.id, UNCHANGED, previous.rating_key, previous.section_id,
                                reason="unchanged since the last sync", title=scene.title)
        try:
            result = self._resolve(scene, previous, scan=False)
        except (NotInPlexYet, PermanentError) as exc:
            would_scan = (isinstance(exc, NotInPlexYet) and previous is None and scene.files
                          and self.settings.trigger_plex_scan  # as request_scan decides, without asking
                          and self.library.section_for(map_path(scene.files[0].path, self._rules)) is not None)
            note = "; a sync would ask Plex to scan its folder (trigger_plex_scan)" if would_scan else ""
            return ScenePreview(scene.id, UNMATCHED, reason=f"{exc}{note}", title=scene.title)

        def plan(item: ItemState) -> Tuple[ItemState, ScenePlan]:
            return item, self.plan_scene(scene, previous, item, force)

        try:
            item, planned = self._on_item(scene, result, plan)
        except (PlexUnreachable, ConfigurationError):
            raise
        except NotInPlexYet as exc:
            return ScenePreview(scene.id, UNMATCHED, reason=str(exc), title=scene.title)
        except SyncError as exc:
            return ScenePreview(scene.id, FAILED, int(result.rating_key or 0), int(result.section_id or 0),
                                reason=str(exc), title=scene.title)
        return describe(scene.id, item, planned.want, planned.edit, planned.images, result.step, scene.title)

    def _on_item(self, scene: Scene, result: MatchResult, use: Callable[[ItemState], T]) -> T:
        """`use(item)` on the matched item read fresh, under its lock; a vanished item is matched again."""
        rating_key = int(result.rating_key or 0)
        with self._items.hold(rating_key):
            try:
                item = self._take_prefetched(rating_key) or self.client.item(rating_key)
            except ItemVanished:
                self.index.remove_item(rating_key)
            else:
                return use(item)
        again_key = self._match_again(scene, result)
        with self._items.hold(again_key):
            try:
                item = self.client.item(again_key)
            except ItemVanished:
                self.index.remove_item(again_key)
                raise self._gone(scene, result) from None
            return use(item)

    def plan_scene(self, scene: Scene, previous: Optional[SyncRecord], item: ItemState, force: bool) -> ScenePlan:
        """Everything a sync of `scene` would send to `item`: the edit, the rating, the images.

        The one place both the sync (`_write`) and the preview compute it, so they cannot differ.
        May download the screenshot from Stash (when it changed); sends nothing to Plex."""
        want = for_item_type(wanted(scene, self.settings), item.type)
        same_item = previous if previous is not None and previous.rating_key == item.rating_key else None
        images = plan_images(scene, same_item, self.settings, self.fetch_image, force)
        locks = ((POSTER_LOCK,) if images.poster else ()) + ((ART_LOCK,) if images.art else ())
        edit = plan_edit(want, item, self.index.written(item.rating_key), self.settings.preserve_plex_edits, locks)
        return ScenePlan(want, images, edit, same_item)

    def _write(self, scene: Scene, previous: Optional[SyncRecord], digest: str, item: ItemState,
               force: bool) -> SyncRecord:
        """The writes for one item, under its lock: one PUT (normally, the rating in it), then images."""
        planned = self.plan_scene(scene, previous, item, force)
        images, plan, same_item = planned.images, planned.edit, planned.same_item
        adding = plan.added.get(COLLECTION, ())
        made = self.collections.missing(item.section_id, adding) if adding else []
        try:
            # Metadata first: an image that fails must never hold back or undo the fields.
            self._write_fields(scene, item, plan)
            self.collections.created(item.section_id, [name for name in made if name in plan.written.get(COLLECTION, ())],
                                     self.clock())
            self.collections.left(item.section_id, plan.removed.get(COLLECTION, ()))
            self.collections.wanted_art(item.section_id, planned.want.collection_art)
            # Remembered as soon as Plex holds it: a failed upload below must not make our own
            # locked fields look like hand edits on the retry.
            self.index.set_written(item.rating_key, plan.written, self.clock())
        except ItemVanished:
            self.index.remove_item(item.rating_key)
            raise
        uploaded = self._upload_images(scene, item, images, same_item, digest)
        now = self.clock()
        for name in planned.want.shortened:
            if name in plan.groups:
                log.warning("scene %s: its %s is too long for one Plex request and was shortened to %d characters",
                            scene.id, "details" if name == SUMMARY else name, len(planned.want.values[name]))
        if plan.kept:
            log.info("scene %s: kept hand edits in Plex for %s", scene.id, ", ".join(plan.kept))
        log.debug("scene %s -> Plex item %s: wrote %s%s%s", scene.id, item.rating_key,
                  ", ".join(plan.fields) or "no fields", ", rating" if plan.rate else "",
                  f", {images.uploads} image(s)" if images.uploads else "")
        return self._record(scene, item, digest, uploaded, same_item, now)

    def _upload_images(self, scene: Scene, item: ItemState, images: ImagePlan, same_item: Optional[SyncRecord],
                       digest: str) -> ImagePlan:
        """Upload the planned images after the metadata; what was uploaded (or settled) comes back.

        A failed upload raises its classified error carrying `written`: the record of what Plex
        now holds (the metadata, the images as before), so the retry uploads only the image.
        Background art of an episode is best effort: Plex often refuses it; one warning, no retry.
        """
        poster_done = False
        try:
            if images.poster:
                self.client.upload_image(item.rating_key, "poster", images.data)
                poster_done = True
            if images.art:
                try:
                    self.client.upload_image(item.rating_key, "art", images.data)
                except SyncError as exc:
                    if item.type != "episode" or isinstance(exc, (PlexUnreachable, ConfigurationError)):
                        raise
                    log.warning("scene %s: Plex refused the episode's background art (%s); not retried",
                                scene.id, exc)
        except SyncError as exc:
            kept = replace(images, art=False, poster=images.poster and poster_done) if poster_done else ImagePlan()
            setattr(exc, "written", self._record(scene, item, digest, kept, same_item, self.clock()))
            raise
        return images

    def _write_fields(self, scene: Scene, item: ItemState, plan: EditPlan) -> None:
        """The edit PUTs. An episode's actors ride in the same PUT until Plex refuses an episode edit
        carrying them (what real Plex does with episode actors is unverified, REAL-SERVERS.md P1):
        that edit is sent again without them, and from then on this process sends episode actors in
        a PUT of their own, whose refusal alone is a warning (the rest of the episode is written;
        the actors are tried again next change)."""
        if item.type == "episode" and ACTOR in plan.groups and not self._episode_actors_alone:
            for params in plan.requests():
                try:
                    self._edit(scene, item, params, plan)
                except PermanentError:
                    if not any(key.startswith(ACTOR) for key in params):
                        raise
                    self._episode_actors_alone = True
                    log.info("Plex refused an episode edit carrying performers: they go in an edit of their own")
                    break
            else:
                return
        alone = (ACTOR,) if item.type == "episode" else ()
        for params in plan.requests(alone):
            fields = _fields_of(params)
            if alone and fields == alone:
                try:
                    self._edit(scene, item, params, plan)
                except PermanentError as exc:
                    plan.written.pop(ACTOR, None)
                    log.warning("scene %s: Plex refused the performers of episode %s, the rest is written (%s)",
                                scene.id, item.rating_key, exc)
                continue
            self._edit(scene, item, params, plan)

    def _edit(self, scene: Scene, item: ItemState, params: Dict[str, Any], plan: EditPlan,
              limit: int = QUERY_MAX) -> None:
        """One PUT; refused as too long (414, or Plex's HTML 400), it is sent again in halves.

        A single field's parameters that are still refused at the smallest size are left out with
        one warning naming the scene (never a dead letter: the rest of the scene is written)."""
        try:
            self.client.edit(item, params, _fields_of(params))
            return
        except RequestTooLong:
            smaller = max(MIN_QUERY, min(limit, query_len(params)) // 2)
        groups = [{k: v for k, v in params.items() if _fields_of({k: v})[0] == name} for name in _fields_of(params)]
        chunks = packed(groups, smaller)
        if len(chunks) > 1:
            for chunk in chunks:
                self._edit(scene, item, chunk, plan, smaller)
            return
        for name in _fields_of(params):
            plan.written.pop(name, None)
        log.warning("scene %s: Plex refused the %s of item %s as too long; the rest is written", scene.id,
                    ", ".join(_fields_of(params)), item.rating_key)

    def _record(self, scene: Scene, item: ItemState, digest: str, images: ImagePlan,
                same_item: Optional[SyncRecord], now: float) -> SyncRecord:
        source = same_item.image_source if same_item else ""
        poster = same_item.poster_hash if same_item else ""
        art = same_item.art_hash if same_item else ""
        if images.digest:
            # uploaded now (poster/art), settled without an upload (too large), or already there
            poster_ok = not self.settings.sync_poster or images.poster or images.settled or poster == images.digest
            art_ok = not self.settings.sync_art or images.art or images.settled or art == images.digest
            if self.settings.sync_poster and (images.poster or images.settled):
                poster = images.digest
            if self.settings.sync_art and (images.art or images.settled):
                art = images.digest
            if poster_ok and art_ok:  # else the URL is not remembered, so the next sync tries again
                source = images.source
        return SyncRecord(scene.id, item.section_id, item.rating_key, digest, source, poster, art, now)

    def _resolve(self, scene: Scene, previous: Optional[SyncRecord], scan: bool = True) -> MatchResult:
        if not scene.files:
            raise NotInPlexYet(f"scene {scene.id} has no files in Stash, so it cannot be found in Plex")
        result = self.match(scene)
        if result.status == MATCHED:
            return result
        if result.status == AMBIGUOUS:
            raise PermanentError(
                f"scene {scene.id} matches {len(result.candidates)} Plex files ({result.step} match): "
                f"{_paths_text(result.candidates)}; remove the duplicate in Plex or turn strict_matching off "
                f"in {WHERE}")
        folder = self.request_scan(scene) if previous is None and scan else None
        note = f"; asked Plex to scan {folder}" if folder else ""
        raise NotInPlexYet(f"scene {scene.id} is not in Plex yet (looked for {_paths_text(result.mapped_paths)}){note}")

    def _match_again(self, scene: Scene, result: MatchResult) -> int:
        """After the matched ratingKey vanished: read the newest items and match once more."""
        with self._library_lock:
            self.library.refresh_recent(force=True)
            again = match_files(scene.files, self._rules, self.index, self.settings.strict_matching)
        if again.status == MATCHED and again.rating_key != result.rating_key:
            return int(again.rating_key or 0)
        raise self._gone(scene, result)

    @staticmethod
    def _gone(scene: Scene, result: MatchResult) -> NotInPlexYet:
        return NotInPlexYet(f"scene {scene.id}: its Plex item {result.rating_key} is gone; "
                            f"waiting for Plex to list {_paths_text(result.mapped_paths)} again")

    def close(self) -> None:
        self.client.close()
        self.index.close()
