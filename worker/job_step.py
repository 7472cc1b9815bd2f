"""The job step: one queued job becomes Plex writes, from the scenes read fresh from Stash.

This is the only place where the Stash side and the Plex side meet. Jobs carry scene ids, never
metadata, so what reaches Plex is what Stash holds when the job runs. Failures of one scene are
reported per scene (the worker splits them off); failures that concern every scene (Stash or
Plex unreachable, bad settings) are raised for the whole job.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Protocol, Sequence

from common.errors import ConfigurationError, PlexUnreachable, SceneGone, SyncError, TransientError
from common.log import get_logger
from common.models import Scene, SyncRecord
from sync_queue.jobs import Job
from worker.protocol import JobResult

log = get_logger("processor")


class SceneSource(Protocol):
    def find_scenes_by_ids(self, ids: Sequence[int]) -> Dict[int, Scene]: ...


class PlexWriter(Protocol):
    def sync_scene(self, scene: Scene, previous: Optional[SyncRecord], force: bool = False) -> SyncRecord: ...


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

    def process(self, job: Job) -> JobResult:
        scene_ids = [int(scene_id) for scene_id in job.scene_ids]
        result = JobResult()
        if job.event == "destroy":
            for scene_id in scene_ids:
                self.state.delete(scene_id)
            return result
        scenes = self.stash.find_scenes_by_ids(scene_ids)
        for scene_id in scene_ids:
            scene = scenes.get(scene_id)
            if scene is None:
                self.state.delete(scene_id)
                result.failures[scene_id] = SceneGone(f"scene {scene_id} no longer exists in Stash")
                continue
            try:
                self._sync_one(scene, job.force)
            except (ConfigurationError, PlexUnreachable):
                raise
            except SyncError as exc:
                result.failures[scene_id] = exc
            except Exception as exc:  # a bug for one scene must not fail its neighbours
                log.exception("scene %s: unexpected failure", scene_id)
                result.failures[scene_id] = TransientError(
                    f"unexpected {type(exc).__name__} while syncing scene {scene_id}")
        return result

    def _sync_one(self, scene: Scene, force: bool) -> None:
        previous = self.state.get(scene.id)
        record = self.plex.sync_scene(scene, previous, force=force)
        if record is not previous:
            self.state.put(record)

    def close(self) -> None:
        self._on_close()
