"""The fake Plex's request grammar, spoken raw: what an edit PUT may carry, what is refused
(as Plex refuses it), paging by header or query, auth by header or query."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Iterator
from urllib.parse import quote

import pytest
import requests

from devkit.fakes.plex_server import FakePlexServer


@pytest.fixture(scope="module")
def server() -> Iterator[FakePlexServer]:
    fake = FakePlexServer()
    fake.add_section(1, "Videos", "movie", ["/data/videos"])
    fake.add_section(2, "Series", "show", ["/data/series"])
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def plex(server: FakePlexServer) -> FakePlexServer:
    server.reset()
    server.tag_edit_mode = "add"
    return server


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        # as plexapi sends on every listing; current Plex answers a listing without a size 400
        session.headers.update({"X-Plex-Container-Start": "0", "X-Plex-Container-Size": "1000"})
        yield session


def put(plex: FakePlexServer, http: requests.Session, query: str, section: int = 1) -> requests.Response:
    return http.put(f"{plex.url}/library/sections/{section}/all?{query}", headers={"X-Plex-Token": plex.token})


def new_movie(plex: FakePlexServer, **fields) -> int:
    count = len(plex.library.items)
    return plex.add_movie(1, [f"/data/videos/req{count}.mp4"], f"Movie {count}", **fields)


def test_fields_and_locks(plex: FakePlexServer, http: requests.Session) -> None:
    key = new_movie(plex, locked={"summary"})
    answer = put(plex, http, f"type=1&id={key}&title.value=New%20Title&title.locked=1&tagline.value=T"
                             f"&year.value=1999&originallyAvailableAt.value=1999-12-31&summary.locked=0")
    assert answer.status_code == 200
    state = plex.item(key)
    assert (state["title"], state["tagline"], state["year"]) == ("New Title", "T", 1999)
    assert state["originallyAvailableAt"] == "1999-12-31"
    assert state["locked"] == {"title"}


def test_indexed_tags_add_and_lock(plex: FakePlexServer, http: requests.Session) -> None:
    key = new_movie(plex, genres=["Old"])
    put(plex, http, f"type=1&id={key}&genre[0].tag.tag=A&genre[1].tag.tag=B&genre.locked=1"
                    f"&collection[0].tag.tag=C&label[0].tag.tag=L&director[0].tag.tag=D")
    state = plex.item(key)
    assert state["genres"] == ["Old", "A", "B"]
    assert (state["collections"], state["labels"], state["directors"]) == (["C"], ["L"], ["D"])
    assert "genre" in state["locked"]


def test_indexed_tags_replace_in_replace_mode(plex: FakePlexServer, http: requests.Session) -> None:
    plex.tag_edit_mode = "replace"
    key = new_movie(plex, genres=["Old", "Kept"])
    put(plex, http, f"type=1&id={key}&genre[0].tag.tag=Kept&genre[1].tag.tag=New")
    assert plex.item(key)["genres"] == ["Kept", "New"]


def test_removal_splits_on_commas_then_unquotes(plex: FakePlexServer, http: requests.Session) -> None:
    key = new_movie(plex, genres=["a,b", "Émoji 🎬", "keep"])
    names = ",".join(quote(name) for name in ["a,b", "Émoji 🎬"])
    put(plex, http, f"type=1&id={key}&genre[].tag.tag-={quote(names, safe='')}")
    assert plex.item(key)["genres"] == ["keep"]


def test_empty_tag_parameter_clears_the_list(plex: FakePlexServer, http: requests.Session) -> None:
    key = new_movie(plex, genres=["a", "b"], labels=["x"])
    put(plex, http, f"type=1&id={key}&genre[].tag=")
    assert (plex.item(key)["genres"], plex.item(key)["labels"]) == ([], ["x"])


def test_actor_thumb_and_tag_counts(plex: FakePlexServer, http: requests.Session) -> None:
    first, second = new_movie(plex), new_movie(plex)
    put(plex, http, f"type=1&id={first},{second}&actor[0].tag.tag=Ann&actor[0].tag.thumb=http%3A%2F%2Fi%2Fa.jpg")
    assert plex.item(first)["actors"] == plex.item(second)["actors"] == [("Ann", "http://i/a.jpg")]
    root = ET.fromstring(http.get(f"{plex.url}/library/metadata/{first}", headers={"X-Plex-Token": plex.token}).text)
    role = root.find("Video/Role")
    assert (role.get("tag"), role.get("thumb"), role.get("count")) == ("Ann", "http://i/a.jpg", "2")


@pytest.mark.parametrize("query", [
    "type=1&id={key}&bogus=1",
    "type=1&id={key}&studio.value=S&studio.lockd=1",
    "type=1&id={key}&originallyAvailableAt.value=2020-1-5",
    "type=1&id={key}&originallyAvailableAt.value=2020-02-30",
    "type=1&id={key}&year.value=soon",
    "type=1&id={key}&title.value=",
    "type=1&id={key}&genre[0].tag.thumb=http%3A%2F%2Fx",
    "type=1&id={key}&genre.locked=yes",
    "type=4&id={key}&title.value=x",
    "id={key}&title.value=x",
    "type=1&id=abc&title.value=x",
])
def test_malformed_edits_are_refused_and_change_nothing(plex: FakePlexServer, http: requests.Session,
                                                        query: str) -> None:
    key = new_movie(plex)
    before = plex.item(key)
    assert put(plex, http, query.format(key=key)).status_code == 400
    assert plex.item(key) == before


def test_an_edit_without_id_edits_every_item_of_the_type_as_a_real_bulk_edit(plex: FakePlexServer,
                                                                             http: requests.Session) -> None:
    keys = [new_movie(plex), new_movie(plex)]
    episode = plex.add_episode(2, ["/data/series/s/bulk.mkv"], "E", show_title="S", season=1, episode=20)
    assert put(plex, http, "type=1&summary.value=Damage").status_code == 200
    assert all(plex.item(key)["summary"] == "Damage" for key in keys)
    assert plex.item(episode)["summary"] is None  # another section and type
    assert plex.bulk_edits == 1 and plex.counts()["PUT /library/sections/{id}/all without id"] == 1


def test_episode_actor_edits_can_be_refused(plex: FakePlexServer, http: requests.Session) -> None:
    episode = plex.add_episode(2, ["/data/series/s/actors.mkv"], "E", show_title="S", season=1, episode=21)
    assert put(plex, http, f"type=4&id={episode}&actor[0].tag.tag=Ann", section=2).status_code == 200
    plex.refuse_episode_actors = True
    try:
        assert put(plex, http, f"type=4&id={episode}&actor[0].tag.tag=Bob&title.value=T", section=2).status_code == 400
        assert plex.item(episode)["title"] == "E"
        assert put(plex, http, f"type=4&id={episode}&title.value=T", section=2).status_code == 200
    finally:
        plex.refuse_episode_actors = False


def test_page_size_over_1000_is_a_bad_request_and_pages_carry_total_size(plex: FakePlexServer,
                                                                        http: requests.Session) -> None:
    new_movie(plex)
    url = f"{plex.url}/library/sections/1/all?type=1"
    headers = {"X-Plex-Token": plex.token, "X-Plex-Container-Start": "0"}
    assert http.get(url, headers={**headers, "X-Plex-Container-Size": "1001"}).status_code == 400
    page = http.get(url, headers={**headers, "X-Plex-Container-Size": "1"})
    root = ET.fromstring(page.content)
    assert page.status_code == 200 and int(root.get("totalSize")) >= 1 and root.get("librarySectionID") == "1"


def test_edit_of_unknown_or_foreign_items(plex: FakePlexServer, http: requests.Session) -> None:
    episode = plex.add_episode(2, ["/data/series/s/e9.mkv"], "E", show_title="S", season=1, episode=9)
    assert put(plex, http, "type=1&id=987654&title.value=x").status_code == 404
    assert put(plex, http, f"type=1&id={episode}&title.value=x").status_code == 400
    assert put(plex, http, f"type=4&id={episode}&genre[0].tag.tag=x", section=2).status_code == 400
    assert put(plex, http, f"type=4&id={episode}&title.value=ok", section=2).status_code == 200


def test_rate_validation(plex: FakePlexServer, http: requests.Session) -> None:
    key = new_movie(plex)
    rate = f"{plex.url}/:/rate?key={key}&identifier=com.plexapp.plugins.library&rating="
    headers = {"X-Plex-Token": plex.token}
    assert http.put(rate + "11", headers=headers).status_code == 400
    assert http.put(rate + "x", headers=headers).status_code == 400
    assert http.put(rate + "4.5", headers=headers).status_code == 200
    assert plex.item(key)["userRating"] == 4.5
    assert http.put(rate + "-1", headers=headers).status_code == 200
    assert plex.item(key)["userRating"] is None


def test_auth_by_header_or_query_and_real_401_body(plex: FakePlexServer, http: requests.Session) -> None:
    assert http.get(f"{plex.url}/library/sections?X-Plex-Token={plex.token}").status_code == 200
    denied = http.get(f"{plex.url}/library/sections")
    assert denied.status_code == 401 and "<title>Unauthorized</title>" in denied.text
    assert http.get(f"{plex.url}/identity").status_code == 200
    assert http.get(f"{plex.url}/nowhere", headers={"X-Plex-Token": plex.token}).status_code == 404


def test_paging_by_query_or_header(plex: FakePlexServer, http: requests.Session) -> None:
    plex.add_section(4, "Paged", "movie", ["/data/paged"])
    keys = [plex.add_movie(4, [f"/data/paged/{i}.mp4"], f"Paged {i}") for i in range(5)]
    listing = f"{plex.url}/library/sections/4/all?type=1"
    by_query = http.get(f"{listing}&X-Plex-Container-Start=1&X-Plex-Container-Size=2&X-Plex-Token={plex.token}")
    by_header = http.get(listing, headers={"X-Plex-Token": plex.token, "X-Plex-Container-Start": "1",
                                           "X-Plex-Container-Size": "2"})
    unpaged = http.get(listing, headers={"X-Plex-Token": plex.token, "X-Plex-Container-Size": None})

    assert by_query.text == by_header.text
    root = ET.fromstring(by_query.text)
    assert (root.get("size"), root.get("offset"), root.get("totalSize")) == ("2", "1", "5")
    assert [int(v.get("ratingKey")) for v in root] == keys[1:3]
    # current Plex answers a listing without a container size 400 (REAL-SERVERS.md P5)
    assert unpaged.status_code == 400 and b"Missing X-Plex-Container-Size" in unpaged.content


def test_listing_order_follows_sort_title_and_edits(plex: FakePlexServer, http: requests.Session) -> None:
    plex.add_section(3, "Sorted", "movie", ["/data/sorted"])
    keys = [plex.add_movie(3, [f"/data/sorted/{name}.mp4"], name) for name in ("b", "c", "a")]
    put(plex, http, f"type=1&id={keys[1]}&titleSort.value=0", section=3)

    root = ET.fromstring(http.get(f"{plex.url}/library/sections/3/all",
                                  headers={"X-Plex-Token": plex.token}).text)
    assert [v.get("title") for v in root] == ["c", "a", "b"]


def test_posters_by_body_and_by_url(plex: FakePlexServer, http: requests.Session) -> None:
    key = new_movie(plex)
    headers = {"X-Plex-Token": plex.token}
    assert http.post(f"{plex.url}/library/metadata/{key}/posters", data=b"PNG", headers=headers).ok
    assert http.post(f"{plex.url}/library/metadata/{key}/arts?url=http%3A%2F%2Fs%2Fa", headers=headers).ok
    assert http.post(f"{plex.url}/library/metadata/{key}/posters", headers=headers).status_code == 400
    assert (plex.item(key)["posters"], plex.item(key)["arts"]) == ([b"PNG"], ["http://s/a"])


def test_item_refresh_is_recorded_and_can_drop_unlocked_edits(plex: FakePlexServer,
                                                              http: requests.Session) -> None:
    key = new_movie(plex)
    put(plex, http, f"type=1&id={key}&title.value=Kept&title.locked=1&summary.value=Lost&genre[0].tag.tag=g")
    plex.refresh_resets_unlocked = True
    try:
        assert http.put(f"{plex.url}/library/metadata/{key}/refresh", headers={"X-Plex-Token": plex.token}).ok
    finally:
        plex.refresh_resets_unlocked = False
    state = plex.item(key)
    assert (state["title"], state["summary"], state["genres"]) == ("Kept", None, [])
    assert plex.item_refreshes[-1] == key


def listing(plex: FakePlexServer, http: requests.Session, section: int, **params) -> requests.Response:
    return http.get(f"{plex.url}/library/sections/{section}/all", params=params, headers={"X-Plex-Token": plex.token})


def rating_keys(answer: requests.Response) -> list[int]:
    assert answer.status_code == 200, answer.text
    return [int(el.get("ratingKey")) for el in ET.fromstring(answer.text)]


def test_sort_orders_and_paging(plex: FakePlexServer, http: requests.Session) -> None:
    plex.add_section(5, "Sorting", "movie", ["/data/sorting"])
    added = {"c": 300, "a": 100, "d": 300, "b": 200}  # c and d tie on addedAt
    keys = {t: plex.add_movie(5, [f"/data/sorting/{t}.mp4"], t.upper() if t == "b" else t, added_at=at)
            for t, at in added.items()}
    a, b, c, d = (keys[t] for t in "abcd")
    assert rating_keys(listing(plex, http, 5, type=1)) == [a, b, c, d]
    assert rating_keys(listing(plex, http, 5, type=1, sort="titleSort")) == [a, b, c, d]
    assert rating_keys(listing(plex, http, 5, type=1, sort="title:desc")) == [d, c, b, a]
    assert rating_keys(listing(plex, http, 5, type=1, sort="addedAt")) == [a, b, c, d]
    assert rating_keys(listing(plex, http, 5, type=1, sort="addedAt:desc")) == [d, c, b, a]  # ties: newest key
    assert rating_keys(listing(plex, http, 5, type=1, sort="movie.addedAt:desc,titleSort")) == [c, d, b, a]
    assert rating_keys(listing(plex, http, 5, type=1, sort="addedAt:desc,titleSort:desc")) == [d, c, b, a]

    put(plex, http, f"type=1&id={b}&titleSort.value=zzz&summary.value=edited", section=5)
    assert rating_keys(listing(plex, http, 5, type=1, sort="updatedAt:desc"))[0] == b
    assert rating_keys(listing(plex, http, 5, type=1, sort="titleSort:desc")) == [b, d, c, a]

    by_header = http.get(f"{plex.url}/library/sections/5/all?type=1&sort=addedAt:desc", headers={
        "X-Plex-Token": plex.token, "X-Plex-Container-Start": "1", "X-Plex-Container-Size": "2"})
    root = ET.fromstring(by_header.text)
    assert [int(v.get("ratingKey")) for v in root] == [c, b]
    assert (root.get("size"), root.get("offset"), root.get("totalSize")) == ("2", "1", "4")
    by_query = listing(plex, http, 5, type=1, sort="addedAt:desc", **{"X-Plex-Container-Start": 3,
                                                                       "X-Plex-Container-Size": 5})
    assert rating_keys(by_query) == [a]


@pytest.mark.parametrize("sort", ["bogus", "addedAt:sideways", "show.addedAt", "addedAt,", "addedAt;desc"])
def test_unknown_sorts_are_refused(plex: FakePlexServer, http: requests.Session, sort: str) -> None:
    answer = listing(plex, http, 1, type=1, sort=sort)
    assert answer.status_code == 400 and "Bad Request" in answer.text


def test_sorted_listing_follows_adds_edits_and_removals(plex: FakePlexServer, http: requests.Session) -> None:
    plex.add_section(6, "Churn", "movie", ["/data/churn"])
    for i in range(60):
        plex.add_movie(6, [f"/data/churn/{i}.mp4"], f"m{i:02d}", added_at=1000 + (i * 37) % 60)

    def expected() -> list[int]:
        items = [plex.item(k) for k in plex.library.items if plex.library.items[k].section_key == 6]
        return [s["ratingKey"] for s in sorted(items, key=lambda s: (s["addedAt"], s["ratingKey"]), reverse=True)]

    assert rating_keys(listing(plex, http, 6, type=1, sort="addedAt:desc")) == expected()
    newest = plex.add_movie(6, ["/data/churn/new.mp4"], "new", added_at=5000)
    first = rating_keys(listing(plex, http, 6, type=1, sort="addedAt:desc", **{"X-Plex-Container-Size": 1}))
    assert first == [newest]
    moved = expected()[-1]
    put(plex, http, f"type=1&id={moved}&addedAt.value=4000", section=6)
    plex.remove_item(newest)
    for i in range(40):  # enough changes at once to rebuild rather than patch
        plex.add_movie(6, [f"/data/churn/more{i}.mp4"], f"more{i}", added_at=900 + i)
    assert rating_keys(listing(plex, http, 6, type=1, sort="addedAt:desc"))[0] == moved
    assert rating_keys(listing(plex, http, 6, type=1, sort="addedAt:desc")) == expected()
    assert rating_keys(listing(plex, http, 6, type=1, sort="addedAt")) == expected()[::-1]


def test_episode_sorts_may_use_show_and_season_fields(plex: FakePlexServer, http: requests.Session) -> None:
    plex.add_section(7, "Shows", "show", ["/data/shows"])
    for show, added in (("Alpha", 10), ("Beta", 20)):
        for episode in (1, 2):
            plex.add_episode(7, [f"/data/shows/{show}/{episode}.mkv"], f"{show} {episode}", show_title=show,
                             season=1, episode=episode, added_at=added + episode)
    def titles(answer: requests.Response) -> list[str]:
        return [el.get("title") for el in ET.fromstring(answer.text)]

    assert titles(listing(plex, http, 7, type=4)) == ["Alpha 1", "Alpha 2", "Beta 1", "Beta 2"]
    assert titles(listing(plex, http, 7, type=4, sort="addedAt:desc")) == ["Beta 2", "Beta 1", "Alpha 2", "Alpha 1"]
    assert titles(listing(plex, http, 7, type=4, sort="show.titleSort:desc,episode.index")) == [
        "Beta 1", "Beta 2", "Alpha 1", "Alpha 2"]
    assert titles(listing(plex, http, 7, type=2, sort="addedAt:desc")) == ["Beta", "Alpha"]
    assert listing(plex, http, 7, type=2, sort="episode.addedAt").status_code == 400

    alpha = plex.item(plex.find_by_file("/data/shows/Alpha/1.mkv"))["grandparentRatingKey"]
    put(plex, http, f"type=2&id={alpha}&titleSort.value=Zulu", section=7)
    assert titles(listing(plex, http, 7, type=4)) == ["Beta 1", "Beta 2", "Alpha 1", "Alpha 2"]
    assert titles(listing(plex, http, 7, type=4, sort="show.titleSort:desc,episode.index")) == [
        "Alpha 1", "Alpha 2", "Beta 1", "Beta 2"]


def test_filters_on_dates_and_numbers(plex: FakePlexServer, http: requests.Session) -> None:
    plex.add_section(8, "Filtered", "movie", ["/data/filtered"])
    keys = [plex.add_movie(8, [f"/data/filtered/{i}.mp4"], f"f{i}", added_at=1000 + i, year=2000 + i % 3)
            for i in range(9)]
    after = listing(plex, http, 8, type=1, sort="addedAt:desc", **{"addedAt>>": "1005", "X-Plex-Container-Size": 2})
    root = ET.fromstring(after.text)
    assert rating_keys(after) == keys[8:6:-1] and root.get("totalSize") == "3"
    assert rating_keys(listing(plex, http, 8, type=1, **{"addedAt<<": "1002"})) == keys[:2]
    assert rating_keys(listing(plex, http, 8, type=1, year="2001,2002", **{"addedAt>>": "1004"})) == [
        keys[5], keys[7], keys[8]]
    assert rating_keys(listing(plex, http, 8, type=1, **{"year!": "2000"})) == [k for i, k in enumerate(keys) if i % 3]
    assert rating_keys(listing(plex, http, 8, type=1, **{"addedAt>>": "-30d"})) == []
    assert listing(plex, http, 8, type=1, **{"viewOffset>>": "1"}).status_code == 400
    assert listing(plex, http, 8, type=1, **{"addedAt>>": "soon"}).status_code == 400


def test_remove_item_takes_it_out_of_everything(plex: FakePlexServer, http: requests.Session) -> None:
    plex.add_section(9, "Doomed", "movie", ["/data/doomed"])
    keep = plex.add_movie(9, ["/data/doomed/keep.mp4"], "keep", genres=["Shared"], added_at=1)
    gone = plex.add_movie(9, ["/data/doomed/gone.mp4", "/data/doomed/gone2.mp4"], "gone", genres=["Shared"],
                          added_at=2)
    rating_keys(listing(plex, http, 9, type=1, sort="addedAt:desc"))  # a sorted view exists before the removal
    headers = {"X-Plex-Token": plex.token}

    assert plex.remove_item(gone) == [gone]

    assert http.get(f"{plex.url}/library/metadata/{gone}", headers=headers).status_code == 404
    assert rating_keys(listing(plex, http, 9, type=1)) == [keep]
    assert rating_keys(listing(plex, http, 9, type=1, sort="addedAt:desc")) == [keep]
    assert ET.fromstring(listing(plex, http, 9, type=1, **{"X-Plex-Container-Size": 0}).text).get("totalSize") == "1"
    assert plex.find_by_file("/data/doomed/gone2.mp4") is None
    assert put(plex, http, f"type=1&id={gone}&title.value=x", section=9).status_code == 404
    role = ET.fromstring(http.get(f"{plex.url}/library/metadata/{keep}", headers=headers).text).find("Video/Genre")
    assert role.get("tag") == "Shared" and role.get("count") is None  # one item carries it now
    plex.add_movie(9, ["/data/doomed/gone.mp4"], "back")  # the file may come back as a new item
    with pytest.raises(KeyError):
        plex.remove_item(gone)


def test_removing_episodes_drops_empty_seasons_and_shows(plex: FakePlexServer, http: requests.Session) -> None:
    plex.add_section(10, "Shrinking", "show", ["/data/shrinking"])
    e = {(s, n): plex.add_episode(10, [f"/data/shrinking/{s}{n}.mkv"], f"{s}{n}", show_title=s, season=n // 10,
                                  episode=n) for s, n in (("A", 1), ("A", 2), ("A", 11), ("B", 1))}
    season_a0 = plex.item(e[("A", 1)])["parentRatingKey"]
    season_a1 = plex.item(e[("A", 11)])["parentRatingKey"]
    show_a, show_b = plex.item(e[("A", 1)])["grandparentRatingKey"], plex.item(e[("B", 1)])["grandparentRatingKey"]

    def count(search_type: int) -> int:
        return int(ET.fromstring(listing(plex, http, 10, type=search_type).text).get("totalSize"))

    assert plex.remove_item(e[("A", 1)]) == [e[("A", 1)]]
    assert plex.remove_item(e[("A", 11)]) == [e[("A", 11)], season_a1]
    assert (count(2), count(3), count(4)) == (2, 2, 2)
    show = ET.fromstring(http.get(f"{plex.url}/library/metadata/{show_a}", headers={"X-Plex-Token": plex.token}).text)
    assert (show[0].get("childCount"), show[0].get("leafCount")) == ("1", "1")

    assert plex.remove_item(e[("A", 2)]) == [e[("A", 2)], season_a0, show_a]
    season_b = plex.item(e[("B", 1)])["parentRatingKey"]
    assert plex.remove_item(show_b) == [e[("B", 1)], season_b, show_b]  # a show goes with all it holds
    assert (count(2), count(3), count(4)) == (0, 0, 0)
    again = plex.add_episode(10, ["/data/shrinking/A1.mkv"], "A1 again", show_title="A", season=0, episode=1)
    assert plex.item(again)["grandparentRatingKey"] not in (show_a, None)


def test_maintenance_answers_503_on_every_path_identity_too(plex: FakePlexServer, http: requests.Session) -> None:
    plex.maintenance(60)
    try:
        for path in ("/identity", "/", "/library/sections", "/library/sections/1/all?type=1"):
            answer = http.get(f"{plex.url}{path}", headers={"X-Plex-Token": plex.token})
            assert answer.status_code == 503 and b'title="Maintenance"' in answer.content, path
        assert plex.count("maintenance") == 4
    finally:
        plex.maintenance(0)
    assert http.get(f"{plex.url}/identity").status_code == 200


def test_request_lines_over_the_limit_get_414_as_from_nginx(plex: FakePlexServer, http: requests.Session) -> None:
    headers = {"X-Plex-Token": plex.token}
    base = f"{plex.url}/library/sections/1/all?type=1&title="
    fits = 8192 - len("GET /library/sections/1/all?type=1&title= HTTP/1.1")
    assert http.get(base + "x" * fits, headers=headers).status_code == 200
    refused = http.get(base + "x" * (fits + 1), headers=headers)
    assert refused.status_code == 414 and b"nginx" in refused.content
