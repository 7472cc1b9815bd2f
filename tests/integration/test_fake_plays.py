"""The fakes model plays as the servers do: per-account state in Plex, history only for completed
views, strict history paging, the notification websocket; Stash's play mutations not idempotent."""
from __future__ import annotations

import json

import pytest
import requests
import websocket
from plexapi.server import PlexServer

from devkit.fakes.plex_server import FakePlexServer
from devkit.fakes.stash_plays import plays_of
from devkit.fakes.stash_server import FakeStashServer
from tests.helpers.procs import wait_until


@pytest.fixture
def plex():
    server = FakePlexServer(token="owner-token")
    server.add_section(1, "Movies", "movie", ["/m"])
    server.add_section(2, "Shows", "show", ["/tv"])
    server.start()
    server.plays.add_account(2, "kid", "kid-token")
    yield server
    server.stop()


def test_a_view_past_90_percent_is_one_history_row_and_state_of_that_account_only(plex):
    movie = plex.add_movie(1, ["/m/a.mp4"], "A")
    episode = plex.add_episode(2, ["/tv/s/e1.mp4"], "E1", show_title="S", season=1, episode=1)
    plex.plays.play_to_end(1, movie)
    plex.plays.advance_clock(5)
    plex.plays.play_to_end(2, episode)
    plex.plays.play_part(2, movie, 0.5)
    owner = PlexServer(plex.url, "owner-token")
    rows = owner.history()
    assert sorted((h.accountID, h.ratingKey) for h in rows) == [(1, movie), (2, episode)]
    assert owner.fetchItem(movie).viewCount == 1 and owner.fetchItem(movie).viewOffset == 0
    kid = PlexServer(plex.url, "kid-token")
    assert kid.fetchItem(movie).viewCount == 0 and kid.fetchItem(movie).viewOffset == 900000
    assert [h.ratingKey for h in kid.history()] == [episode]  # a non-admin sees only its own rows
    show = plex.item(episode)["grandparentRatingKey"]
    assert [h.ratingKey for h in owner.history(ratingKey=show)] == [episode]  # a show matches its episodes


def test_mark_played_adds_no_history_and_admin_endpoints_refuse_others(plex):
    movie = plex.add_movie(1, ["/m/a.mp4"], "A")
    PlexServer(plex.url, "owner-token").fetchItem(movie).markPlayed()
    assert plex.plays.state(1, movie)["viewCount"] == 1 and plex.plays.history_rows() == []
    for path in ("/status/sessions", "/accounts"):
        assert requests.get(plex.url + path, params={"X-Plex-Token": "kid-token"}).status_code == 403


def test_history_paging_filters_and_a_missing_size(plex):
    movie = plex.add_movie(1, ["/m/a.mp4"], "A")
    for _ in range(5):
        plex.plays.play_to_end(1, movie)
        plex.plays.advance_clock(10)
    stamps = [row["viewedAt"] for row in plex.plays.history_rows()]
    url = plex.url + "/status/sessions/history/all"
    assert requests.get(url, params={"X-Plex-Token": "owner-token"}).status_code == 400
    answer = requests.get(url + f"?viewedAt>={stamps[2]}&sort=viewedAt",
                          headers={"X-Plex-Token": "owner-token", "X-Plex-Container-Start": "1",
                                   "X-Plex-Container-Size": "1"})
    assert answer.headers["X-Plex-Container-Total-Size"] == "3"  # inclusive bound
    assert f'viewedAt="{stamps[3]}"' in answer.text


def test_the_websocket_pushes_playing_without_a_user(plex):
    movie = plex.add_movie(1, ["/m/a.mp4"], "A")
    ws = websocket.create_connection(plex.url.replace("http", "ws") + "/:/websockets/notifications"
                                     "?X-Plex-Token=owner-token", timeout=5)
    try:  # the fake subscribes a socket just after its 101 answer: wait for it, or the event goes nowhere
        wait_until(lambda: plex.plays.websocket_count() == 1, timeout=5, message="the socket to be subscribed")
        plex.plays.timeline(2, movie, 1000, "playing", "tv")
        message = json.loads(ws.recv())["NotificationContainer"]
        assert message["type"] == "playing"
        notice = message["PlaySessionStateNotification"][0]
        assert notice["ratingKey"] == str(movie) and notice["state"] == "playing" and "user" not in json.dumps(notice)
        sessions = PlexServer(plex.url, "owner-token").sessions()
        assert [(s.sessionKey, s._userId) for s in sessions] == [(int(notice["sessionKey"]), 2)]
        assert plex.plays.drop_websockets() == 1
    finally:
        ws.close()


def test_stash_plays_are_not_idempotent_and_activity_adds_duration():
    stash = FakeStashServer()
    stash.start()
    try:
        scene = stash.add_scene(["/v/a.mp4"]).id

        def gql(query: str) -> dict:
            answer = requests.post(stash.url + "/graphql", json={"query": query}).json()
            assert "errors" not in answer, answer
            return answer["data"]

        for _ in range(2):
            gql(f'mutation {{ sceneAddPlay(id: {scene}, times: ["2024-01-01T10:00:00.700Z"]) {{ count }} }}')
        gql(f"mutation {{ sceneSaveActivity(id: {scene}, resume_time: 12.5, playDuration: 30) }}")
        gql(f"mutation {{ sceneSaveActivity(id: {scene}, playDuration: 30) }}")
        gql(f'mutation {{ sceneUpdate(input: {{id: {scene}, resume_time: 99}}) {{ id }} }}')
        found = gql(f"{{ findScene(id: {scene}) {{ play_count play_history last_played_at resume_time play_duration }} }}")
        assert found["findScene"] == {"play_count": 2, "play_history": ["2024-01-01T10:00:00Z"] * 2,
                                      "last_played_at": "2024-01-01T10:00:00Z", "resume_time": 12.5,
                                      "play_duration": 60.0}
        gql(f'mutation {{ sceneDeletePlay(id: {scene}, times: ["2024-01-01 10:00:00"]) {{ count }} }}')
        assert plays_of(stash.store).history(scene) == [1704103200]
    finally:
        stash.stop()
