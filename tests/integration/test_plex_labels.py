"""Labels, `label_tags`, `label_prefix` and `exclude_tags`, written by real plexapi to the fake Plex."""
from __future__ import annotations

import pytest

from tests.integration.plex_fixtures import full_scene

MOVIE = "/media/videos/studio/clip.mp4"
EPISODE = "/media/series/Show/S01E02.mkv"


@pytest.fixture(params=["add", "replace"])
def tag_mode(request, plex):
    plex.tag_edit_mode = request.param
    return request.param


def _episode(plex) -> int:
    return plex.add_episode(2, [EPISODE], "Episode 2", show_title="Show", season=1, episode=2)


def test_an_episode_gets_the_scene_tags_as_labels(plex, connect, tag_mode):
    rk = _episode(plex)
    connect().sync_scene(full_scene(EPISODE, tags=["Tag A", "Tag B"]), None)
    item = plex.item(rk)
    assert sorted(item["labels"]) == ["Tag A", "Tag B"] and item["genres"] == []
    assert "label" in item["locked"]


def test_label_tags_are_labels_on_movies_and_leave_when_removed(plex, connect, tag_mode):
    rk = plex.add_movie(1, [MOVIE], "clip")
    target = connect(label_tags="Kids OK, Family")
    scene = full_scene(MOVIE, tags=["Kids OK", "Cartoon", "Other"], tag_parents=(("Cartoon", ("Family",)),))
    first = target.sync_scene(scene, None)
    item = plex.item(rk)
    assert sorted(item["labels"]) == ["Cartoon", "Kids OK"]  # Cartoon is a child of Family
    assert sorted(item["genres"]) == ["Cartoon", "Kids OK", "Other"]
    target.sync_scene(full_scene(MOVIE, tags=["Other"]), first)
    item = plex.item(rk)
    assert item["labels"] == [] and item["genres"] == ["Other"]


def test_label_tags_on_episodes_join_the_tag_labels(plex, connect, tag_mode):
    rk = _episode(plex)
    connect(label_tags="kids ok", sync_tags=False).sync_scene(full_scene(EPISODE, tags=["Kids OK", "Other"]), None)
    assert plex.item(rk)["labels"] == ["Kids OK"]


def test_label_prefix_marks_tags_by_name(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "clip")
    connect(label_prefix="plex:").sync_scene(full_scene(MOVIE, tags=["plex:Shared", "Plain"]), None)
    assert plex.item(rk)["labels"] == ["plex:Shared"]


def test_without_label_settings_movie_labels_are_left_alone(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "clip", labels=["Set In Plex"])
    connect().sync_scene(full_scene(MOVIE), None)
    assert plex.item(rk)["labels"] == ["Set In Plex"]


def test_excluded_tags_and_their_children_stay_out_of_genres_and_labels(plex, connect, tag_mode):
    movie, episode = plex.add_movie(1, [MOVIE], "clip"), _episode(plex)
    target = connect(exclude_tags="Workflow", label_tags="Workflow, Kids OK")
    tags = ["Kids OK", "Workflow", "To Review", "Drama"]
    parents = (("To Review", ("Workflow",)),)
    target.sync_scene(full_scene(MOVIE, tags=tags, tag_parents=parents), None)
    target.sync_scene(full_scene(EPISODE, tags=tags, tag_parents=parents), None)
    assert sorted(plex.item(movie)["genres"]) == ["Drama", "Kids OK"]
    assert plex.item(movie)["labels"] == ["Kids OK"]
    assert sorted(plex.item(episode)["labels"]) == ["Drama", "Kids OK"]


def test_changing_exclude_tags_changes_what_a_sync_writes(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "clip")
    scene = full_scene(MOVIE, tags=["Keep", "Needs Cover"])
    first = connect().sync_scene(scene, None)
    assert connect().sync_scene(scene, first) is first  # unchanged: nothing to write
    second = connect(exclude_tags="needs cover").sync_scene(scene, first)
    assert second.metadata_hash != first.metadata_hash
    assert plex.item(rk)["genres"] == ["Keep"]
