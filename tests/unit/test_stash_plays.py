"""Stash play documents are valid against Stash's real schema; times compare at whole seconds."""
import pytest

from devkit.fakes.stash_schema import validate_against_real_schema
from devkit.shared_data import STASH_SCHEMA
from stash.plays import (
    PLAYED_SINCE,
    SCENE_PLAYS,
    add_plays_document,
    parse_time,
    save_ratings_document,
    save_resume_document,
    timestamp,
)


@pytest.mark.skipif(not STASH_SCHEMA.exists(), reason=f"reference schema missing: {STASH_SCHEMA}")
@pytest.mark.parametrize("document", [SCENE_PLAYS, PLAYED_SINCE, add_plays_document(3), save_resume_document(2),
                                      save_ratings_document(2)])
def test_play_documents_are_valid_against_the_real_schema(document):
    assert validate_against_real_schema(document) == []


def test_times_round_trip_at_whole_seconds_utc():
    assert timestamp(1704103200) == "2024-01-01T10:00:00Z"
    assert parse_time("2024-01-01T10:00:00.123456789Z") == 1704103200
    assert parse_time("2024-01-01T12:00:00+02:00") == 1704103200


def test_the_hook_queues_nothing_for_plexsyncs_own_rating_write():
    from hooks.events import OWN_WRITE, job_from_hook

    own = {"id": 5, "type": "Scene.Update.Post", "input": {"id": "5", "rating100": 80, "clientMutationId": OWN_WRITE},
           "inputFields": ["clientMutationId", "id", "rating100"]}
    assert job_from_hook(own) is None
    users = dict(own, input={"id": "5", "rating100": 80}, inputFields=["id", "rating100"])
    assert job_from_hook(users) is not None
