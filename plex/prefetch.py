"""A batch's shared reads: each scene's metadata hash once, and the matched items read together.

`prepare` runs before the scenes of a batch are written: it computes the hash of every scene
(most of what an unchanged scene costs), matches the changed ones from the index, and reads
their items several per request. `sync_scene` then takes a prepared item instead of reading it
again; an item not prepared is read on its own. Only a Plex-wide failure of a batch read is
raised; any other leaves its items to be read one by one.
"""
from __future__ import annotations

import threading
from typing import Dict, List, Optional, Sequence, Tuple

from common.errors import SyncError, wider_than_item
from common.log import get_logger
from common.models import Scene, SyncRecord
from common.pathmap import map_path
from common.settings import Settings
from plex.client import PlexClient, key_batches
from plex.fields import metadata_hash, wanted
from plex.images import needs_download
from plex.matcher import MATCHED
from plex.scene_matching import SceneMatching
from plex.writer import ItemState

log = get_logger("plex")


class BatchPrefetch:
    def __init__(self, settings: Settings, client: PlexClient, matching: SceneMatching) -> None:
        self.settings = settings
        self.client = client
        self.matching = matching
        self._items: Dict[int, ItemState] = {}
        self._digests: Dict[int, Tuple[Scene, str]] = {}  # of the batch `prepare` saw
        self._lock = threading.Lock()

    def digest(self, scene: Scene) -> str:
        """The scene's metadata hash; computed once per scene of a prepared batch."""
        with self._lock:
            known = self._digests.get(scene.id)
        if known is not None and known[0] is scene:
            return known[1]
        mapped = [map_path(f.path, self.settings.path_rules) for f in scene.files]
        return metadata_hash(wanted(scene, self.settings), mapped, self.settings.preserve_plex_edits)

    def unchanged(self, scene: Scene, previous: Optional[SyncRecord], digest: str, force: bool) -> bool:
        return (not force and previous is not None and previous.metadata_hash == digest
                and not needs_download(scene, previous, self.settings))

    def prepare(self, scenes: Sequence[Scene], previous: Dict[int, Optional[SyncRecord]], force: bool = False) -> None:
        """Read the matched items of the scenes that will be written, several per request."""
        with self._lock:
            self._digests = {}
        digests = {scene.id: (scene, self.digest(scene)) for scene in scenes}
        with self._lock:
            self._digests = digests
        keys: List[int] = []
        for scene in scenes:
            if not scene.files or self.unchanged(scene, previous.get(scene.id), digests[scene.id][1], force):
                continue
            result = self.matching.match_indexed(scene)
            if result.status == MATCHED and result.rating_key:
                keys.append(int(result.rating_key))
        keys = list(dict.fromkeys(keys))
        fetched: Dict[int, ItemState] = {}
        if len(keys) > 1:  # one item costs one read either way
            for batch in key_batches(keys):
                try:
                    fetched.update(self.client.items(batch))
                except SyncError as exc:
                    if wider_than_item(exc):
                        raise
                    log.debug("batch read of %d items failed (%s); reading them one by one", len(batch), exc)
        with self._lock:
            self._items = fetched

    def take(self, rating_key: int) -> Optional[ItemState]:
        """The prepared item, once (None: read it)."""
        with self._lock:
            return self._items.pop(rating_key, None)
