"""What one scene's sync costs on each server: the real Stash client, PlexTarget and SceneProcessor
against both fakes over HTTP, counted by the fakes.

The fake Stash serves the cover's bytes at a URL that changes with every edit (as Stash does), and
its SVG placeholder for a scene without a cover; the counts show an edit that leaves the cover
alone uploads nothing, and that a coverless scene is not downloaded again while unchanged.
"""
from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest

from common.models import SyncRecord
from common.settings import settings_from_mapping
from devkit.fakes.plex_server import FakePlexServer
from devkit.fakes.stash_server import FakeStashServer
from devkit.fakes.world import World, build_world
from plex.target import PlexTarget
from stash.client import StashClient
from stash.connection import connection_from_url
from sync_queue.db import Database
from sync_queue.jobs import Job
from worker.job_step import SceneProcessor

SCREENSHOT = "GET /scene/{id}/screenshot"
UPLOADS = ("POST /library/metadata/{id}/posters", "POST /library/metadata/{id}/arts")


class MemoryState:
    def __init__(self) -> None:
        self.records: Dict[int, SyncRecord] = {}

    def get(self, scene_id: int) -> Optional[SyncRecord]:
        return self.records.get(scene_id)

    def put(self, record: SyncRecord) -> None:
        self.records[record.scene_id] = record

    def delete(self, scene_id: int) -> None:
        self.records.pop(scene_id, None)


class Rig:
    def __init__(self, world: World, stash: FakeStashServer, plex: FakePlexServer, keys: Dict[int, tuple],
                 processor: SceneProcessor):
        self.world, self.stash, self.plex, self.keys, self.processor = world, stash, plex, keys, processor

    def sync(self, scene_id: int) -> None:
        result = self.processor.process(Job([scene_id], "update", "edit"))
        assert not result.failures, result.failures

    def reset_counts(self) -> None:
        self.plex.reset_counts()
        self.stash.reset_counts()

    def plex_requests(self) -> int:
        return sum(self.plex.counts().values())

    def uploads(self) -> int:
        """Images uploaded to scenes' items (a studio collection's poster, sent once, is not the scene's)."""
        items = {str(key) for keys in self.keys.values() for key in keys}
        return sum(1 for e in self.plex.request_log() if e["method"] == "POST" and e["route"] in UPLOADS
                   and e["path"].split("/")[3] in items)

    def plain_movie(self, with_cover: bool) -> int:
        world = self.world
        plain = sorted(world.matchable_ids - world.episode_ids - world.multi_file_ids - world.duplicate_basename_ids)
        return next(i for i in plain if (i in world.coverless_ids) != with_cover and self.stash.scene(i).tag_ids)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    world = build_world(60, seed=5)
    stash, plex = FakeStashServer(world.stash_data), FakePlexServer()
    keys = world.populate_plex(plex)
    stash.start()
    plex.start()
    settings = settings_from_mapping({"plex_url": plex.url, "plex_token": plex.token, "path_map": world.path_map})
    client = StashClient(connection_from_url(stash.url))
    database = Database(tmp_path)
    target = PlexTarget.connect(settings, tmp_path, database, client.fetch_image, recent_interval=0.0)
    try:
        yield Rig(world, stash, plex, keys, SceneProcessor(client, target, MemoryState()))
    finally:
        target.close()
        database.close()
        client.close()
        plex.stop()
        stash.stop()


def test_a_tag_only_edit_of_a_scene_with_a_cover_costs_three_plex_requests_and_no_upload(rig):
    scene_id = rig.plain_movie(with_cover=True)
    rig.sync(scene_id)
    assert rig.uploads() == 2  # the first sync sends poster and background
    row = rig.stash.scene(scene_id)
    rig.stash.edit_scene(scene_id, tag_ids=[str(t) for t in row.tag_ids[1:]])
    rig.reset_counts()
    rig.sync(scene_id)
    assert rig.uploads() == 0
    assert rig.plex_requests() <= 3, rig.plex.counts()
    assert rig.stash.count(SCREENSHOT) == 1  # the URL moved with the edit; the bytes did not
    dropped = rig.stash.store.tags[row.tag_ids[0]].name
    assert dropped not in rig.plex.item(rig.keys[scene_id][0])["genres"]


def test_an_unchanged_scene_without_a_cover_costs_nothing_on_either_server(rig):
    scene_id = rig.plain_movie(with_cover=False)
    rig.sync(scene_id)
    assert rig.uploads() == 0 and rig.stash.count(SCREENSHOT) == 1  # the placeholder, never uploaded
    rig.reset_counts()
    rig.sync(scene_id)
    assert rig.plex_requests() == 0, rig.plex.counts()
    assert rig.stash.count(SCREENSHOT) == 0
    assert rig.stash.counts() == {"POST /graphql": 1, "POST /graphql PlexSyncFindScenes": 1}  # the job's scene read


def test_a_cover_set_later_on_a_coverless_scene_is_uploaded(rig):
    scene_id = rig.plain_movie(with_cover=False)
    rig.sync(scene_id)
    rig.stash.edit_scene(scene_id, cover_image="data:image/png;base64,iVBORw0KGgo=")
    rig.reset_counts()
    rig.sync(scene_id)
    assert rig.uploads() == 2
