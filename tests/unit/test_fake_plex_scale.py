"""The fake Plex holds a 100,000-item library compactly and pages through it correctly."""
from __future__ import annotations

import tracemalloc
import xml.etree.ElementTree as ET

import pytest
import requests

from devkit.fakes.plex_server import FakePlexServer

GENRES = [f"Genre {i}" for i in range(300)]


def fill(plex: FakePlexServer, count: int) -> None:
    for i in range(count):
        plex.add_movie(1, [f"/data/videos/studio {i % 97}/scene-{i:06d}.mp4"], f"Scene {(i * 7919) % count:06d}",
                       summary="A typical scene summary of a sentence or two.", studio=f"Studio {i % 97}",
                       originallyAvailableAt="2021-03-04", genres=GENRES[i % 290:i % 290 + 6],
                       actors=[f"Performer {(i + j) % 5000}" for j in range(3)])


def new_server() -> FakePlexServer:
    plex = FakePlexServer()
    plex.add_section(1, "Videos", "movie", ["/data/videos"])
    return plex


def test_items_are_compact() -> None:
    plex = new_server()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fill(plex, 20_000)
        per_item = (tracemalloc.get_traced_memory()[0] - before) / 20_000
    finally:
        tracemalloc.stop()
    assert per_item < 3_000, f"{per_item:.0f} bytes per item would not keep 100k items well under 1 GiB"


@pytest.mark.slow
def test_hundred_thousand_items_page_and_edit() -> None:
    plex = new_server()
    fill(plex, 100_000)
    url = plex.start()
    try:
        with requests.Session() as http:
            headers = {"X-Plex-Token": plex.token, "X-Plex-Container-Size": "500"}
            last = ET.fromstring(http.get(f"{url}/library/sections/1/all?type=1", headers={
                **headers, "X-Plex-Container-Start": "99900"}).text)
            assert (last.get("totalSize"), last.get("size")) == ("100000", "100")
            assert [v.get("title") for v in last][-1] == "Scene 099999"

            key = int(last[-1].get("ratingKey"))
            http.put(f"{url}/library/sections/1/all?type=1&id={key}&title.value=AAA", headers=headers)
            first = ET.fromstring(http.get(f"{url}/library/sections/1/all?type=1", headers={
                **headers, "X-Plex-Container-Start": "0"}).text)
            assert int(first[0].get("ratingKey")) == key
    finally:
        plex.stop()
