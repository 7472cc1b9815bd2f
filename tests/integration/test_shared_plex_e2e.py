"""A shared Plex, end to end: what people and other tools put on items survives every sync.

People make collections by hand ("My Favorites"), share items with family by label ("Shared
with Mum"), and Kometa labels every item whose poster it decorated (`Overlay`). PlexSync
removes a collection or label from an item only when it added that value itself (README
"Labels, and tags that stay in Stash"). Driven as a user would: the real plexapi edits Plex as
Plex Web does, the scene is edited in Stash and reaches Plex through the real hook and drainer,
then a forced resync of every scene; the preview and `explain` say which values are PlexSync's.
"""
from __future__ import annotations

import json

import pytest
from plexapi.server import PlexServer

from tests.integration.e2e import Fakes, wait_until

FAVORITES, OVERLAY, MUM = "My Favorites", "Overlay", "Shared with Mum"


def _scene(fakes: Fakes, ids, at_least_tags: int) -> int:
    store = fakes.stash.store
    return next(i for i in sorted(ids) if len(set(store.scene(i).tag_ids)) >= at_least_tags
                and store.scene(i).studio_id is not None and len(fakes.rating_keys.get(i, ())) == 1)


def _by_hand_in_plex(fakes: Fakes, rating_key: int, collection: bool) -> None:
    """What a person does in Plex Web (plexapi's edit mixins send the same requests)."""
    item = PlexServer(fakes.plex.url, fakes.plex.token).fetchItem(rating_key)
    if collection:
        item.addCollection(FAVORITES)
        item = item.reload()
    item.addLabel([OVERLAY, MUM])


def _item(fakes: Fakes, scene_id: int) -> dict:
    return fakes.plex.item(fakes.rating_keys[scene_id][0])


def _hand_made_stays(fakes: Fakes, movie: int, episode: int) -> None:
    movie_item, episode_item = _item(fakes, movie), _item(fakes, episode)
    assert FAVORITES in movie_item["collections"], movie_item["collections"]
    assert {OVERLAY, MUM} <= set(movie_item["labels"]), movie_item["labels"]
    assert {OVERLAY, MUM} <= set(episode_item["labels"]), episode_item["labels"]


@pytest.mark.parametrize("with_label_tags", [True, False], ids=["label_tags", "defaults"])
def test_hand_made_collections_and_labels_survive_edits_and_a_forced_resync(fakes_factory, with_label_tags):
    fakes = fakes_factory(scenes=120, seed=3)
    world, store = fakes.world, fakes.stash.store
    movie = _scene(fakes, world.matchable_ids - world.episode_ids - world.multi_file_ids, 2)
    episode = _scene(fakes, world.matchable_ids & world.episode_ids, 2)
    names = {tag_id: store.tags[tag_id].name for tag_id in store.tags}
    movie_tags = sorted(set(store.scene(movie).tag_ids))
    episode_tags = sorted(set(store.scene(episode).tag_ids))
    labelled = names[movie_tags[0]]
    if with_label_tags:
        fakes.configure(label_tags=labelled)

    run = fakes.run_task("sync_all")
    assert run.returncode == 0 and run.error is None, run.stderr[-2000:]
    fakes.wait_drained()
    studio = store.studios[store.scene(movie).studio_id].name
    assert studio in _item(fakes, movie)["collections"]
    _by_hand_in_plex(fakes, fakes.rating_keys[movie][0], collection=True)
    _by_hand_in_plex(fakes, fakes.rating_keys[episode][0], collection=False)
    _hand_made_stays(fakes, movie, episode)

    # The two scenes edited in Stash: the edits arrive, the hand-made values stay.
    fakes.edit_in_stash(movie, title="Edited movie")
    fakes.edit_in_stash(episode, title="Edited episode")
    wait_until(lambda: _item(fakes, movie)["title"] == "Edited movie"
               and _item(fakes, episode)["title"] == "Edited episode", timeout=60, message="the edits in Plex")
    _hand_made_stays(fakes, movie, episode)
    if with_label_tags:
        assert labelled in _item(fakes, movie)["labels"]

    # The preview and explain say which values are PlexSync's and which are kept.
    fakes.edit_in_stash(movie, title="Edited again")
    fakes.wait_drained()
    preview = fakes.run_cli("sync", "--dry-run", "--force", "--json")
    assert preview.returncode == 0, preview.stderr[-2000:]
    scenes = {doc["scene_id"]: doc for doc in map(json.loads, preview.stdout.splitlines()) if "scene_id" in doc}
    collections = scenes[movie]["fields"]["collection"]
    assert studio in collections["plexsync_values"] and FAVORITES in collections["others_kept"]
    assert {OVERLAY, MUM} <= set(scenes[episode]["fields"]["label"]["others_kept"])
    explained = fakes.run_cli("--json", "explain", str(movie))
    assert explained.returncode == 0, explained.stderr
    lines = json.loads(explained.stdout)["lines"]
    line = next(text for text in lines if "collections PlexSync added" in text)
    assert repr(studio) in line.split(";")[0] and repr(FAVORITES) in line.split(";")[1]

    # A forced resync of every scene leaves them too.
    run = fakes.run_task("sync_all_force")
    assert run.returncode == 0 and run.error is None, run.stderr[-2000:]
    fakes.wait_drained()
    _hand_made_stays(fakes, movie, episode)

    # A tag removed in Stash still leaves Plex: the movie's label (label_tags) or genre, the episode's label.
    dropped_movie, dropped_episode = names[movie_tags[0]], names[episode_tags[0]]
    fakes.edit_in_stash(movie, tag_ids=[str(t) for t in movie_tags[1:]])
    fakes.edit_in_stash(episode, tag_ids=[str(t) for t in episode_tags[1:]])
    wait_until(lambda: dropped_episode not in _item(fakes, episode)["labels"]
               and dropped_movie not in _item(fakes, movie)["genres"], timeout=60, message="the tags to leave Plex")
    assert dropped_movie not in _item(fakes, movie)["labels"]
    _hand_made_stays(fakes, movie, episode)
    assert not fakes.dead_letters() or all(letter.scene_id in world.ambiguous_ids for letter in fakes.dead_letters())


def _collection_requests(fakes: Fakes, rating_key: int) -> dict:
    log = fakes.plex.request_log()
    return {"summary": sum(1 for e in log if e["method"] == "PUT" and ("type", "18") in e["query"]
                           and ("id", str(rating_key)) in e["query"]),
            "poster": sum(1 for e in log if e["method"] == "POST" and e["path"] == f"/library/metadata/{rating_key}/posters")}


def test_collections_plexsync_made_get_their_art_once_and_go_when_emptied_hand_made_ones_never(fakes_factory):
    from devkit.fakes.stash_store import StudioRow

    fakes = fakes_factory(scenes=120, seed=3)
    world, store = fakes.world, fakes.stash.store
    movies = sorted(world.matchable_ids - world.episode_ids - world.multi_file_ids)[:3]
    studio_id = max(store.studios) + 1
    store.studios[studio_id] = StudioRow(studio_id, "Lonely Studio", None)
    fakes.stash.entity_images.set("studio", studio_id, image=True, details="About the lonely studio.")
    for scene_id in movies:
        fakes.stash.edit_scene(scene_id, studio_id=str(studio_id))
    run = fakes.run_task("sync_all")
    assert run.returncode == 0 and run.error is None, run.stderr[-2000:]
    fakes.wait_drained()
    section = fakes.plex.item(fakes.rating_keys[movies[0]][0])["librarySectionID"]
    made = fakes.plex.collections(section)["Lonely Studio"]
    assert sorted(made["members"]) == sorted(fakes.rating_keys[i][0] for i in movies)
    assert made["summary"] == "About the lonely studio." and made["poster"] is not None
    assert _collection_requests(fakes, made["ratingKey"]) == {"summary": 1, "poster": 1}  # once, not per scene

    # A hand-made collection on the same item, emptied by hand: Plex keeps it, and so does PlexSync.
    PlexServer(fakes.plex.url, fakes.plex.token).fetchItem(fakes.rating_keys[movies[0]][0]).addCollection(FAVORITES)
    PlexServer(fakes.plex.url, fakes.plex.token).fetchItem(fakes.rating_keys[movies[0]][0]).removeCollection(FAVORITES)
    assert fakes.plex.collections(section)[FAVORITES]["members"] == []

    # The studio's details change in Stash: the summary is sent once more, the poster not.
    fakes.plex.reset_counts()
    fakes.stash.entity_images.set("studio", studio_id, details="New words about it.")  # the image stays
    fakes.stash.edit_scene(movies[0], title="Touched")
    run = fakes.run_task("sync_all")
    assert run.returncode == 0 and run.error is None, run.stderr[-2000:]
    fakes.wait_drained()
    assert fakes.plex.collections(section)["Lonely Studio"]["summary"] == "New words about it."
    assert _collection_requests(fakes, made["ratingKey"]) == {"summary": 1, "poster": 0}

    # The studio removed from its scenes in Stash: the collection PlexSync made is deleted; the hand-made one stays.
    for scene_id in movies:
        fakes.edit_in_stash(scene_id, studio_id=None)
    wait_until(lambda: "Lonely Studio" not in fakes.plex.collections(section), timeout=60,
               message="the emptied collection PlexSync made to be deleted")
    assert FAVORITES in fakes.plex.collections(section)
    assert all("Lonely Studio" not in _item(fakes, i)["collections"] for i in movies)
