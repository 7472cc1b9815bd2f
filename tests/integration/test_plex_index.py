"""The library index and matching against the fake Plex: request budgets, staleness, misses, ambiguity."""
from __future__ import annotations

import math

import pytest

from common.errors import ConfigurationError, NotInPlexYet, PermanentError
from tests.integration.plex_fixtures import full_scene, plex_requests, scene


def _fill(plex, count: int, section: int = 1) -> None:
    for i in range(count):
        plex.add_movie(section, [f"/media/videos/bulk/{i:06d}.mp4"], f"Bulk {i:06d}", added_at=1_600_000_000 + i)


def test_building_the_index_for_10000_items_costs_pages_plus_two(plex, connect):
    _fill(plex, 10_000)
    budget = math.ceil(10_000 / 500) + 2
    plex.reset_counts()
    target = connect(page_size=500, plex_library="Videos")
    assert target.refresh_index(full=True) == 10_000
    # Connecting (GET /, GET /library/sections) and the paged pass together:
    assert plex_requests(plex) <= budget, plex.counts()
    assert plex.count("GET /library/sections/{id}/all") == 20
    # A rebuild over both libraries (the empty show library costs its one page):
    target = connect(page_size=500)
    plex.reset_counts()
    assert target.refresh_index(full=True) == 10_000
    assert plex_requests(plex) <= budget, plex.counts()
    # Warm index: matching costs nothing, whichever scene.
    plex.reset_counts()
    result = target.match(scene(["/media/videos/bulk/004321.mp4"]))
    assert result.status == "matched" and plex_requests(plex) == 0


def test_the_index_survives_a_restart_and_matching_then_costs_nothing(plex, connect):
    rk = plex.add_movie(1, ["/media/videos/a.mp4"], "a")
    connect().refresh_index(full=True)
    plex.reset_counts()
    target = connect()  # a new drainer: same database file
    assert plex_requests(plex) == 2  # GET / and the sections, to validate the libraries
    plex.reset_counts()
    assert target.match(scene(["/media/videos/a.mp4"])).rating_key == rk
    assert plex_requests(plex) == 0


def test_a_stale_index_is_rebuilt(plex, connect, clock):
    plex.add_movie(1, ["/media/videos/a.mp4"], "a")
    target = connect()
    target.match(scene(["/media/videos/a.mp4"]))
    plex.reset_counts()
    clock.now += 7 * 3600
    target.match(scene(["/media/videos/a.mp4"]))
    assert plex.count("GET /library/sections") == 1 and plex.count("GET /library/sections/{id}/all") == 2


def test_changing_the_libraries_setting_rebuilds(plex, connect):
    plex.add_movie(1, ["/media/videos/a.mp4"], "a")
    rk = plex.add_episode(2, ["/media/series/s/e1.mkv"], "e1", show_title="s", season=1, episode=1)
    target = connect(plex_library="Videos")
    assert target.match(scene(["/media/series/s/e1.mkv"])).status == "missing"
    plex.reset_counts()
    target = connect(plex_library="Videos, Series")
    assert target.match(scene(["/media/series/s/e1.mkv"])).rating_key == rk
    assert plex.count("GET /library/sections/{id}/all") == 2


def test_an_unknown_library_name_lists_what_plex_has(plex, connect):
    with pytest.raises(ConfigurationError) as caught:
        connect(plex_library="Videos, Nope")
    message = str(caught.value)
    assert "'Nope'" in message and "'Videos'" in message and "'Series'" in message


def test_recently_added_items_are_found_before_not_in_plex(plex, connect):
    plex.add_movie(1, ["/media/videos/a.mp4"], "a")
    target = connect()
    target.refresh_index(full=True)
    rk = plex.add_movie(1, ["/media/videos/new.mp4"], "new")
    plex.reset_counts()
    assert target.match(scene(["/media/videos/new.mp4"])).rating_key == rk
    log = [e for e in plex.request_log() if e["route"] == "GET /library/sections/{id}/all"]
    assert len(log) == 2 and all(("sort", "addedAt:desc") in e["query"] for e in log)


def test_recent_refresh_reads_newest_first_in_a_big_library(plex, connect):
    _fill(plex, 300)
    target = connect()
    target.refresh_index(full=True)
    rk = plex.add_movie(1, ["/media/videos/zzzz-late.mp4"], "zzzz late", added_at=2_100_000_000)
    plex.reset_counts()
    assert target.match(scene(["/media/videos/zzzz-late.mp4"])).rating_key == rk
    assert plex.count("GET /library/sections/{id}/all") == 2  # one newest-first page per library


def test_a_scene_not_in_plex_raises_not_in_plex_yet(plex, connect):
    target = connect()
    with pytest.raises(NotInPlexYet) as caught:
        target.sync_scene(full_scene("/media/videos/nowhere.mp4"), None)
    assert "/media/videos/nowhere.mp4" in str(caught.value)
    assert plex_requests(plex, "PUT") == 0


def test_trigger_plex_scan_asks_for_just_the_mapped_folder(plex, connect):
    plex.scan_delay = 3600.0  # the scan "takes a while": the item is not there on the first try
    plex.add_pending_file(1, "/media/videos/new/clip.mp4", "clip")
    target = connect(trigger_plex_scan=True, path_map="/stash=>/media/videos")
    with pytest.raises(NotInPlexYet) as caught:
        target.sync_scene(full_scene("/stash/new/clip.mp4"), None)
    assert plex.refreshes == [(1, "/media/videos/new")]
    assert "asked Plex to scan /media/videos/new" in str(caught.value)
    plex.scan(1, "/media/videos/new")  # the scan finishes; the slow retry then finds it
    record = target.sync_scene(full_scene("/stash/new/clip.mp4"), None)
    assert record.rating_key == plex.find_by_file("/media/videos/new/clip.mp4")
    assert len(plex.refreshes) == 1
    assert target.request_scan(full_scene("/stash/new/other.mp4")) == "/media/videos/new"  # throttled
    assert target.request_scan(full_scene("/outside/every/library.mp4")) is None
    assert len(plex.refreshes) == 1


def test_no_scan_without_the_setting(plex, connect):
    plex.add_pending_file(1, "/media/videos/new/clip.mp4", "clip")
    with pytest.raises(NotInPlexYet):
        connect().sync_scene(full_scene("/media/videos/new/clip.mp4"), None)
    assert plex.refreshes == []
    assert connect().request_scan(full_scene("/media/videos/new/clip.mp4")) is None


def test_ambiguous_basenames_under_strict_matching_name_the_candidates(plex, connect):
    plex.add_movie(1, ["/media/videos/one/clip.mp4"], "a", size=100)
    plex.add_movie(1, ["/media/videos/two/clip.mp4"], "b", size=100)
    target = connect()
    with pytest.raises(PermanentError) as caught:
        target.sync_scene(full_scene("/elsewhere/clip.mp4"), None)
    message = str(caught.value)
    assert "/media/videos/one/clip.mp4" in message and "/media/videos/two/clip.mp4" in message
    assert "strict_matching" in message
    assert target.match(full_scene("/elsewhere/clip.mp4")).status == "ambiguous"


def test_basename_size_decides_and_non_strict_picks_the_most_alike(plex, connect):
    small = plex.add_movie(1, ["/media/videos/one/clip.mp4"], "a", size=100)
    plex.add_movie(1, ["/media/videos/two/clip.mp4"], "b", size=200)
    assert connect().match(scene(["/elsewhere/clip.mp4"], sizes=[100])).rating_key == small
    alike = connect(strict_matching=False).match(scene(["/x/videos/two/clip.mp4"]))
    assert alike.status == "matched" and alike.rating_key == plex.find_by_file("/media/videos/two/clip.mp4")


def test_any_file_of_a_multi_file_scene_may_match(plex, connect):
    rk = plex.add_movie(1, ["/media/videos/part2.mp4"], "p2")
    result = connect().match(scene(["/media/videos/part1.mp4", "/media/videos/part2.mp4"]))
    assert result.status == "matched" and result.rating_key == rk


def test_a_vanished_item_refreshes_the_index_then_reports_not_in_plex(plex, connect):
    target = connect()
    target.refresh_index(full=True)
    target.index.add_rows(1, [(9999, "/media/videos/a.mp4", None, None)])  # an item Plex has since deleted
    with pytest.raises(NotInPlexYet):
        target.sync_scene(full_scene("/media/videos/a.mp4"), None)
    assert target.match(scene(["/media/videos/a.mp4"])).status == "missing"


def test_a_re_added_file_is_found_under_its_new_rating_key(plex, connect):
    target = connect()
    target.refresh_index(full=True)
    target.index.add_rows(1, [(9999, "/media/videos/a.mp4", None, None)])  # the old ratingKey
    rk = plex.add_movie(1, ["/media/videos/a.mp4"], "a")
    record = target.sync_scene(full_scene("/media/videos/a.mp4"), None)
    assert record.rating_key == rk and plex.item(rk)["title"] == "A title"
