"""plex.plays reads Plex's history through plexapi page by page, oldest first, with its filters."""
from __future__ import annotations

from common.settings import settings_from_mapping
from devkit.fakes.plex_server import FakePlexServer
from plex.client import PlexClient
from plex.plays import PlexPlays


def test_history_pages_oldest_first_from_an_inclusive_bound_and_per_item(tmp_path):
    plex = FakePlexServer(token="owner")
    plex.add_section(1, "Movies", "movie", ["/m"])
    first, second = plex.add_movie(1, ["/m/a.mp4"], "A"), plex.add_movie(1, ["/m/b.mp4"], "B")
    plex.start()
    try:
        for n in range(5):
            plex.plays.play_to_end(1, first if n % 2 else second)
            plex.plays.advance_clock(10)
        client = PlexClient.connect(settings_from_mapping({"plex_url": plex.url, "plex_token": "owner"}), tmp_path)
        plays = PlexPlays(client)
        pages = list(plays.history(None, page_size=2))
        assert [len(page) for page in pages] == [2, 2, 1]
        times = [row.viewed_at for page in pages for row in page]
        assert times == sorted(times) and len(set(times)) == 5
        assert [row.viewed_at for page in plays.history(times[3], page_size=2) for row in page] == times[3:]
        own = [row.rating_key for page in plays.history(None, page_size=2, rating_key=first) for row in page]
        assert own == [first, first]
        client.close()
    finally:
        plex.stop()
