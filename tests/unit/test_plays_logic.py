"""Pure pieces of the plays import: whose plays, the rating scale, Plex's notification messages."""
import json

import pytest

from common.errors import ConfigurationError
from plays.importer import AccountChoice, parse_accounts, stash_rating
from plex.notifications import parse_message


def test_accounts_default_to_the_owner_and_names_resolve_through_plex():
    asked = []

    def known():
        asked.append(1)
        return {1: "Owner", 2: "Kid"}

    assert parse_accounts("", known) == AccountChoice(frozenset({1})) and asked == []
    assert parse_accounts("all", known).ids is None
    choice = parse_accounts("kid, 1", known)
    assert choice.ids == frozenset({1, 2}) and choice.single is None and choice.owner
    assert parse_accounts("3", known).single == 3 and not parse_accounts("3", known).owner
    with pytest.raises(ConfigurationError, match="'guest'.*Kid, Owner.*Settings"):
        parse_accounts("guest", known)


def test_plex_ratings_map_to_stash_and_back_without_drift():
    assert [stash_rating(r) for r in (0.0, 0.04, 1.0, 7.3, 8.0, 10.0)] == [None, None, 10, 73, 80, 100]
    assert all(stash_rating(value / 10.0) == value for value in range(1, 101))  # Plex keeps rating100 / 10


def test_only_playing_notifications_become_events():
    playing = {"NotificationContainer": {"type": "playing", "size": 1, "PlaySessionStateNotification": [
        {"sessionKey": "19", "ratingKey": "9723", "viewOffset": 39000, "state": "stopped", "guid": ""}]}}
    (event,) = parse_message(json.dumps(playing))
    assert (event.session_key, event.rating_key, event.state, event.view_offset_ms) == ("19", 9723, "stopped", 39000)
    timeline = {"NotificationContainer": {"type": "timeline", "TimelineEntry": [{"itemID": 1}]}}
    assert parse_message(json.dumps(timeline)) == [] and parse_message("not json") == []
