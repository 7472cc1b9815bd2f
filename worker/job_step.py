"""The job step: one queued job becomes Plex writes, from the scenes read fresh from Stash.

This is the only place where the Stash side and the Plex side meet. Jobs carry scene ids, never
metadata, so what reaches Plex is what Stash holds when the job runs. Failures of one scene are
reported per scene (the worker splits them off); failures that concern every scene (Stash or
Plex unreachable, bad settings) are raised for the whole job, and the rest of the batch is not
tried. It reports every request's outcome to the worker's breakers (`use_breakers`) and stops a
batch as soon as the Plex breaker is open (500s spreading over items). A scene whose
metadata reached Plex but whose image did not keeps its record (`sync_scene`'s `keep`), so its
retry uploads only the image. After a batch, `settle()` tidies the Plex collections PlexSync
made (deletes the emptied ones, sends changed posters and summaries): once per batch, never per
scene, and it never raises.

The scenes of a batch are written by up to `concurrency` threads over the Plex client's one
pooled session (worker/concurrency.py decides how many at a time). Each scene's record is kept
as soon as its writes returned, and the job's outcome is recorded by the worker only after every
started scene has finished, so a kill mid-batch at worst repeats a scene. A Plex-wide failure
seen by one thread (or a Plex breaker no longer open for traffic) closes the batch's gate: no
further scene starts, the ones in flight finish, and the failure is raised for the whole job.
"""
from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Set

from common.errors import PLEX, STASH, PlexUnreachable, SceneGone, SyncError, TransientError, wider_than_item
from common.log import get_logger
from common.models import Scene, SyncRecord
from sync_queue.entity_changes import EVERY_SCENE
from sync_queue.jobs import Job
from worker.breaker import Breakers
from worker.concurrency import AdaptiveLimit, BatchGate
from worker.protocol import JobResult

log = get_logger("processor")


class SceneSource(Protocol):
    def find_scenes_by_ids(self, ids: Sequence[int]) -> Dict[int, Scene]: ...

    def scene_ids_with(self, kind: Optional[str], entity_id: int, after_id: int, limit: int) -> List[int]: ...

    def version(self) -> str: ...


class PlexWriter(Protocol):
    def sync_scene(self, scene: Scene, previous: Optional[SyncRecord], force: bool = False,
                   keep: Callable[[SyncRecord], None] = ...) -> SyncRecord: ...

    def ping(self) -> None: ...

    def prepare(self, scenes: Sequence[Scene], previous: Dict[int, Optional[SyncRecord]], force: bool) -> None: ...

    def settle(self) -> None: ...


class StateStore(Protocol):
    def get(self, scene_id: int) -> Optional[SyncRecord]: ...
    def put(self, record: SyncRecord) -> None: ...
    def delete(self, scene_id: int) -> None: ...


class SceneProcessor:
    """`process(job)` for the SyncWorker: one Stash request per job, the Plex syncs of its scenes
    on up to `concurrency` threads."""

    def __init__(self, stash: SceneSource, plex: PlexWriter, state: StateStore, *,
                 on_close: Callable[[], None] = lambda: None, concurrency: int = 1) -> None:
        self.stash = stash
        self.plex = plex
        self.state = state
        self._on_close = on_close
        self.limit = AdaptiveLimit(concurrency)
        self._pool: Optional[ThreadPoolExecutor] = None
        self.breakers: Optional[Breakers] = None

    def use_breakers(self, breakers: Breakers) -> None:
        """Report each request's outcome to the worker's breakers (worker.breaker.Breakers)."""
        self.breakers = breakers

    def probe(self, scope: str) -> bool:
        """One cheap request to the server a breaker is open for (plex: GET /identity)."""
        if scope == "stash":
            self.stash.version()
        else:
            self.plex.ping()
        return True

    def scene_ids_for(self, kind: str, entity_id: int, after_id: int, limit: int) -> List[int]:
        """The scenes of a renamed tag (performer, studio, group), a page at a time (worker.protocol)."""
        try:
            ids = self.stash.scene_ids_with(None if kind == EVERY_SCENE else kind, entity_id, after_id, limit)
        except SyncError as exc:
            self._report(STASH, exc)
            raise
        self._report(STASH)
        return ids

    def process(self, job: Job) -> JobResult:
        scene_ids = [int(scene_id) for scene_id in job.scene_ids]
        result = JobResult()
        if job.event == "destroy":
            for scene_id in scene_ids:
                self.state.delete(scene_id)
            return result
        try:
            found = self.stash.find_scenes_by_ids(scene_ids)
        except SyncError as exc:
            self._report(STASH, exc)
            raise
        self._report(STASH)
        scenes: List[Scene] = []
        for scene_id in dict.fromkeys(scene_ids):
            scene = found.get(scene_id)
            if scene is None:
                self.state.delete(scene_id)
                result.failures[scene_id] = SceneGone(f"scene {scene_id} no longer exists in Stash")
            else:
                scenes.append(scene)
        previous = {scene.id: self.state.get(scene.id) for scene in scenes}
        gate = BatchGate(self.limit)
        if scenes and self._open_for_traffic(gate):
            try:
                self.plex.prepare(scenes, previous, job.force)  # one read for the items of the batch
            except SyncError as exc:
                self._report(PLEX, exc)
                raise
        result.failures.update(self._sync_all(scenes, previous, job.force, gate))
        if gate.failure is not None:
            raise gate.failure
        if scenes:
            self.plex.settle()  # the collections PlexSync made: tidied once per batch, never per scene
        return result

    def _open_for_traffic(self, gate: BatchGate) -> bool:
        """May the next scene start? No once the gate closed or the Plex breaker stopped traffic."""
        if self.breakers is not None and gate.is_open() and not self.breakers.plex.open_for_traffic():
            gate.record_plex_wide_failure(PlexUnreachable("Plex is not answering; the rest of the batch waits"))
        return gate.is_open()

    def _sync_all(self, scenes: List[Scene], previous: Dict[int, Optional[SyncRecord]], force: bool,
                  gate: BatchGate) -> Dict[int, SyncError]:
        """Sync every scene, at most `limit.limit` at a time; none starts after the gate closed."""
        failures: Dict[int, SyncError] = {}
        if self.limit.ceiling == 1 or len(scenes) <= 1:
            for scene in scenes:
                if not self._open_for_traffic(gate):
                    break
                self._collect(failures, scene.id, self._sync_guarded(scene, previous[scene.id], force, gate))
            return failures
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.limit.ceiling, thread_name_prefix="plexsync-scene")
        running: Set[Future] = set()
        started: Dict[Future, int] = {}
        for scene in scenes:
            while len(running) >= self.limit.limit:
                _, running = wait(running, return_when=FIRST_COMPLETED)
            if not self._open_for_traffic(gate):
                break
            future = self._pool.submit(self._sync_guarded, scene, previous[scene.id], force, gate)
            running.add(future)
            started[future] = scene.id
        wait(running)
        for future, scene_id in started.items():
            self._collect(failures, scene_id, future.result())
        return failures

    @staticmethod
    def _collect(failures: Dict[int, SyncError], scene_id: int, error: Optional[SyncError]) -> None:
        if error is not None:
            failures[scene_id] = error

    def _sync_guarded(self, scene: Scene, previous: Optional[SyncRecord], force: bool,
                      gate: BatchGate) -> Optional[SyncError]:
        """One scene: its own failure is returned; a Plex-wide one closes the gate. Never raises."""
        began = time.monotonic()
        try:
            wrote = self._sync_one(scene, previous, force)
        except SyncError as exc:
            if self._report(PLEX, exc, scene.id):  # not this scene's alone: no further scene starts
                gate.record_plex_wide_failure(exc)
                return None
            return exc
        except Exception as exc:  # a bug for one scene must not fail its neighbours
            log.exception("scene %s: unexpected failure", scene.id)
            return TransientError(f"unexpected {type(exc).__name__} while syncing scene {scene.id}")
        self._report(PLEX, None, scene.id)
        if wrote:  # an unchanged scene costs no request: its time says nothing about Plex
            gate.record_success(time.monotonic() - began)
        return None

    def _report(self, server: str, error: Optional[BaseException] = None, subject: object = None) -> bool:
        """Tell the breakers how a request went; True when the failure stops the batch."""
        if self.breakers is None:
            return error is not None and wider_than_item(error)
        return self.breakers.report(server, error, subject)

    def _sync_one(self, scene: Scene, previous: Optional[SyncRecord], force: bool) -> bool:
        """True when Plex was written (the scene's record renewed)."""
        # keep: the metadata reached Plex but an image did not; its retry uploads only the image
        record = self.plex.sync_scene(scene, previous, force=force, keep=self.state.put)
        if record is not previous:
            self.state.put(record)
            return True
        return False

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        self._on_close()
