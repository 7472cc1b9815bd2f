"""The seeded world is what the integration and scale tests rely on: reproducible, holding
each awkward case it promises, and consistent between its Stash side and its Plex side.
"""
from __future__ import annotations

from collections import Counter

from devkit.fakes.plex_server import FakePlexServer
from devkit.fakes.world import build_world


def test_same_arguments_give_the_same_world():
    assert build_world(150, seed=4) == build_world(150, seed=4)
    assert build_world(150, seed=4).stash_data != build_world(150, seed=5).stash_data


def test_world_holds_every_promised_case():
    world = build_world(400, seed=1)
    rows = {row.id: row for row in world.stash_data.scenes}
    assert list(rows) == list(range(1, 401))
    assert world.untitled_ids and all(rows[i].title in (None, "") for i in world.untitled_ids)
    assert any(rows[i].title == "" for i in world.untitled_ids) and any(rows[i].title is None for i in world.untitled_ids)
    titles = [rows[i].title for i in world.special_title_ids]
    assert any("🔥" in t for t in titles) and any("שלום" in t for t in titles) and any(len(t) > 200 for t in titles)
    assert all(len(rows[i].files) == 2 for i in world.multi_file_ids) and world.versioned_ids < world.multi_file_ids
    basenames = Counter(f.path.rsplit("/", 1)[1] for row in rows.values() for f in row.files)
    shared = {row.id for row in rows.values() if basenames[row.files[0].path.rsplit("/", 1)[1]] > 1}
    assert shared == world.duplicate_basename_ids and len(shared) >= 4
    assert all(rows[i].files[0].path.startswith("/data/videos/Series/") for i in world.episode_ids)
    assert all(not rows[i].files[0].path.startswith("/data/videos/") for i in world.unmapped_ids)
    assert world.unmapped_ids <= world.missing_ids and not world.missing_ids & world.pending_ids
    assert any(r.date is None for r in rows.values()) and any(r.rating100 is None for r in rows.values())
    stamps = Counter(r.updated_at for r in rows.values())
    assert max(stamps.values()) > 1 and all(r.updated_at >= r.created_at for r in rows.values())
    studios = world.stash_data.studios
    assert any(s.parent_id for s in studios) and any(s.parent_id is None for s in studios)
    performers = world.stash_data.performers
    assert any(p.disambiguation for p in performers) and any(p.has_image for p in performers)
    assert world.path_map == "/data/videos=>/media/videos"


def test_populate_plex_mirrors_the_stash_side_with_plex_paths():
    world = build_world(300, seed=2)
    plex = FakePlexServer()
    keys = world.populate_plex(plex)
    assert [s.title for s in plex.library.sections.values()] == world.plex_sections
    assert set(keys) == world.matchable_ids
    rows = {row.id: row for row in world.stash_data.scenes}
    for scene_id, rating_keys in keys.items():
        expected = [world.to_plex_path(f.path) for f in rows[scene_id].files]
        items = [plex.item(key) for key in rating_keys]
        assert [path for item in items for path in item["files"]] == expected
        assert all(path.startswith("/media/videos/") for path in expected)
        kind, section = ("episode", 2) if scene_id in world.episode_ids else ("movie", 1)
        assert {(item["type"], item["librarySectionID"]) for item in items} == {(kind, section)}
    separate = world.multi_file_ids - world.versioned_ids - world.missing_ids - world.pending_ids
    assert separate and all(len(keys[i]) == 2 for i in separate)
    for scene_id in world.missing_ids | world.pending_ids:
        assert all(plex.find_by_file(world.to_plex_path(f.path)) is None for f in rows[scene_id].files)
    pending = [world.to_plex_path(f.path) for i in world.pending_ids for f in rows[i].files]
    plex.scan(1)
    assert all(plex.find_by_file(path) is not None for path in pending)


def test_ambiguous_scenes_have_two_plex_copies_of_their_basename_and_no_path_match():
    world = build_world(scenes=300, seed=5)
    plex = FakePlexServer()
    world.populate_plex(plex)
    rows = {row.id: row for row in world.stash_data.scenes}
    assert world.ambiguous_ids and not world.ambiguous_ids & world.matchable_ids
    for scene_id in world.ambiguous_ids:
        path = rows[scene_id].files[0].path
        base = path.rsplit("/", 1)[-1]
        assert not path.startswith(world.stash_root + "/")
        copies = [f"{world.plex_root}/movies/{copy}/{base}" for copy in ("copies-a", "copies-b")]
        assert all(plex.find_by_file(copy) is not None for copy in copies)
