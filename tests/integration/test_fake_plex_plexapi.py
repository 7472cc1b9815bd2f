"""The fake Plex against the real client: everything PlexSync will ask of plexapi 4.18 works,
fails and misbehaves over loopback HTTP the way it would against a real server."""
from __future__ import annotations

import subprocess
import sys
import urllib.error
from datetime import datetime, timezone
from typing import Iterator

import pytest
import requests
from plexapi.exceptions import BadRequest, NotFound, Unauthorized
from plexapi.server import PlexServer

from devkit.fakes.base import FakeControl
from devkit.fakes.plex_server import FakePlexServer
from devkit.shared_data import REPO_ROOT
from tests.helpers.procs import wait_until

LISTING = "GET /library/sections/{id}/all"
EDIT = "PUT /library/sections/{id}/all"


@pytest.fixture
def plex() -> Iterator[FakePlexServer]:
    fake = FakePlexServer()
    fake.add_section(1, "Videos", "movie", ["/data/videos"])
    fake.add_section(2, "Series", "show", ["/data/series"])
    fake.start()
    yield fake
    fake.stop()


def connect(fake: FakePlexServer, token: str | None = None, timeout: float = 5) -> PlexServer:
    return PlexServer(fake.url, token or fake.token, session=requests.Session(), timeout=timeout)


def add_movies(fake: FakePlexServer, count: int) -> list[int]:
    return [fake.add_movie(1, [f"/data/videos/m{i:04}.mp4"], f"Movie {i:04}") for i in range(count)]


def test_connects_and_lists_sections(plex: FakePlexServer) -> None:
    server = connect(plex)
    assert server.friendlyName == "Fake Plex"
    assert server.machineIdentifier == "fakeplex0001"
    sections = {s.key: s for s in server.library.sections()}
    assert sections[1].type == "movie" and sections[1].locations == ["/data/videos"]
    assert sections[1].agent == "tv.plex.agents.none"
    assert sections[2].type == "show" and sections[2].title == "Series"


def test_paged_listing_returns_every_item_with_its_files(plex: FakePlexServer) -> None:
    keys = add_movies(plex, 250)
    plex.add_movie(1, ["/data/videos/multi/a.mp4", "/data/videos/multi/b.mp4"], "Multi")
    section = connect(plex).library.sectionByID(1)
    plex.reset_counts()

    items = section.all(container_size=40)

    assert sorted(item.ratingKey for item in items) == sorted(keys + [plex.find_by_file("/data/videos/multi/a.mp4")])
    files = {part.file: item.ratingKey for item in items for part in item.iterParts()}
    assert files["/data/videos/m0007.mp4"] == keys[7]
    assert {"/data/videos/multi/a.mp4", "/data/videos/multi/b.mp4"} <= files.keys()
    assert plex.count(LISTING) == 7
    assert section.totalViewSize() == 251


def test_listing_truncates_tags_but_metadata_has_them_all(plex: FakePlexServer) -> None:
    key = plex.add_movie(1, ["/data/videos/t.mp4"], "Tagged", genres=["a", "b", "c", "d"],
                         actors=["w", "x", "y", "z"], collections=["col"], labels=["lab"], locked={"title"})
    server = connect(plex)
    listed = server.library.sectionByID(1).all()[0]
    assert [g.tag for g in listed.genres] == ["a", "b"]
    assert len(listed.actors) == 3

    full = server.fetchItem(key)
    assert [g.tag for g in full.genres] == ["a", "b", "c", "d"]
    assert [a.tag for a in full.actors] == ["w", "x", "y", "z"]
    assert [c.tag for c in full.collections] == ["col"] and [lab.tag for lab in full.labels] == ["lab"]
    assert full.isLocked("title") and not full.isLocked("summary")
    assert full.librarySectionID == 1


def test_batch_edits_land_in_one_put_and_read_back(plex: FakePlexServer) -> None:
    key = plex.add_movie(1, ["/data/videos/e.mp4"], "Before")
    server = connect(plex)
    movie = server.fetchItem(key)
    before = plex.item(key)["updatedAt"]
    plex.reset_counts()

    movie.batchEdits()
    movie.editTitle("After").editSummary("A summary").editStudio("Studio").editContentRating("R")
    movie.editOriginallyAvailable("2021-02-03").editSortTitle("after, the").addCollection("Col")
    movie.saveEdits()

    assert plex.count(EDIT) == 1
    state = plex.item(key)
    assert (state["title"], state["summary"], state["studio"]) == ("After", "A summary", "Studio")
    assert state["originallyAvailableAt"] == "2021-02-03" and state["contentRating"] == "R"
    assert state["collections"] == ["Col"]
    assert {"title", "summary", "studio", "collection", "originallyAvailableAt"} <= state["locked"]
    assert state["updatedAt"] > before
    fresh = server.fetchItem(key)
    assert (fresh.title, fresh.summary, fresh.studio, fresh.titleSort) == ("After", "A summary", "Studio",
                                                                          "after, the")
    assert fresh.originallyAvailableAt.strftime("%Y-%m-%d") == "2021-02-03"
    assert fresh.isLocked("studio")


def test_add_then_remove_genres_with_commas_and_unicode(plex: FakePlexServer) -> None:
    key = plex.add_movie(1, ["/data/videos/g.mp4"], "Genres", genres=["Drama"])
    server = connect(plex)
    server.fetchItem(key).addGenre(["Sci-Fi, Space", "Čeština"])
    assert plex.item(key)["genres"] == ["Drama", "Sci-Fi, Space", "Čeština"]

    server.fetchItem(key).removeGenre(["Sci-Fi, Space", "Drama"])
    assert plex.item(key)["genres"] == ["Čeština"]
    assert [g.tag for g in server.fetchItem(key).genres] == ["Čeština"]


def test_actor_edits_through_edit_tags_and_raw_edit(plex: FakePlexServer) -> None:
    key = plex.add_movie(1, ["/data/videos/a.mp4"], "Actors")
    server = connect(plex)
    server.fetchItem(key).editTags("actor", ["Ann Actor"])
    server.fetchItem(key).edit(**{"actor[0].tag.tag": "Ann Actor", "actor[1].tag.tag": "Bob Actor",
                                  "actor[1].tag.thumb": "http://img/bob.jpg", "actor.locked": 1})
    assert plex.item(key)["actors"] == [("Ann Actor", None), ("Bob Actor", "http://img/bob.jpg")]
    assert [(a.tag, a.thumb) for a in server.fetchItem(key).actors][1] == ("Bob Actor", "http://img/bob.jpg")
    assert "actor" in plex.item(key)["locked"]


def test_replace_mode_shows_why_tags_must_not_come_from_a_listing(plex: FakePlexServer) -> None:
    plex.tag_edit_mode = "replace"
    key = plex.add_movie(1, ["/data/videos/r.mp4"], "Replace", genres=["a", "b", "c"])
    listed = connect(plex).library.sectionByID(1).all()[0]
    listed.addGenre("d")
    assert plex.item(key)["genres"] == ["a", "b", "d"]


def test_rate_sets_and_clears_user_rating(plex: FakePlexServer) -> None:
    key = plex.add_movie(1, ["/data/videos/r.mp4"], "Rated")
    server = connect(plex)
    plex.plays.advance_clock(3600)
    before = plex.plays.now()
    server.fetchItem(key).rate(8)
    after = plex.plays.now()
    assert plex.item(key)["userRating"] == 8.0
    rated = server.fetchItem(key)
    assert rated.userRating == 8.0 and before <= rated.lastRatedAt.timestamp() <= after  # rated now
    server.query(f"/:/rate?key={key}&identifier=com.plexapp.plugins.library&rating=6&ratedAt=1700000000",
                 method=server._session.put)
    assert server.fetchItem(key).lastRatedAt.timestamp() == 1_700_000_000
    with pytest.raises(BadRequest):  # a rating dated in the future
        server.query(f"/:/rate?key={key}&identifier=com.plexapp.plugins.library&rating=6&ratedAt={plex.plays.now() + 60}",
                     method=server._session.put)
    server.fetchItem(key).rate()
    assert plex.item(key)["userRating"] is None


def test_poster_and_art_uploads(plex: FakePlexServer, tmp_path) -> None:
    key = plex.add_movie(1, ["/data/videos/p.mp4"], "Images")
    image = tmp_path / "poster.jpg"
    image.write_bytes(b"\xff\xd8\xff fake jpeg")
    movie = connect(plex).fetchItem(key)

    movie.uploadPoster(filepath=str(image))
    assert plex.item(key)["locked"] == {"thumb"}  # an upload selects and locks the image
    movie.uploadPoster(url="http://stash.local/scene/1/screenshot")
    movie.uploadArt(filepath=str(image))
    assert plex.item(key)["locked"] == {"thumb", "art"}
    assert connect(plex).fetchItem(key).isLocked("thumb")

    state = plex.item(key)
    assert state["posters"] == [b"\xff\xd8\xff fake jpeg", "http://stash.local/scene/1/screenshot"]
    assert state["poster"] == "http://stash.local/scene/1/screenshot"
    assert state["arts"] == [b"\xff\xd8\xff fake jpeg"]
    posters = movie.posters()
    assert [p.selected for p in posters] == [False, True]
    movie.setPoster(posters[0])
    assert plex.item(key)["poster"] == b"\xff\xd8\xff fake jpeg"
    movie.uploadPoster(filepath=str(image))  # the same bytes again: the same image, selected again
    assert len(plex.item(key)["posters"]) == 2
    assert [p.ratingKey for p in movie.posters()] == [p.ratingKey for p in posters]


def test_indexed_tags_replace_the_set_on_a_single_item_edit(plex: FakePlexServer) -> None:
    assert plex.tag_edit_mode == "replace"  # the default, as on a real server
    key = plex.add_movie(1, ["/data/videos/t.mp4"], "Tags", genres=["a", "b"])
    server = connect(plex)
    server.fetchItem(key).edit(**{"genre[0].tag.tag": "c"})
    assert plex.item(key)["genres"] == ["c"]
    server.fetchItem(key).addGenre("d")  # plexapi's editTags resends the item's current tags
    assert plex.item(key)["genres"] == ["c", "d"]
    plex.tag_edit_mode = "add"
    server.fetchItem(key).edit(**{"genre[0].tag.tag": "e"})
    assert plex.item(key)["genres"] == ["c", "d", "e"]


def test_page_sizes_over_1000_are_refused(plex: FakePlexServer) -> None:
    for n in range(3):
        plex.add_movie(1, [f"/data/videos/page{n}.mp4"], f"Page {n}")
    section = connect(plex).library.sectionByID(1)
    assert len(section.all(container_size=1000)) == 3
    with pytest.raises(BadRequest):
        section.all(container_size=1001)


def test_errors_map_to_plexapi_exceptions(plex: FakePlexServer) -> None:
    key = plex.add_movie(1, ["/data/videos/x.mp4"], "Errors")
    with pytest.raises(Unauthorized):
        connect(plex, token="wrong-token")
    server = connect(plex)
    with pytest.raises(NotFound):
        server.fetchItem(999999)
    movie = server.fetchItem(key)
    with pytest.raises(BadRequest):
        movie.editOriginallyAvailable("03/02/2021")
    with pytest.raises(BadRequest):
        movie.edit(**{"nonsense.value": "x"})
    with pytest.raises(BadRequest):
        movie.edit(**{"type": 4, "title.value": "wrong type"})
    assert plex.item(key)["title"] == "Errors"


def test_episodes_are_listed_and_edited(plex: FakePlexServer) -> None:
    first = plex.add_episode(2, ["/data/series/show/s01e01.mkv"], "Pilot", show_title="Show", season=1, episode=1)
    plex.add_episode(2, ["/data/series/show/s01e02.mkv"], "Second", show_title="Show", season=1, episode=2)
    section = connect(plex).library.sectionByID(2)

    episodes = section.searchEpisodes()
    assert [(e.grandparentTitle, e.seasonNumber, e.index, e.title) for e in episodes] == [
        ("Show", 1, 1, "Pilot"), ("Show", 1, 2, "Second")]
    assert [e.ratingKey for e in section.all(libtype="episode")] == [e.ratingKey for e in episodes]
    assert episodes[0].media[0].parts[0].file == "/data/series/show/s01e01.mkv"

    episodes[0].batchEdits().editTitle("Renamed").editSummary("About").addLabel("synced")
    episodes[0].saveEdits()
    state = plex.item(first)
    assert (state["title"], state["summary"], state["labels"]) == ("Renamed", "About", ["synced"])
    assert state["grandparentTitle"] == "Show" and state["parentIndex"] == 1


def test_partial_scan_makes_pending_files_appear(plex: FakePlexServer) -> None:
    plex.add_pending_file(1, "/data/videos/new/clip.mp4", "Clip")
    plex.add_pending_file(1, "/data/videos/other/later.mp4", "Later")
    plex.scan_delay = 0.05
    section = connect(plex).library.sectionByID(1)
    assert plex.find_by_file("/data/videos/new/clip.mp4") is None

    section.update(path="/data/videos/new")

    key = wait_until(lambda: plex.find_by_file("/data/videos/new/clip.mp4"), timeout=10)
    assert plex.item(key)["title"] == "Clip"
    assert plex.refreshes == [(1, "/data/videos/new")]
    assert plex.find_by_file("/data/videos/other/later.mp4") is None
    assert [item.title for item in section.all()] == ["Clip"]


def test_fault_injection_surfaces_as_client_errors(plex: FakePlexServer) -> None:
    key = plex.add_movie(1, ["/data/videos/f.mp4"], "Faults")
    server = connect(plex)
    plex.fail_next(1, status=503, route="/library/metadata/{ids}")
    with pytest.raises(BadRequest, match="503"):
        server.fetchItem(key)
    assert server.fetchItem(key).title == "Faults"

    plex.drop_next(1)
    with pytest.raises(requests.ConnectionError):
        server.fetchItem(key)

    plex.down()
    with pytest.raises(requests.ConnectionError):
        server.fetchItem(key)
    plex.up()
    assert server.fetchItem(key).title == "Faults"


def test_an_outage_can_begin_once_a_route_has_answered(plex: FakePlexServer) -> None:
    key = plex.add_movie(1, ["/data/videos/o.mp4"], "Outage")
    server = connect(plex)
    plex.outage_after("GET /library/metadata/{ids}", 30.0)
    plex.fail_next(1, status=500, route="/library/metadata/{ids}")
    with pytest.raises(BadRequest, match="500"):  # a failed answer does not start it
        server.fetchItem(key)
    assert plex.count("outage") == 0
    assert server.fetchItem(key).title == "Outage"  # this answer starts it
    with pytest.raises(BadRequest, match="502"):
        server.fetchItem(key)
    assert plex.count("outage") == 1
    plex.reset()
    assert server.fetchItem(key).title == "Outage"


def test_hang_times_the_client_out_and_the_edit_lands_late(plex: FakePlexServer) -> None:
    key = plex.add_movie(1, ["/data/videos/h.mp4"], "Hang")
    impatient = connect(plex, timeout=0.5)
    movie = impatient.fetchItem(key)
    plex.hang_next(1, seconds=1.5, route="/library/sections/{id}/all", method="PUT")

    with pytest.raises(requests.exceptions.Timeout):
        movie.editTitle("Late")

    wait_until(lambda: plex.item(key)["title"] == "Late", timeout=10)


def test_latency_and_counts_per_route(plex: FakePlexServer) -> None:
    key = plex.add_movie(1, ["/data/videos/c.mp4"], "Counted")
    server = connect(plex)
    server.library.sections()
    plex.reset_counts()
    plex.latency(50)
    server.fetchItem(key).editSummary("x")
    plex.latency(0)

    assert plex.counts() == {"GET /library/metadata/{ids}": 1, EDIT: 1}
    log = plex.request_log()
    assert [entry["route"] for entry in log] == ["GET /library/metadata/{ids}", EDIT]
    assert all(entry["status"] == 200 and entry["elapsed_ms"] >= 45 for entry in log)
    assert ("summary.value", "x") in log[1]["query"]


def test_control_api_from_another_process(plex: FakePlexServer) -> None:
    key = plex.add_movie(1, ["/data/videos/o.mp4"], "Other process")
    server = connect(plex)
    script = ("import sys; from devkit.fakes.base import FakeControl; c = FakeControl(sys.argv[1]); "
              "c.fail_next(1, status=500, method='GET'); print(sorted(c.counts()))")
    done = subprocess.run([sys.executable, "-c", script, plex.url], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60, check=True)
    assert "GET /" in done.stdout
    with pytest.raises(BadRequest, match="500"):
        server.fetchItem(key)

    FakeControl(plex.url).down(0.5)
    with pytest.raises(requests.ConnectionError):
        server.fetchItem(key)
    assert wait_until(lambda: _reachable(server, key), timeout=10)


def _reachable(server: PlexServer, key: int) -> bool:
    try:
        return server.fetchItem(key).title == "Other process"
    except requests.ConnectionError:
        return False


def test_recently_added_and_sorted_searches(plex: FakePlexServer) -> None:
    keys = [plex.add_movie(1, [f"/data/videos/s{i}.mp4"], f"Sorted {i}", added_at=1_600_000_000 + (i * 7) % 12)
            for i in range(12)]
    newest_first = sorted(keys, key=lambda k: plex.item(k)["addedAt"], reverse=True)
    section = connect(plex).library.sectionByID(1)

    assert [m.ratingKey for m in section.recentlyAdded(maxresults=5)] == newest_first[:5]
    assert [m.ratingKey for m in section.search(sort="addedAt:asc", container_size=5)] == newest_first[::-1]
    assert [m.title for m in section.search(sort="titleSort:desc", maxresults=2)] == ["Sorted 9", "Sorted 8"]
    cutoff = datetime.fromtimestamp(1_600_000_008, tz=timezone.utc)
    assert [m.ratingKey for m in section.search(filters={"addedAt>>": cutoff}, sort="addedAt:desc")] == \
        newest_first[:3]
    with pytest.raises(NotFound):  # plexapi checks sorts against the <Meta> the fake advertises
        section.search(sort="bogus")


def test_recently_added_episodes(plex: FakePlexServer) -> None:
    for n, show in enumerate(("Old Show", "New Show")):
        plex.add_episode(2, [f"/data/series/{show}/e1.mkv"], f"{show} e1", show_title=show, season=1, episode=1,
                         added_at=1_600_000_000 + n)
    section = connect(plex).library.sectionByID(2)
    assert [e.grandparentTitle for e in section.recentlyAdded(libtype="episode")] == ["New Show", "Old Show"]
    assert [s.title for s in section.recentlyAdded()] == ["New Show", "Old Show"]


def test_removed_items_are_gone_for_plexapi(plex: FakePlexServer) -> None:
    movie = plex.add_movie(1, ["/data/videos/removed.mp4"], "Removed")
    kept = plex.add_movie(1, ["/data/videos/kept.mp4"], "Kept")
    episode = plex.add_episode(2, ["/data/series/show/s01e01.mkv"], "Only", show_title="Show", season=1, episode=1)
    show = plex.item(episode)["grandparentRatingKey"]
    server = connect(plex)
    assert server.fetchItem(movie).title == "Removed"

    assert plex.remove_item(movie) == [movie]
    with pytest.raises(NotFound):
        server.fetchItem(movie)
    videos = server.library.sectionByID(1)
    assert [m.ratingKey for m in videos.all()] == [kept] and videos.totalViewSize() == 1

    removed = FakeControl(plex.url).call("remove_item", {"rating_key": episode})["result"]  # another process's way
    assert removed[0] == episode and removed[-1] == show and len(removed) == 3  # its season went too
    for key in removed:
        with pytest.raises(NotFound):
            server.fetchItem(key)
    series = server.library.sectionByID(2)
    assert series.all() == [] and series.searchEpisodes() == []
    with pytest.raises(urllib.error.HTTPError) as unknown:
        FakeControl(plex.url).call("remove_item", {"rating_key": episode})
    assert unknown.value.code == 400


def test_idle_keep_alive_connections_are_closed_by_the_server(plex: FakePlexServer) -> None:
    assert plex.idle_timeout == 20.0  # the default, about what a real server allows
    plex.idle_timeout = 0.3
    with requests.Session() as http:
        headers = {"X-Plex-Token": plex.token}
        assert http.get(f"{plex.url}/identity", headers=headers).status_code == 200
        assert plex.open_connections() == 1
        wait_until(lambda: plex.open_connections() == 0, timeout=10, message="the idle connection to close")
        assert http.get(f"{plex.url}/identity", headers=headers).status_code == 200  # a new connection


def test_collection_tags_make_collection_objects_plexapi_can_read(plex: FakePlexServer) -> None:
    first = plex.add_movie(1, ["/data/videos/c1.mp4"], "One", collections=["Alpha", "Beta", "Gamma"])
    second = plex.add_movie(1, ["/data/videos/c2.mp4"], "Two")
    server = connect(plex)
    server.fetchItem(second).edit(**{"collection[0].tag.tag": "Alpha"})
    section = server.library.sectionByID(1)
    found = {c.title: c for c in section.collections()}
    assert {title: c.childCount for title, c in found.items()} == {"Alpha": 2, "Beta": 1, "Gamma": 1}
    assert sorted(i.title for i in found["Alpha"].items()) == ["One", "Two"]
    listed = next(i for i in section.all() if i.ratingKey == first)
    assert len(listed.collections) == 2  # a listing carries at most two collection tags
    server.fetchItem(first).removeCollection("Beta")
    emptied = {c.title: c for c in section.collections()}["Beta"]  # its last member left:
    assert emptied.childCount == 0  # Plex keeps it on the shelf (REAL-SERVERS.md P14)
    emptied.delete()
    assert "Beta" not in {c.title for c in section.collections()}
    assert plex.item(first)["collections"] == ["Alpha", "Gamma"]
