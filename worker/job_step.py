"""The job step: one queued job becomes Plex writes, from the scenes read fresh from Stash.

This is the only place where the Stash side and the Plex side meet. Jobs carry scene ids, never
metadata, so what reaches Plex is what Stash holds when the job runs. Failures of one scene are
reported per scene (the worker splits them off); failures that concern every scene (Stash or
Plex unreachable, bad settings) are raised for the whole job, and the rest of the batch is not
tried. Given the worker's breakers (`use_breakers`), it reports every scene's outcome to them
and stops a batch as soon as the Plex breaker is open (500s spreading over items). A scene whose
metadata reached Plex but whose image did not keeps its record, so its retry uploads only the image.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Dict, Optional, Protocol, Sequence

from common.errors import (
    ConfigurationError,
    PlexServerError,
    PlexUnreachable,
    SceneGone,
    StashUnreachable,
    SyncError,
    TransientError,
)
from common.log import get_logger
from common.models import Scene, SyncRecord
from sync_queue.jobs import Job
from worker.protocol import JobResult

log = get_logger("processor")


class SceneSource(Protocol):
    def find_scenes_by_ids(self, ids: Sequence[int]) -> Dict[int, Scene]: ...

    def version(self) -> str: ...


class PlexWriter(Protocol):
    def sync_scene(self, scene: Scene, previous: Optional[SyncRecord], force: bool = False) -> SyncRecord: ...

    def ping(self) -> None: ...


class StateStore(Protocol):
    def get(self, scene_id: int) -> Optional[SyncRecord]: ...
    def put(self, record: SyncRecord) -> None: ...
    def delete(self, scene_id: int) -> None: ...


class SceneProcessor:
    """`process(job)` for the SyncWorker: one Stash request per job, one Plex sync per scene."""

    def __init__(self, stash: SceneSource, plex: PlexWriter, state: StateStore, *,
                 on_close: Callable[[], None] = lambda: None) -> None:
        self.stash = stash
        self.plex = plex
        self.state = state
        self._on_close = on_close
        self._plex_breaker: Any = None
        self._stash_breaker: Any = None
        self._clock: Callable[[], float] = time.time

    def use_breakers(self, plex: Any, stash: Any, clock: Callable[[], float] = time.time) -> bool:
        """Report each request's outcome to these breakers (worker.breaker.CircuitBreaker)."""
        self._plex_breaker, self._stash_breaker, self._clock = plex, stash, clock
        return True

    def probe(self, scope: str) -> bool:
        """One cheap request to the server a breaker is open for (plex: GET /identity)."""
        if scope == "stash":
            self.stash.version()
        else:
            self.plex.ping()
        return True

    def process(self, job: Job) -> JobResult:
        scene_ids = [int(scene_id) for scene_id in job.scene_ids]
        result = JobResult()
        if job.event == "destroy":
            for scene_id in scene_ids:
                self.state.delete(scene_id)
            return result
        try:
            scenes = self.stash.find_scenes_by_ids(scene_ids)
        except SyncError as exc:
            self._report(self._stash_breaker, exc, None)
            raise
        self._report(self._stash_breaker, None, None)
        for scene_id in scene_ids:
            scene = scenes.get(scene_id)
            if scene is None:
                self.state.delete(scene_id)
                result.failures[scene_id] = SceneGone(f"scene {scene_id} no longer exists in Stash")
                continue
            if self._plex_breaker is not None and not self._plex_breaker.open_for_traffic():
                raise PlexUnreachable("Plex is not answering; the rest of the batch waits")
            try:
                self._sync_one(scene, job.force)
            except ConfigurationError as exc:  # bad settings, or Stash down (an image download)
                self._report(self._stash_breaker, exc, None)
                raise
            except PlexUnreachable as exc:
                self._report(self._plex_breaker, exc, scene_id)
                raise
            except SyncError as exc:
                if self._report(self._plex_breaker, exc, scene_id):
                    raise  # 500s on different items in a row: Plex-wide, stop the batch
                result.failures[scene_id] = exc
            except Exception as exc:  # a bug for one scene must not fail its neighbours
                log.exception("scene %s: unexpected failure", scene_id)
                result.failures[scene_id] = TransientError(
                    f"unexpected {type(exc).__name__} while syncing scene {scene_id}")
            else:
                self._report(self._plex_breaker, None, scene_id)
        return result

    def _report(self, breaker: Any, error: Optional[BaseException], subject: Any) -> bool:
        """Tell `breaker` how a request went; True when it is open afterwards."""
        if breaker is None:
            return False
        if isinstance(error, (PlexUnreachable, PlexServerError, StashUnreachable)):
            return bool(breaker.record_failure(self._clock(), error, subject))
        if error is None or not isinstance(error, ConfigurationError):
            breaker.record_success()  # the server answered (an item's 404 or 400 is an answer too)
        return False

    def _sync_one(self, scene: Scene, force: bool) -> None:
        previous = self.state.get(scene.id)
        try:
            record = self.plex.sync_scene(scene, previous, force=force)
        except SyncError as exc:
            written = getattr(exc, "written", None)  # the metadata is in Plex; the image failed
            if isinstance(written, SyncRecord):
                self.state.put(written)
            raise
        if record is not previous:
            self.state.put(record)

    def close(self) -> None:
        self._on_close()
