"""A batch written by four threads: the real SceneProcessor and PlexTarget against the fake Plex
over HTTP, with the real queue and sync state on disk. Latency on the fake makes requests overlap
(it sleeps outside its lock, as a real server's answer time would), so a missing lock shows up
as an overlap the fake counts."""
from __future__ import annotations

import random
from typing import Dict, Sequence

import pytest

from common.errors import ConfigurationError
from common.models import Scene
from sync_queue.jobs import Job
from sync_queue.stores import open_stores
from tests.integration.plex_fixtures import full_scene
from worker.job_step import SceneProcessor
from worker.options import WorkerOptions
from worker.protocol import ReadyProcessor
from worker.sync_worker import SyncWorker

EDIT = "PUT /library/sections/{id}/all"
READ = "GET /library/metadata/{ids}"
T0 = 1_000_000.0


class Scenes:
    """The Stash side of the processor (not under test here): scenes by id, as Stash would answer."""

    def __init__(self, scenes: Sequence[Scene]) -> None:
        self.by_id = {scene.id: scene for scene in scenes}

    def find_scenes_by_ids(self, ids: Sequence[int]) -> Dict[int, Scene]:
        return {scene_id: self.by_id[scene_id] for scene_id in ids if scene_id in self.by_id}


@pytest.fixture
def stores(tmp_path):
    opened = open_stores(tmp_path / "data", for_drainer=True)
    yield opened
    opened.close()


def movies(plex, count, start=1):
    scenes = []
    for n in range(start, start + count):
        path = f"/media/videos/c{n}.mp4"
        plex.add_movie(1, [path], f"c{n}")
        scenes.append(full_scene(path, id=n, title=f"Scene {n}",
                                 screenshot_url=f"http://stash.local/scene/{n}/screenshot?t=1"))
    return scenes


def processor_for(connect, stores, scenes, concurrency=4):
    return SceneProcessor(Scenes(scenes), connect(plex_concurrency=concurrency), stores.sync_state,
                          concurrency=concurrency)


def test_a_batch_is_read_in_one_request_and_written_by_at_most_four_at_once(plex, connect, stores):
    scenes = movies(plex, 12)
    processor = processor_for(connect, stores, scenes)
    plex.latency(30)
    plex.reset_counts()
    result = processor.process(Job([s.id for s in scenes], "update", "bulk edit"))
    processor.close()
    assert result.failures == {}
    assert stores.sync_state.count() == 12
    assert all(plex.item(rk)["title"] == f"Scene {rk}" for rk in range(1, 13))
    counts = plex.counts()
    assert counts[READ] == 1  # every item of the batch in one read
    assert counts[EDIT] == 12 and counts["POST /library/metadata/{id}/posters"] == 12
    assert 2 <= plex.most_in_flight <= 4  # concurrent, never above the setting
    assert plex.write_overlaps == 0


def test_two_writes_to_the_same_plex_item_never_run_at_once(plex, connect, stores):
    """Four Stash scenes of one file (duplicates in Stash) all land on the same Plex item."""
    path = "/media/videos/shared.mp4"
    shared = plex.add_movie(1, [path], "shared")
    scenes = [full_scene(path, id=n, title=f"Version {n}", tags=[f"Tag {n}"],
                         screenshot_url=f"http://stash.local/scene/{n}/screenshot?t=1") for n in range(1, 5)]
    scenes += movies(plex, 4, start=5)
    processor = processor_for(connect, stores, scenes)
    plex.latency(20)
    plex.reset_counts()
    result = processor.process(Job([s.id for s in scenes], "update", "bulk edit"))
    processor.close()
    assert result.failures == {}
    assert plex.most_in_flight >= 2  # the other items were written alongside
    assert plex.write_overlaps == 0
    item = plex.item(shared)
    # Each scene read the item after the previous one wrote it: exactly one version's tags remain.
    assert item["title"] in {f"Version {n}" for n in range(1, 5)}
    assert item["genres"] == [f"Tag {item['title'].split()[-1]}"]


def test_a_plex_wide_failure_seen_by_one_worker_stops_new_scenes(plex, connect, stores):
    scenes = movies(plex, 20)
    processor = processor_for(connect, stores, scenes)
    plex.latency(10)
    plex.reset_counts()
    plex.fail_next(1000, status=401, route="/library/sections/{id}/all", method="PUT")  # token refused on edits
    with pytest.raises(ConfigurationError):
        processor.process(Job([s.id for s in scenes], "update", "bulk edit"))
    processor.close()
    assert plex.counts()[EDIT] <= 4  # the scenes in flight when the first failed, no new ones
    assert processor.limit.limit <= 2  # halved
    assert stores.sync_state.count() == 0


def test_split_batch_retry_and_dead_letter_under_concurrency_4(plex, connect, stores):
    scenes = movies(plex, 10)
    plex.add_movie(1, ["/media/videos/twin.mp4"], "twin one")
    plex.add_movie(1, ["/media/videos/copy/twin.mp4"], "twin two")
    ambiguous = full_scene("/elsewhere/twin.mp4", id=11, title="Ambiguous")
    not_yet = full_scene("/media/videos/not-scanned.mp4", id=12, title="Not in Plex yet")
    processor = processor_for(connect, stores, [*scenes, ambiguous, not_yet])
    stores.jobs.put(Job(list(range(1, 13)), "update", "bulk edit", enqueued_at=T0))
    worker = SyncWorker(stores.jobs, lambda: ReadyProcessor(processor),
                        options=WorkerOptions(settle_seconds=0, max_batch=50), rng=random.Random(1))
    plex.latency(10)
    assert worker.step(T0 + 1) == 0.0
    worker.slot.close()
    assert stores.sync_state.count() == 10
    (letter,) = stores.dead_letters.list()
    assert letter.scene_id == 11
    (retry,) = stores.jobs.scheduled_jobs(now=T0 + 1)
    assert retry.scene_ids == [12] and retry.attempts == 1
    assert plex.write_overlaps == 0
