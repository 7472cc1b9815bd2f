"""Stash's scene JSON → Scene, and every GraphQL document stash/ sends against Stash's REAL schema."""
from datetime import datetime
from functools import lru_cache

import pytest
from graphql import build_schema, parse, validate

from common.errors import PermanentError
from common.models import Performer, Scene, SceneFile
from devkit.fakes.stash_schema import FAKE_SDL_PATH
from devkit.shared_data import STASH_SCHEMA
from stash import scenes as gql
from stash.scenes import is_placeholder_image, recent_cutoff, scene_filter, scene_from_graphql

FULL = {
    "id": "42",
    "title": "  Sunset Drive  ",
    "details": "A long day.",
    "director": "Jane Doe",
    "date": "2024-05-06",
    "rating100": 80,
    "organized": True,
    "updated_at": "2024-05-07T10:11:12+02:00",
    "files": [{"path": "/data/videos/a.mp4", "size": 1234567890123},
              {"path": "D:\\Stash\\b.mkv", "size": "42"}],
    "paths": {"screenshot": "http://stash:9999/scene/42/screenshot?t=1715069472"},
    "studio": {"name": "Vertex", "parent_studio": {"name": "Vertex Group"}},
    "performers": [
        {"name": "Anna Smith", "image_path": "http://stash:9999/performer/1/image?t=17"},
        {"name": "Zoë Müller", "image_path": "http://stash:9999/performer/2/image?t=17&default=true"},
        {"name": "Anna Smith", "image_path": "http://stash:9999/performer/3/image?t=17"},
        {"name": "Anna Smith", "disambiguation": "EU", "image_path": "http://stash:9999/performer/4/image?t=1"},
    ],
    "tags": [{"name": "Outdoor"}, {"name": "🎬"}, {"name": "Outdoor"}],
    "groups": [{"group": {"name": "Summer Collection"}}],
}


@lru_cache(maxsize=None)
def schema(path):
    return build_schema(path.read_text(encoding="utf-8"))


def test_full_scene_maps_every_field():
    scene = scene_from_graphql(FULL)
    assert scene == Scene(
        id=42, title="Sunset Drive", details="A long day.", date="2024-05-06", rating100=80,
        studio="Vertex", parent_studio="Vertex Group",
        performers=(Performer("Anna Smith", "http://stash:9999/performer/1/image?t=17"),
                    Performer("Zoë Müller", None),
                    Performer("Anna Smith (EU)", "http://stash:9999/performer/4/image?t=1")),
        tags=("Outdoor", "🎬"), director="Jane Doe", groups=("Summer Collection",),
        files=(SceneFile("/data/videos/a.mp4", 1234567890123), SceneFile("D:\\Stash\\b.mkv", 42)),
        screenshot_url="http://stash:9999/scene/42/screenshot?t=1715069472",
        updated_at="2024-05-07T10:11:12+02:00",
    )


def test_bare_scan_created_scene_maps_to_defaults():
    raw = {"id": "7", "title": None, "details": None, "director": None, "date": None, "rating100": None,
           "organized": False, "updated_at": "2024-01-01T00:00:00Z", "files": [], "paths": {"screenshot": None},
           "studio": None, "performers": [], "tags": [], "groups": []}
    assert scene_from_graphql(raw) == Scene(id=7, updated_at="2024-01-01T00:00:00Z")


def test_missing_keys_are_tolerated():
    assert scene_from_graphql({"id": 3}) == Scene(id=3)


@pytest.mark.parametrize("raw_date, expected", [("2024-05-06", "2024-05-06"), ("2024-05", "2024-05-01"),
                                                ("2024", "2024-01-01"), ("", None), ("05/06/2024", None),
                                                (None, None)])
def test_dates_are_full_days_for_plex(raw_date, expected):
    assert scene_from_graphql({"id": 1, "date": raw_date}).date == expected


def test_file_paths_are_kept_verbatim():
    raw = {"id": 1, "files": [{"path": " /data/with space .mp4 ", "size": None}, {"path": ""}, "junk"]}
    assert scene_from_graphql(raw).files == (SceneFile(" /data/with space .mp4 ", None),)


@pytest.mark.parametrize("raw", [{"title": "x"}, {"id": "abc"}, {"id": None}, "not a dict"])
def test_scene_without_numeric_id_is_a_permanent_error(raw):
    with pytest.raises(PermanentError):
        scene_from_graphql(raw)


@pytest.mark.parametrize("url, placeholder", [
    ("http://s/performer/1/image?t=1", False),
    ("http://s/performer/1/image?t=1&default=true", True),
    ("http://s/performer/1/image?default=TRUE&t=1", True),
    ("http://s/performer/1/image?default=false", False),
    ("", True), (None, True),
])
def test_placeholder_performer_images(url, placeholder):
    assert is_placeholder_image(url) is placeholder


def test_scene_filter_builds_text_and_id_criteria():
    assert scene_filter() == {}
    assert scene_filter("2026-01-10T12:00") == {"updated_at": {"value": "2026-01-10T12:00", "modifier": "GREATER_THAN"}}
    assert scene_filter(None, 500) == {"id": {"value": 500, "modifier": "GREATER_THAN"}}


def test_recent_cutoff_is_minute_text_in_local_time():
    assert recent_cutoff(24, now=datetime(2026, 1, 11, 12, 0, 59)) == "2026-01-10T12:00"
    assert recent_cutoff(1.5, now=datetime(2026, 3, 1, 0, 10)) == "2026-02-28T22:40"


@pytest.mark.parametrize("name", sorted(gql.DOCUMENTS))
def test_documents_are_valid_against_the_real_stash_schema(name):
    document = parse(gql.DOCUMENTS[name])
    assert validate(schema(STASH_SCHEMA), document) == []
    assert document.definitions[0].name.value == name


@pytest.mark.parametrize("name", sorted(gql.DOCUMENTS))
def test_documents_stay_inside_the_fake_stash_schema(name):
    assert validate(schema(FAKE_SDL_PATH), parse(gql.DOCUMENTS[name])) == []


@pytest.mark.parametrize("document", gql.STASHAPI_CONNECT)
def test_stashapi_connect_queries_are_valid_against_the_real_schema(document):
    assert validate(schema(STASH_SCHEMA), parse(document)) == []


def test_scene_fragment_asks_only_for_mapped_fields():
    fragment = parse(gql.SCENE_FRAGMENT).definitions[0]
    top = [selection.name.value for selection in fragment.selection_set.selections]
    assert top == ["id", "title", "details", "director", "date", "rating100", "updated_at",
                   "files", "paths", "studio", "performers", "tags", "groups"]


def test_tag_ancestors_are_read_from_the_parents_chain():
    raw = {"id": 4, "tags": [{"name": "Plain", "parents": []},
                             {"name": "To Review", "parents": [{"name": "Workflow", "parents": [{"name": "Meta"}]},
                                                               {"name": "Other"}]}]}
    scene = scene_from_graphql(raw)
    assert scene.tags == ("Plain", "To Review")
    assert scene.tag_parents == (("To Review", ("Workflow", "Meta", "Other")),)
