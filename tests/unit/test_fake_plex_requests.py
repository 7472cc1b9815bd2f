"""The fake Plex's request grammar, spoken raw: what an edit PUT may carry, what is refused
(as Plex refuses it), paging by header or query, auth by header or query."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Iterator
from urllib.parse import quote

import pytest
import requests

from tests.fakes.plex_server import FakePlexServer


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
    "type=1&title.value=x",
])
def test_malformed_edits_are_refused_and_change_nothing(plex: FakePlexServer, http: requests.Session,
                                                        query: str) -> None:
    key = new_movie(plex)
    before = plex.item(key)
    assert put(plex, http, query.format(key=key)).status_code == 400
    assert plex.item(key) == before


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
    unpaged = ET.fromstring(http.get(listing, headers={"X-Plex-Token": plex.token}).text)

    assert by_query.text == by_header.text
    root = ET.fromstring(by_query.text)
    assert (root.get("size"), root.get("offset"), root.get("totalSize")) == ("2", "1", "5")
    assert [int(v.get("ratingKey")) for v in root] == keys[1:3]
    assert [int(v.get("ratingKey")) for v in unpaged] == keys


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
