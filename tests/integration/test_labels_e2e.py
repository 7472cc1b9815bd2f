"""Labels and excluded tags end to end: Stash's tag hierarchy read over GraphQL, written by the drainer."""
from __future__ import annotations

from devkit.fakes.stash_store import TagRow
from tests.integration.e2e import Fakes


def _tagged(fakes: Fakes, scene_ids, at_least: int):
    rows = {row.id: row for row in fakes.world.stash_data.scenes}
    return next(rows[i] for i in sorted(scene_ids) if len(set(rows[i].tag_ids)) >= at_least
                and len(fakes.rating_keys.get(i, ())) == 1)


def test_child_of_an_excluded_tag_stays_out_and_label_tags_become_labels(fakes_factory):
    fakes = fakes_factory(scenes=200, seed=3)
    world = fakes.world
    plain = fakes.world.matchable_ids - world.episode_ids - world.multi_file_ids
    movie = _tagged(fakes, plain, 3)
    episode = _tagged(fakes, world.episode_ids & world.matchable_ids, 1)
    store = fakes.stash.store
    names = {tag_id: store.tags[tag_id].name for tag_id in store.tags}
    workflow_id = max(store.tags) + 1
    store.tags[workflow_id] = TagRow(workflow_id, "Workflow")
    hidden, labelled = sorted(set(movie.tag_ids))[:2]
    store.tags[hidden] = store.tags[hidden]._replace(parent_ids=(workflow_id,))
    fakes.configure(exclude_tags="workflow", label_tags=names[labelled])

    run = fakes.run_task("sync_all")
    assert run.returncode == 0 and run.error is None, run.stderr[-2000:]

    item = fakes.plex.item(fakes.rating_keys[movie.id][0])
    assert sorted(item["genres"]) == sorted({names[t] for t in movie.tag_ids} - {names[hidden]})
    assert item["labels"] == [names[labelled]]
    episode_item = fakes.plex.item(fakes.rating_keys[episode.id][0])
    assert episode_item["type"] == "episode" and episode_item["genres"] == []
    assert sorted(episode_item["labels"]) == sorted({names[t] for t in episode.tag_ids} - {names[hidden]})
