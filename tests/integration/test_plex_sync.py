"""What PlexTarget writes, checked on the fake Plex's state and request counters (real plexapi over HTTP)."""
from __future__ import annotations

import dataclasses
import time

import pytest

from common.errors import TransientError
from common.models import Performer
from plex.images import NO_IMAGE
from tests.integration.plex_fixtures import JPEG, PNG, full_scene, hand_edit, plex_requests

MOVIE = "/media/videos/studio/clip.mp4"


@pytest.fixture(params=["add", "replace"])
def tag_mode(request, plex):
    """Run tag tests under both readings of indexed tags: added to the item's, or replacing them."""
    plex.tag_edit_mode = request.param
    return request.param


def test_every_field_round_trips(plex, connect, tag_mode):
    rk = plex.add_movie(1, [MOVIE], "clip", genres=["Agent Genre"], actors=[("Agent Actor", None)],
                        directors=["Agent Director"], collections=["Old Collection"], studio="Agent Studio",
                        summary="Agent summary", contentRating="R")
    target = connect(content_rating="XXX", collection_parent_studio=True)
    record = target.sync_scene(full_scene(MOVIE), None)
    item = plex.item(rk)
    assert item["title"] == "A title"
    assert item["summary"] == "Some details.\nSecond line."
    assert item["originallyAvailableAt"] == "2021-03-04"
    assert item["studio"] == "Studio One"
    assert item["userRating"] == 8.0
    assert item["contentRating"] == "XXX"
    assert item["genres"] == ["Tag A", "Tag B"]
    assert [name for name, _ in item["actors"]] == ["Ann", "Bob"]
    assert item["directors"] == ["Dee Rector"]
    # "Old Collection" was there before PlexSync: not its own, so it stays
    assert sorted(item["collections"]) == ["Group X", "Old Collection", "Parent Co", "Studio One"]
    assert item["poster"] == JPEG and item["art"] == JPEG
    assert {"title", "summary", "originallyAvailableAt", "studio", "contentRating", "genre", "actor", "director",
            "collection", "thumb", "art"} <= item["locked"]
    assert (record.rating_key, record.section_id) == (rk, 1)
    assert record.metadata_hash and record.poster_hash and record.art_hash


def test_unicode_emoji_and_right_to_left_survive(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "clip")
    title = "שלום עולם 🎬 Cafe\u0301 — 東京"
    target = connect()
    target.sync_scene(full_scene(MOVIE, title=title, details="مرحبا 👋\u0007 bell", tags=["😀 Smile", "Ünïcödé"],
                                 performers=["Zoë", "محمد"]), None)
    item = plex.item(rk)
    assert item["title"] == "שלום עולם 🎬 Café — 東京"  # NFC
    assert item["summary"] == "مرحبا 👋 bell"  # the control character is gone
    assert item["genres"] == ["😀 Smile", "Ünïcödé"]
    assert [name for name, _ in item["actors"]] == ["Zoë", "محمد"]


def test_title_falls_back_to_the_file_name(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "something else")
    connect().sync_scene(full_scene(MOVIE, title=""), None)
    assert plex.item(rk)["title"] == "clip"


def test_removed_tag_and_performer_disappear(plex, connect, tag_mode):
    rk = plex.add_movie(1, [MOVIE], "clip")
    target = connect()
    first = target.sync_scene(full_scene(MOVIE, tags=["Keep", "Drop, with comma", "Drop/slash"],
                                         performers=["Stay", "Leave Now"]), None)
    assert sorted(plex.item(rk)["genres"]) == ["Drop, with comma", "Drop/slash", "Keep"]
    target.sync_scene(full_scene(MOVIE, tags=["Keep"], performers=["Stay"]), first)
    item = plex.item(rk)
    assert item["genres"] == ["Keep"]
    assert [name for name, _ in item["actors"]] == ["Stay"]


def test_removals_use_the_full_item_not_a_truncated_listing(plex, connect, tag_mode):
    many = [f"Genre {i:02d}" for i in range(12)]  # a listing shows only the first two
    rk = plex.add_movie(1, [MOVIE], "clip", genres=many)
    connect().sync_scene(full_scene(MOVIE, tags=["Genre 05", "New"]), None)
    assert sorted(plex.item(rk)["genres"]) == ["Genre 05", "New"]


def test_a_ten_thousand_character_details_field_syncs(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "clip")
    connect().sync_scene(full_scene(MOVIE, details="word " * 2000), None)
    summary = plex.item(rk)["summary"]
    assert summary.startswith("word word") and summary.endswith("…") and len(summary) <= 4000
    put = [e for e in plex.request_log() if e["route"] == "PUT /library/sections/{id}/all"]
    assert len(put) == 1 and put[0]["status"] == 200


def test_a_changed_scene_costs_two_requests_with_a_warm_index_the_rating_riding_in_the_edit(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "clip")
    target = connect()
    record = target.sync_scene(full_scene(MOVIE), None)
    plex.reset_counts()
    target.sync_scene(full_scene(MOVIE, title="New title", rating100=40), record)
    assert plex.counts() == {"GET /library/metadata/{ids}": 1, "PUT /library/sections/{id}/all": 1}
    (edit,) = [e for e in plex.request_log() if e["method"] == "PUT"]
    assert ("userRating.value", "4") in edit["query"] and ("userRating.locked", "1") in edit["query"]
    assert plex.item(rk)["title"] == "New title" and plex.item(rk)["userRating"] == 4.0


def test_an_unchanged_scene_costs_no_request(plex, connect, images):
    plex.add_movie(1, [MOVIE], "clip")
    target = connect()
    record = target.sync_scene(full_scene(MOVIE), None)
    plex.reset_counts()
    fetched = len(images.fetched)
    assert target.sync_scene(full_scene(MOVIE), record) == record
    assert plex_requests(plex) == 0 and len(images.fetched) == fetched


def test_force_rewrites_even_when_the_hash_is_unchanged(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "clip")
    target = connect(sync_poster=False, sync_art=False)
    record = target.sync_scene(full_scene(MOVIE), None)
    hand_edit(plex, rk, title="Edited in Plex")
    assert target.sync_scene(full_scene(MOVIE), record) == record  # hash unchanged: trusted
    target.sync_scene(full_scene(MOVIE), record, force=True)
    assert plex.item(rk)["title"] == "A title"


def test_toggling_a_setting_resyncs_and_off_fields_are_left_alone(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "clip", studio="Plex Studio", genres=["Plex Genre"])
    record = connect(sync_studio=False, sync_tags=False).sync_scene(full_scene(MOVIE), None)
    item = plex.item(rk)
    assert item["studio"] == "Plex Studio" and item["genres"] == ["Plex Genre"]
    plex.reset_counts()
    connect().sync_scene(full_scene(MOVIE), record)
    assert plex.item(rk)["studio"] == "Studio One" and plex.item(rk)["genres"] == ["Tag A", "Tag B"]
    assert plex.count("PUT /library/sections/{id}/all") == 1


def test_collections_follow_groups_and_are_left_alone_when_off(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "clip", collections=["Hand Made"])
    connect(sync_collections=False).sync_scene(full_scene(MOVIE), None)
    assert plex.item(rk)["collections"] == ["Hand Made"]
    record = connect(sync_groups=False).sync_scene(full_scene(MOVIE), None)
    assert plex.item(rk)["collections"] == ["Hand Made", "Studio One"]  # a hand-made collection is never PlexSync's
    connect(sync_groups=False).sync_scene(full_scene(MOVIE, studio="Studio Two"), record)
    assert plex.item(rk)["collections"] == ["Hand Made", "Studio Two"]  # PlexSync's own leaves, the other stays


def test_content_rating_is_left_alone_when_the_setting_is_empty(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "clip", contentRating="PG")
    connect().sync_scene(full_scene(MOVIE), None)
    assert plex.item(rk)["contentRating"] == "PG"


def test_performer_photos_only_when_enabled(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "clip")
    performers = [Performer("Ann", "http://stash.local/performer/1/image")]
    connect().sync_scene(full_scene(MOVIE, performers=performers), None)
    assert plex.item(rk)["actors"] == [("Ann", None)]
    connect(performer_photos=True).sync_scene(full_scene(MOVIE, performers=performers), None)
    assert plex.item(rk)["actors"] == [("Ann", "http://stash.local/performer/1/image")]


def test_rating_is_cleared_only_when_we_set_it(plex, connect):
    mine = plex.add_movie(1, [MOVIE], "clip")
    theirs = plex.add_movie(1, ["/media/videos/other.mp4"], "other", userRating=6)
    target = connect(sync_poster=False, sync_art=False)
    record = target.sync_scene(full_scene(MOVIE), None)
    target.sync_scene(full_scene("/media/videos/other.mp4", rating100=None), None)
    assert plex.item(theirs)["userRating"] == 6.0
    plex.reset_counts()
    target.sync_scene(full_scene(MOVIE, rating100=None), record)
    assert plex.item(mine)["userRating"] is None and plex.count("PUT /:/rate") == 0
    (edit,) = [e for e in plex.request_log() if e["method"] == "PUT"]  # cleared in the edit, as Kometa resets it
    assert ("userRating.value", "") in edit["query"] and ("userRating.locked", "0") in edit["query"]


def test_preserve_plex_edits_keeps_fields_locked_by_hand(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "Hand title", summary="Hand summary", genres=["Hand genre"],
                        locked={"title", "genre"})
    target = connect(preserve_plex_edits=True, sync_poster=False, sync_art=False)
    record = target.sync_scene(full_scene(MOVIE), None)
    item = plex.item(rk)
    assert item["title"] == "Hand title" and item["genres"] == ["Hand genre"]
    assert item["summary"] == "Some details.\nSecond line."  # unlocked: ours to write
    # A field we wrote and locked stays ours; a later hand edit of it is then kept too.
    target.sync_scene(full_scene(MOVIE, details="Changed in Stash"), record)
    assert plex.item(rk)["summary"] == "Changed in Stash"
    hand_edit(plex, rk, summary="Edited by hand later")
    target.sync_scene(full_scene(MOVIE, details="Changed again"), None)
    assert plex.item(rk)["summary"] == "Edited by hand later"


def test_without_preserve_locked_fields_are_overwritten(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "Hand title", locked={"title"})
    connect().sync_scene(full_scene(MOVIE), None)
    assert plex.item(rk)["title"] == "A title"


def test_windows_stash_paths_map_onto_posix_plex_paths(plex, connect):
    rk = plex.add_movie(1, ["/media/videos/Sub Dir/Clip One.mkv"], "x")
    target = connect(path_map=r"D:\Stash=>/media/videos")
    record = target.sync_scene(full_scene(r"d:\stash\Sub Dir\Clip One.mkv", title="Mapped"), None)
    assert record.rating_key == rk and plex.item(rk)["title"] == "Mapped"
    assert target.match(full_scene(r"D:\Stash\Sub Dir\Clip One.mkv")).step == "path"


def test_show_library_episodes_match_and_update_like_movies(plex, connect, tag_mode):
    rk = plex.add_episode(2, ["/media/series/Show/S01E02.mkv"], "Episode 2", show_title="Show", season=1,
                          episode=2, actors=[("Guest", None)])
    target = connect(content_rating="TV-MA")
    record = target.sync_scene(full_scene("/media/series/Show/S01E02.mkv", performers=["Ann"]), None)
    item = plex.item(rk)
    assert record.rating_key == rk and record.section_id == 2
    assert item["title"] == "A title" and item["summary"] == "Some details.\nSecond line."
    assert item["originallyAvailableAt"] == "2021-03-04" and item["contentRating"] == "TV-MA"
    assert [name for name, _ in item["actors"]] == ["Ann"] and item["directors"] == ["Dee Rector"]
    assert item["userRating"] == 8.0 and item["poster"] == JPEG
    assert item["genres"] == [] and item["studio"] is None  # Plex episodes have neither


def test_images_upload_only_when_the_screenshot_changed(plex, connect, images):
    rk = plex.add_movie(1, [MOVIE], "clip")
    target = connect()
    first = target.sync_scene(full_scene(MOVIE), None)
    plex.reset_counts()
    # New URL (Stash regenerated the screenshot) but the same bytes: downloaded, not uploaded.
    second = target.sync_scene(full_scene(MOVIE, screenshot_url="http://stash.local/scene/1/screenshot?t=2"), first)
    assert plex.count("POST /library/metadata/{id}/posters") == 0 and images.fetched[-1].endswith("t=2")
    assert second.image_source.endswith("t=2")
    images.by_url["http://stash.local/scene/1/screenshot?t=3"] = PNG
    plex.reset_counts()
    target.sync_scene(full_scene(MOVIE, screenshot_url="http://stash.local/scene/1/screenshot?t=3"), second)
    assert plex.count("POST /library/metadata/{id}/posters") == 1
    assert plex.count("POST /library/metadata/{id}/arts") == 1
    assert plex.item(rk)["poster"] == PNG
    assert plex_requests(plex) == 3  # read the item + two uploads; locks already set, metadata unchanged


def test_a_video_file_is_never_uploaded_as_art(plex, connect, images):
    rk = plex.add_movie(1, [MOVIE], "clip")
    images.by_url["http://stash.local/scene/1/screenshot?t=1"] = b"\x00\x00\x00\x18ftypmp42" + bytes(100)
    record = connect().sync_scene(full_scene(MOVIE), None)
    assert plex.item(rk)["posters"] == [] and plex.item(rk)["arts"] == []
    assert record.poster_hash == record.art_hash == NO_IMAGE  # remembered: not fetched again while unchanged


def test_poster_toggled_on_later_is_uploaded(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "clip")
    record = connect(sync_poster=False, sync_art=False).sync_scene(full_scene(MOVIE), None)
    assert plex.item(rk)["posters"] == []
    connect().sync_scene(full_scene(MOVIE), record)
    assert plex.item(rk)["poster"] == JPEG


def test_rematched_item_gets_its_images(plex, connect):
    old = plex.add_movie(1, [MOVIE], "clip")
    target = connect()
    record = target.sync_scene(full_scene(MOVIE), None)
    stale = dataclasses.replace(record, rating_key=old + 1000)
    plex.reset_counts()
    target.sync_scene(full_scene(MOVIE, title="t2"), stale)
    assert plex.count("POST /library/metadata/{id}/posters") == 1


def test_a_failed_edit_does_not_turn_our_fields_into_hand_edits(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "clip")
    target = connect(preserve_plex_edits=True, sync_poster=False, sync_art=False)
    plex.fail_next(status=503, route="/library/sections/{id}/all", method="PUT")
    with pytest.raises(TransientError):
        target.sync_scene(full_scene(MOVIE), None)
    record = target.sync_scene(full_scene(MOVIE), None)  # the retry
    target.sync_scene(full_scene(MOVIE, title="Changed in Stash"), record)
    assert plex.item(rk)["title"] == "Changed in Stash" and plex.item(rk)["userRating"] == 8.0


def test_episode_actors_ride_in_the_edit_until_plex_refuses_them_then_go_alone(plex, connect, caplog):
    path = "/media/series/Show/S01E05.mkv"
    rk = plex.add_episode(2, [path], "Episode 5", show_title="Show", season=1, episode=5)
    target = connect(sync_poster=False, sync_art=False)
    target.sync_scene(full_scene(path, performers=["Ann"]), None)
    edits = [e for e in plex.request_log() if e["route"] == "PUT /library/sections/{id}/all"]
    assert len(edits) == 1 and any(k.startswith("actor[") for k, _ in edits[0]["query"])  # one edit
    plex.refuse_episode_actors = True
    plex.reset_counts()
    rk2 = plex.add_episode(2, ["/media/series/Show/S01E06.mkv"], "Episode 6", show_title="Show", season=1, episode=6)
    record = target.sync_scene(full_scene("/media/series/Show/S01E06.mkv", title="Six", performers=["Bob"]), None)
    item = plex.item(rk2)
    assert record.rating_key == rk2 and item["title"] == "Six" and item["directors"] == ["Dee Rector"]
    assert item["actors"] == [] and "refused the performers" in caplog.text
    assert [name for name, _ in plex.item(rk)["actors"]] == ["Ann"]
    # refused once (with actors), then the rest, then the actors alone; later episodes start apart
    assert [e["status"] for e in plex.request_log() if e["method"] == "PUT"] == [400, 200, 400]
    rk3 = plex.add_episode(2, ["/media/series/Show/S01E07.mkv"], "Episode 7", show_title="Show", season=1, episode=7)
    plex.reset_counts()
    target.sync_scene(full_scene("/media/series/Show/S01E07.mkv", title="Seven", performers=["Bob"]), None)
    assert [e["status"] for e in plex.request_log() if e["method"] == "PUT"] == [200, 400]
    assert plex.item(rk3)["title"] == "Seven"


def test_the_client_refuses_an_edit_without_an_item_id(plex, connect):
    from common.errors import PermanentError
    from plex.writer import ItemState

    plex.add_movie(1, [MOVIE], "clip")
    target = connect()
    plex.reset_counts()
    for missing in (0, None):
        with pytest.raises(PermanentError, match="without an item id"):
            target.client.edit(ItemState(rating_key=missing, section_id=1, type="movie"), {"title.value": "x"}, ("title",))
    assert plex.count("PUT /library/sections/{id}/all") == 0 and plex.bulk_edits == 0


def test_a_pooled_connection_the_server_closed_while_idle_costs_no_error(plex, connect):
    from tests.helpers.procs import wait_until

    plex.idle_timeout = 0.3  # real servers close idle keep-alive connections after about 20 s
    rk = plex.add_movie(1, [MOVIE], "clip")
    target = connect(sync_poster=False, sync_art=False)
    session = target.client._server._session
    session.headers.pop("X-Plex-Http-Pipeline")  # as a client without the header (plexapi's own)
    session.close()  # drops the connection the connect made with it
    record = target.sync_scene(full_scene(MOVIE), None)
    wait_until(lambda: plex.open_connections() == 0, timeout=10, message="Plex to close the idle connection")
    target.sync_scene(full_scene(MOVIE, title="After a pause"), record)
    assert plex.item(rk)["title"] == "After a pause"


def test_pooled_connections_stay_open_while_idle_because_of_the_pipeline_header(plex, connect):
    plex.idle_timeout = 0.3
    rk = plex.add_movie(1, [MOVIE], "clip")
    target = connect(sync_poster=False, sync_art=False)
    record = target.sync_scene(full_scene(MOVIE), None)
    opened = plex.open_connections()
    time.sleep(plex.idle_timeout * 4)  # what is tested is idle time itself (P4: Plex closes at 20 s)
    assert opened >= 1 and plex.open_connections() == opened
    target.sync_scene(full_scene(MOVIE, title="After a pause"), record)
    assert plex.item(rk)["title"] == "After a pause"
