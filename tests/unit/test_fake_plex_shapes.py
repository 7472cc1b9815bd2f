"""Contract: the fake Plex answers in the XML shape of a real server.

For each capture of a real PMS (read from ../shared, never copied), every element path and
every attribute name at that path must also appear in the fake's answer; values may differ.
"""
from __future__ import annotations

import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

import pytest

from devkit.fakes.plex_server import FakePlexServer
from devkit.shared_data import PLEX_CAPTURES

# media_1.xml and children_20.xml write Media, Part and Stream as siblings of the Video,
# while a real server (and the fake) nests them as Video > Media > Part > Stream.
NESTED = {"Video/Part": "Video/Media/Part", "Video/Stream": "Video/Media/Part/Stream"}

MOVIE_FIELDS = dict(
    studio="Studio", summary="Summary", tagline="Tagline", contentRating="R", year=2000,
    originallyAvailableAt="2000-01-01", rating="9.0", audienceRating="9.5", ratingImage="rottentomatoes://x",
    audienceRatingImage="rottentomatoes://y", chapterSource="agent", primaryExtraKey="/library/metadata/9",
    viewCount=1, viewOffset=555, lastViewedAt=1505969509, art="/library/metadata/1/art/1",
    genres=["Sci-Fi", "Action"], directors=["Director"], writers=["Writer"], producers=["Producer"],
    countries=["USA"], actors=[("Actor 1", "http://img/1.jpg", "Character 1"), ("Actor 2", None, "Character 2")])


def attribute_paths(root: ET.Element) -> dict[str, set[str]]:
    paths: dict[str, set[str]] = {}

    def walk(element: ET.Element, parent: str) -> None:
        path = f"{parent}/{element.tag}" if parent else element.tag
        for short, nested in NESTED.items():
            path = path.replace(short, nested) if path.endswith(short) else path
        paths.setdefault(path, set()).update(element.attrib)
        for child in element:
            walk(child, path)

    walk(root, "")
    return paths


def missing_from(capture: str, answer: bytes) -> dict[str, set[str]]:
    expected = attribute_paths(ET.parse(Path(PLEX_CAPTURES) / capture).getroot())
    actual = attribute_paths(ET.fromstring(answer))
    return {path: names - actual.get(path, set()) for path, names in expected.items()
            if path not in actual or names - actual[path]}


@pytest.fixture(scope="module")
def plex() -> Iterator[FakePlexServer]:
    fake = FakePlexServer()
    fake.add_section(1, "Movies", "movie", ["/storage/movies"])
    fake.add_section(2, "TV Shows", "show", ["/storage/tvshows"])
    for i in (1, 2):
        fake.add_movie(1, [f"/storage/movies/movie{i}.mkv"], f"Movie {i}", **MOVIE_FIELDS)
    for i in (1, 2):
        fake.add_episode(2, [f"/storage/tvshows/show/e{i}.mkv"], f"Episode {i}", show_title="TV Show", season=1,
                         episode=i, summary="Summary", contentRating="TV-Y", originallyAvailableAt="2000-01-01",
                         viewCount=14, lastViewedAt=1438105107)
    fake.start()
    yield fake
    fake.stop()


def get(plex: FakePlexServer, path: str) -> bytes:
    request = urllib.request.Request(plex.url + path, headers={"X-Plex-Token": plex.token,  # and a size, as plexapi
                                                               "X-Plex-Container-Start": "0",
                                                               "X-Plex-Container-Size": "1000"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return answer.read()


@pytest.mark.parametrize("capture, path", [
    ("plex_server_base.xml", "/"),
    ("library_sections.xml", "/library/sections"),
    ("library_movies_all.xml", "/library/sections/1/all"),
    ("media_1.xml", "/library/metadata/1"),
    ("library_movies_size.xml",
     "/library/sections/1/all?includeCollections=0&X-Plex-Container-Start=0&X-Plex-Container-Size=0"),
    ("library_tvshows_size_episodes.xml",
     "/library/sections/2/all?includeCollections=0&type=4&X-Plex-Container-Start=0&X-Plex-Container-Size=0"),
    ("library_movies_filtertypes.xml",
     "/library/sections/1/all?includeMeta=1&X-Plex-Container-Start=0&X-Plex-Container-Size=0"),
])
def test_answer_has_every_element_and_attribute_of_the_capture(plex: FakePlexServer, capture: str,
                                                                path: str) -> None:
    assert missing_from(capture, get(plex, path)) == {}


def test_season_children_have_the_episode_shape(plex: FakePlexServer) -> None:
    season = plex.item(plex.find_by_file("/storage/tvshows/show/e1.mkv"))["parentRatingKey"]
    assert missing_from("children_20.xml", get(plex, f"/library/metadata/{season}/children")) == {}


def test_listing_nests_part_files_under_media(plex: FakePlexServer) -> None:
    root = ET.fromstring(get(plex, "/library/sections/1/all?type=1"))
    files = [part.get("file") for part in root.iterfind("Video/Media/Part")]
    assert files == ["/storage/movies/movie1.mkv", "/storage/movies/movie2.mkv"]
    assert root.find("Video/Media/Part/Stream") is None
    assert (root.get("size"), root.get("totalSize"), root.get("offset")) == ("2", "2", "0")


def test_meta_advertises_what_the_fake_implements(plex: FakePlexServer) -> None:
    root = ET.fromstring(get(plex, "/library/sections/2/all?type=4&includeMeta=1&X-Plex-Container-Size=0"))
    types = {t.get("type"): t for t in root.iterfind("Meta/Type")}
    assert list(types) == ["show", "season", "episode", "folder"] and types["episode"].get("active") == "1"
    for kind in ("show", "season", "episode"):  # every sort advertised is one the fake can do
        for sort in types[kind].iterfind("Sort"):
            assert get(plex, f"{types[kind].get('key')}&sort={sort.get('descKey')}&X-Plex-Container-Size=0")
    collections = ET.fromstring(get(plex, "/library/sections/1/collections?includeMeta=1"))
    assert [t.get("type") for t in collections.iterfind("Meta/Type")] == ["collection"]


def test_count_only_listing_has_no_children(plex: FakePlexServer) -> None:
    root = ET.fromstring(get(plex, "/library/sections/2/all?type=4&X-Plex-Container-Size=0"))
    assert (root.get("size"), root.get("totalSize"), len(root)) == ("0", "2", 0)
