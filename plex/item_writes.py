"""The writes that make one Plex item say what a scene says, and the plan behind them.

`plan` is the one place both the sync and the preview compute what a scene would send to an
item (the edit, the rating, the images), so they cannot differ. `write` sends it: the metadata
first, the rating riding in the edit (an image that fails must never hold back or undo the
fields; the PUTs themselves are plex/edit_requests.py's), then the images. Collections the edit
creates, empties or should dress are recorded for the batch's `settle` (plex/collections.py).
When an upload fails after the metadata reached Plex, the record of what Plex now holds goes to
the caller's `keep` before the upload's classified error is raised, so the retry uploads only
the image.
"""
from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable, List, Optional

from common.errors import SyncError, wider_than_item
from common.log import get_logger
from common.models import Scene, SyncRecord
from common.settings import Settings
from plex.client import PlexClient
from plex.collections import CollectionKeeper
from plex.edit_requests import EditRequests
from plex.errors import ItemVanished
from plex.fields import COLLECTION, SUMMARY, for_item_type, wanted
from plex.images import ImagePlan, plan_images
from plex.index import LibraryIndex
from plex.preview import ScenePlan
from plex.writer import ART_LOCK, POSTER_LOCK, ItemState, plan_edit

log = get_logger("plex")
Keep = Callable[[SyncRecord], None]


def keep_nothing(record: SyncRecord) -> None:
    """For a caller that keeps no partial record (a test, a one-off write)."""


class ItemWrites:
    def __init__(self, settings: Settings, client: PlexClient, index: LibraryIndex,
                 fetch_image: Callable[[str], bytes], collections: CollectionKeeper,
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.client = client
        self.index = index
        self.fetch_image = fetch_image
        self.collections = collections
        self.edits = EditRequests(client)
        self.clock = clock

    def plan(self, scene: Scene, previous: Optional[SyncRecord], item: ItemState, force: bool) -> ScenePlan:
        """Everything a sync of `scene` would send to `item`: the edit, the rating, the images.

        May download the screenshot from Stash (when it changed); sends nothing to Plex."""
        want = for_item_type(wanted(scene, self.settings), item.type)
        same_item = previous if previous is not None and previous.rating_key == item.rating_key else None
        images = plan_images(scene, same_item, self.settings, self.fetch_image, force)
        locks = ((POSTER_LOCK,) if images.poster else ()) + ((ART_LOCK,) if images.art else ())
        edit = plan_edit(want, item, self.index.written(item.rating_key), self.settings.preserve_plex_edits, locks)
        return ScenePlan(want, images, edit, same_item)

    def write(self, scene: Scene, previous: Optional[SyncRecord], digest: str, item: ItemState,
              force: bool, keep: Keep = keep_nothing) -> SyncRecord:
        """The writes for one item (the caller holds its lock): one PUT (normally, the rating in
        it), then images. Returns the record of what Plex holds now."""
        planned = self.plan(scene, previous, item, force)
        images, plan, same_item = planned.images, planned.edit, planned.same_item
        adding = plan.added.get(COLLECTION, ())
        made = self.collections.missing(item.section_id, adding) if adding else []
        try:
            self.edits.send(scene, item, plan)
            self._note_collections(item, planned, made)
            # Remembered as soon as Plex holds it: a failed upload below must not make our own
            # locked fields look like hand edits on the retry.
            self.index.set_written(item.rating_key, plan.written, self.clock())
        except ItemVanished:
            self.index.remove_item(item.rating_key)
            raise
        uploaded = self._upload_images(scene, item, images, same_item, digest, keep)
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

    def _note_collections(self, item: ItemState, planned: ScenePlan, made: List[str]) -> None:
        """After the edit: the collections it created are PlexSync's, the ones it left may be empty
        now, and a studio's or group's collection should show its art (sent by `settle`)."""
        plan = planned.edit
        written = plan.written.get(COLLECTION, ())
        self.collections.created(item.section_id, [name for name in made if name in written], self.clock())
        self.collections.left(item.section_id, plan.removed.get(COLLECTION, ()))
        self.collections.wanted_art(item.section_id, planned.want.collection_art)

    def _upload_images(self, scene: Scene, item: ItemState, images: ImagePlan, same_item: Optional[SyncRecord],
                       digest: str, keep: Keep) -> ImagePlan:
        """Upload the planned images after the metadata; what was uploaded (or settled) comes back.

        A failed upload hands `keep` the record of what Plex now holds (the metadata, the images as
        before) and raises its classified error. Background art of an episode is best effort: Plex
        often refuses it; one warning, no retry.
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
                    if item.type != "episode" or wider_than_item(exc):
                        raise
                    log.warning("scene %s: Plex refused the episode's background art (%s); not retried",
                                scene.id, exc)
        except SyncError:
            kept = replace(images, art=False, poster=images.poster and poster_done) if poster_done else ImagePlan()
            keep(self._record(scene, item, digest, kept, same_item, self.clock()))
            raise
        return images

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
