"""Renames reach Plex: Tag/Performer hooks fed to the real PlexSync.py as Stash sends them.

Stash fires no scene hook when a tag or performer is renamed, merged or deleted; PlexSync's
hook queues the entity, the drainer it starts finds the scenes through findScenes' entity
filter, page by page, and writes them as any edit.
"""
from __future__ import annotations

from tests.integration.e2e import Fakes, wait_until

DEADLINE = 120.0


def first_sync(fakes: Fakes) -> None:
    run = fakes.run_task("sync_all")
    assert run.returncode == 0 and run.error is None, run.stderr[-2000:]
    fakes.wait_drained()


def movies_with(fakes: Fakes, attribute: str, entity_id: int) -> list:
    world = fakes.world
    plain = world.matchable_ids - world.multi_file_ids - world.episode_ids
    store = fakes.stash.store
    return sorted(i for i in plain if entity_id in getattr(store.scene(i), attribute)
                  and len(fakes.rating_keys.get(i, ())) == 1)


def busiest(fakes: Fakes, attribute: str) -> int:
    counts: dict = {}
    for row in fakes.stash.store.scenes():
        for entity_id in getattr(row, attribute):
            counts[entity_id] = counts.get(entity_id, 0) + 1
    return max(counts, key=lambda entity_id: counts[entity_id])


def items(fakes: Fakes, scene_ids) -> list:
    return [fakes.plex.item(fakes.rating_keys[i][0]) for i in scene_ids]


def entity_hook(fakes: Fakes, hook_type: str, entity_id: int, input_value, input_fields=None):
    run = fakes.run_plugin(fakes.hook_stdin(hook_type, entity_id, input_value, input_fields))
    assert run.returncode == 0 and run.stderr == "", run.stderr
    return run.result


def test_a_tag_rename_reaches_every_affected_plex_item_and_nothing_else(fakes_factory):
    fakes = fakes_factory(scenes=200, seed=5)
    first_sync(fakes)
    tag_id = busiest(fakes, "tag_ids")
    affected = movies_with(fakes, "tag_ids", tag_id)
    assert len(affected) >= 5
    old = fakes.stash.store.tags[tag_id].name
    writes_before = fakes.plex_writes()
    letters_before = {letter.scene_id for letter in fakes.dead_letters()}

    fakes.stash.store.rename("tag", tag_id, "Renamed In Stash")
    result = entity_hook(fakes, "Tag.Update.Post", tag_id, {"id": str(tag_id), "name": "Renamed In Stash"},
                         ["id", "name"])
    assert result == {"output": f"queued tag {tag_id} (update); its scenes follow", "error": None}

    wait_until(lambda: all("Renamed In Stash" in item["genres"] for item in items(fakes, affected)),
               timeout=DEADLINE, message="the new tag name on every affected Plex item")
    fakes.wait_drained()
    assert not any(old in item["genres"] for item in items(fakes, affected))
    carriers = {row.id for row in fakes.stash.store.scenes() if tag_id in row.tag_ids}
    written = fakes.plex_writes() - writes_before
    assert written <= 3 * len(carriers)  # only the scenes that carry the tag were written
    with fakes.stores() as stores:
        assert stores.changes.count() == 0
    # The scenes the first sync could not write (ambiguous matches, ...) fail again, and no other.
    assert {letter.scene_id for letter in fakes.dead_letters()} <= letters_before


def test_a_performer_rename_reaches_the_actors_of_their_scenes(fakes_factory):
    fakes = fakes_factory(scenes=200, seed=6)
    first_sync(fakes)
    performer_id = busiest(fakes, "performer_ids")
    affected = movies_with(fakes, "performer_ids", performer_id)
    assert affected
    fakes.stash.store.rename("performer", performer_id, "Stage Name Two")
    entity_hook(fakes, "Performer.Update.Post", performer_id, {"id": str(performer_id), "name": "Stage Name Two"},
                ["id", "name"])
    wait_until(lambda: all(any(name.startswith("Stage Name Two") for name, _ in item["actors"])
                           for item in items(fakes, affected)),
               timeout=DEADLINE, message="the new performer name on every affected Plex item")


def test_an_update_of_a_field_plex_does_not_show_queues_nothing(fakes_factory):
    fakes = fakes_factory(scenes=20, seed=7)
    performer_id = next(iter(fakes.stash.store.performers))
    result = entity_hook(fakes, "Performer.Update.Post", performer_id,
                         {"id": str(performer_id), "birthdate": "1990-02-03", "details": "bio"},
                         ["id", "birthdate", "details"])
    assert result == {"output": "nothing PlexSync syncs changed", "error": None}
    assert not (fakes.data_dir / "queue.db").exists() or fakes.queue_rows() == 0
    assert not fakes.drainer_running()


def test_a_deleted_tag_leaves_plex_and_a_merge_brings_the_destination(fakes_factory):
    fakes = fakes_factory(scenes=200, seed=8)
    first_sync(fakes)
    store = fakes.stash.store
    by_use = sorted(store.tags, key=lambda t: -sum(t in row.tag_ids for row in store.scenes()))
    gone, source, destination = by_use[:3]
    gone_name, destination_name = store.tags[gone].name, store.tags[destination].name
    lost = movies_with(fakes, "tag_ids", gone)
    moved = movies_with(fakes, "tag_ids", source)

    store.destroy_tag(gone)
    entity_hook(fakes, "Tag.Destroy.Post", gone, {"id": str(gone)})
    store.merge_tags([source], destination)
    entity_hook(fakes, "Tag.Merge.Post", destination, {"source": [str(source)], "destination": str(destination)})

    wait_until(lambda: not any(gone_name in item["genres"] for item in items(fakes, lost)),
               timeout=DEADLINE, message="the deleted tag gone from Plex")
    wait_until(lambda: all(destination_name in item["genres"] for item in items(fakes, moved)),
               timeout=DEADLINE, message="the merged tag's scenes carrying the destination")


def test_status_shows_a_rename_still_being_queued(fakes_factory):
    from sync_queue.rows import enqueue_entity_change

    fakes = fakes_factory(scenes=10, seed=9)
    enqueue_entity_change(fakes.data_dir, "tag", 3, "update", ("name",))
    enqueue_entity_change(fakes.data_dir, "performer", 2, "destroy")
    run = fakes.run_task("status")
    assert run.error is None
    assert "renames being queued: tag 3 renamed; performer 2 deleted" in run.output
