"""Turns one queued job into Plex writes: read the scenes fresh from Stash, write each to Plex.

This is the only place where the Stash side and the Plex side meet. Jobs carry scene ids, never
metadata, so what reaches Plex is what Stash holds when the job runs. Failures of one scene are
reported per scene (the worker splits them off); failures that concern every scene (Stash or
Plex unreachable, bad settings) are raised for the whole job.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Protocol

from common.errors import (
    ConfigurationError,
    NotInPlexYet,
    PlexUnreachable,
    SceneGone,
    SyncError,
    TransientError,
)
from common.log import get_logger
from common.models import Scene, SyncRecord

log = get_logger("processor")


class SceneSource(Protocol):
    def find_scenes_by_ids(self, ids: list) -> Dict[int, Scene]: ...


class PlexWriter(Protocol):
    def sync_scene(self, scene: Scene, previous: Optional[SyncRecord], force: bool = False) -> SyncRecord: ...


class StateStore(Protocol):
    def get(self, scene_id: int) -> Optional[SyncRecord]: ...
    def put(self, record: SyncRecord) -> None: ...
    def delete(self, scene_id: int) -> None: ...


@dataclass
class ProcessResult:
    failures: Dict[int, SyncError] = field(default_factory=dict)
    written: int = 0
    unchanged: int = 0


class SceneProcessor:
    """`process(job)` for the SyncWorker: one Stash request per job, one Plex sync per scene."""

    def __init__(
        self,
        stash: SceneSource,
        plex: PlexWriter,
        state: StateStore,
        request_scan: Optional[Callable[[Scene], None]] = None,
        result_type: Callable[..., object] = ProcessResult,
    ) -> None:
        self.stash = stash
        self.plex = plex
        self.state = state
        self.request_scan = request_scan
        self.result_type = result_type

    def process(self, job) -> object:
        scene_ids = [int(scene_id) for scene_id in job.scene_ids]
        failures: Dict[int, SyncError] = {}
        if job.event == "destroy":
            for scene_id in scene_ids:
                self.state.delete(scene_id)
            return self.result_type(failures=failures)
        scenes = self.stash.find_scenes_by_ids(scene_ids)
        for scene_id in scene_ids:
            scene = scenes.get(scene_id)
            if scene is None:
                self.state.delete(scene_id)
                failures[scene_id] = SceneGone(f"scene {scene_id} no longer exists in Stash")
                continue
            try:
                self._sync_one(scene, job)
            except (ConfigurationError, PlexUnreachable):
                raise
            except SyncError as exc:
                failures[scene_id] = exc
            except Exception as exc:  # a bug for one scene must not fail its neighbours
                log.exception("scene %s: unexpected failure", scene_id)
                failures[scene_id] = TransientError(f"unexpected {type(exc).__name__} while syncing scene {scene_id}")
        return self.result_type(failures=failures)

    def _sync_one(self, scene: Scene, job) -> None:
        previous = self.state.get(scene.id)
        try:
            record = self.plex.sync_scene(scene, previous, force=bool(getattr(job, "force", False)))
        except NotInPlexYet:
            if self.request_scan and job.event == "create" and not getattr(job, "attempts", 0):
                self.request_scan(scene)
            raise
        if record != previous:
            self.state.put(record)
