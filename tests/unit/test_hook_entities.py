"""Tag, Performer, Studio and Group hooks → one entity change, from the shapes Stash sends
(internal/api/resolver_mutation_{tag,performer,studio,group}.go), and malformed ones."""
from functools import lru_cache

import pytest
from graphql import build_schema

from devkit.shared_data import STASH_SCHEMA
from hooks.entities import (
    DESTROY,
    ENTITY_HOOK_TYPES,
    GROUP,
    MERGE,
    PERFORMER,
    STUDIO,
    TAG,
    UNUSED_FIELDS,
    UPDATE,
    USED_FIELDS,
    EntityChange,
    change_from_hook,
)
from hooks.events import HookInputError

INPUTS = {TAG: "Tag", PERFORMER: "Performer", STUDIO: "Studio", GROUP: "Group"}


@lru_cache(maxsize=None)
def real_input_fields(type_name: str) -> frozenset:
    schema = build_schema(STASH_SCHEMA.read_text(encoding="utf-8"))
    return frozenset(schema.type_map[type_name].fields)


@pytest.mark.parametrize("kind", list(INPUTS))
def test_used_and_unused_fields_cover_every_field_of_the_real_update_inputs(kind):
    real = real_input_fields(f"{INPUTS[kind]}UpdateInput") | real_input_fields(f"Bulk{INPUTS[kind]}UpdateInput")
    known = USED_FIELDS[kind] | UNUSED_FIELDS[kind]
    assert real <= known, sorted(real - known)
    assert USED_FIELDS[kind] <= real
    assert not USED_FIELDS[kind] & UNUSED_FIELDS[kind]


def test_subscribed_types_are_the_ones_stash_fires():
    assert set(ENTITY_HOOK_TYPES) == {
        "Tag.Update.Post", "Tag.Merge.Post", "Tag.Destroy.Post", "Performer.Update.Post",
        "Performer.Destroy.Post", "Studio.Update.Post", "Studio.Destroy.Post", "Group.Update.Post",
        "Group.Destroy.Post"}


def test_a_rename_queues_a_change_naming_the_entity_and_the_field():
    change = change_from_hook({"type": "Tag.Update.Post", "id": 12, "input": {"id": "12", "name": "New"},
                               "inputFields": ["id", "name"]})
    assert change == EntityChange(TAG, 12, UPDATE, ("name",))


def test_an_update_of_fields_plex_does_not_show_queues_nothing():
    assert change_from_hook({"type": "Performer.Update.Post", "id": "4",
                             "input": {"id": "4", "birthdate": "1990-01-01", "details": "x"},
                             "inputFields": ["id", "birthdate", "details"]}) is None
    assert change_from_hook({"type": "Tag.Update.Post", "id": 3, "input": {"id": "3", "description": "d"},
                             "inputFields": ["id", "description"]}) is None


def test_without_input_fields_the_input_keys_decide():
    assert change_from_hook({"type": "Studio.Update.Post", "id": 2,
                             "input": {"id": "2", "favorite": True}}) is None
    # a studio's details are its collection's summary in Plex (issue 20)
    assert change_from_hook({"type": "Studio.Update.Post", "id": 2,
                             "input": {"id": "2", "details": "x"}}) == EntityChange(STUDIO, 2, UPDATE, ("details",))
    assert change_from_hook({"type": "Studio.Update.Post", "id": 2,
                             "input": {"id": "2", "parent_id": "1"}}) == EntityChange(STUDIO, 2, UPDATE,
                                                                                      ("parent_id",))


def test_a_bulk_update_fires_one_hook_per_entity_with_the_whole_input():
    bulk = {"ids": ["5", "6"], "parent_ids": {"ids": ["1"], "mode": "ADD"}}
    for tag_id in (5, 6):
        change = change_from_hook({"type": "Tag.Update.Post", "id": tag_id, "input": bulk,
                                   "inputFields": ["ids", "parent_ids"]})
        assert change == EntityChange(TAG, tag_id, UPDATE, ("parent_ids",))


def test_an_unknown_field_queues_a_change():
    change = change_from_hook({"type": "Group.Update.Post", "id": 9, "input": {"id": "9", "new_field": 1},
                               "inputFields": ["id", "new_field"]})
    assert change == EntityChange(GROUP, 9, UPDATE, ())


def test_merge_names_the_destination_and_destroy_the_entity():
    assert change_from_hook({"type": "Tag.Merge.Post", "id": 7,
                             "input": {"source": ["8", "9"], "destination": "7"}}) == EntityChange(TAG, 7, MERGE, ())
    assert change_from_hook({"type": "Performer.Destroy.Post", "id": 3,
                             "input": {"id": "3"}}) == EntityChange(PERFORMER, 3, DESTROY, ())
    assert change_from_hook({"type": "Tag.Destroy.Post", "id": 3,
                             "input": ["3", "4"]}) == EntityChange(TAG, 3, DESTROY, ())


@pytest.mark.parametrize("context, message", [
    ({"type": "Tag.Update.Post", "id": None, "input": {}}, "hookContext.id must be a tag id"),
    ({"type": "Tag.Update.Post", "id": "x", "input": {}}, "hookContext.id must be a tag id"),
    ({"type": "Studio.Update.Post", "id": -2, "input": {}}, "positive studio id"),
    ({"type": "Tag.Update.Post", "id": 1, "input": "name"}, "hookContext.input must be an object"),
])
def test_malformed_contexts_say_what_is_wrong(context, message):
    with pytest.raises(HookInputError, match=message):
        change_from_hook(context)
