"""hookContext → job: every shape Stash sends (DESIGN §1 and Stash's resolvers), and malformed ones."""
from functools import lru_cache

import pytest
from graphql import build_schema

from devkit.shared_data import STASH_SCHEMA
from hooks.events import (
    CREATE,
    DESTROY,
    HOOK_TYPES,
    IGNORED_INPUT_FIELDS,
    SYNCED_BULK_FIELDS,
    SYNCED_UPDATE_FIELDS,
    UPDATE,
    HookInputError,
    HookJob,
    job_from_hook,
)


@lru_cache(maxsize=None)
def real_input_fields(type_name: str) -> frozenset:
    schema = build_schema(STASH_SCHEMA.read_text(encoding="utf-8"))
    return frozenset(schema.type_map[type_name].fields)


def update(input_value, input_fields=None, scene_id=7):
    context = {"id": scene_id, "type": "Scene.Update.Post", "input": input_value}
    if input_fields is not None:
        context["inputFields"] = input_fields
    return job_from_hook(context)


# --- the field sets agree with Stash's real schema -----------------------------------------


def test_synced_update_fields_exist_in_scene_update_input():
    assert SYNCED_UPDATE_FIELDS <= real_input_fields("SceneUpdateInput")


def test_synced_bulk_fields_exist_in_bulk_scene_update_input():
    assert SYNCED_BULK_FIELDS <= real_input_fields("BulkSceneUpdateInput")


@pytest.mark.parametrize("type_name, synced", [("SceneUpdateInput", SYNCED_UPDATE_FIELDS),
                                               ("BulkSceneUpdateInput", SYNCED_BULK_FIELDS)])
def test_every_input_field_is_classified(type_name, synced):
    """A field Stash adds must be classified on purpose (until then it queues a job)."""
    fields = real_input_fields(type_name)
    assert fields - synced - IGNORED_INPUT_FIELDS == set()
    assert not synced & IGNORED_INPUT_FIELDS


# --- create and destroy ---------------------------------------------------------------------


def test_scan_created_scene_has_null_input():
    assert job_from_hook({"id": 12, "type": "Scene.Create.Post", "input": None}) == HookJob(12, CREATE)


def test_scene_created_in_the_ui_is_a_create_job():
    context = {"id": 3, "type": "Scene.Create.Post", "input": {"title": "New", "file_ids": ["9"]},
               "inputFields": ["title", "file_ids"]}
    assert job_from_hook(context) == HookJob(3, CREATE)


def test_single_destroy_is_a_destroy_job():  # the file path Stash sends is not needed (it was never used)
    context = {"id": 5, "type": "Scene.Destroy.Post",
               "input": {"id": "5", "delete_file": False, "delete_generated": True,
                         "checksum": "", "oshash": "abc", "path": "/data/a.mp4"}}
    assert job_from_hook(context) == HookJob(5, DESTROY)


def test_multi_destroy_fires_per_scene_and_jobs_only_that_scene():
    bulk = {"ids": ["5", "6", "7"], "delete_file": True, "path": "/data/b.mp4"}
    job = job_from_hook({"id": 6, "type": "Scene.Destroy.Post", "input": bulk})
    assert job == HookJob(6, DESTROY)


def test_destroy_without_path_is_still_recorded():
    assert job_from_hook({"id": 5, "type": "Scene.Destroy.Post", "input": None}) == HookJob(5, DESTROY)


# --- updates --------------------------------------------------------------------------------


def test_edit_form_with_synced_fields():
    job = update({"id": "7", "title": "T", "tag_ids": ["1"], "urls": []}, ["id", "title", "tag_ids", "urls"])
    assert job == HookJob(7, UPDATE, ("tag_ids", "title"))


@pytest.mark.parametrize("field", sorted(SYNCED_UPDATE_FIELDS))
def test_each_synced_field_alone_queues_an_update(field):
    job = update({"id": "7", field: None}, ["id", field])
    assert job is not None and job.action == UPDATE and job.fields == (field,)


@pytest.mark.parametrize("fields", [["id", "organized"], ["id", "urls"], ["id", "stash_ids"],
                                    ["id", "code"], ["id", "o_counter"], ["id", "play_count"],
                                    ["id", "resume_time", "play_duration"], ["id", "gallery_ids"],
                                    ["id"], ["id", "clientMutationId", "organized", "urls"]])
def test_updates_touching_only_unsynced_fields_are_skipped(fields):
    assert update({name: None for name in fields}, fields) is None


def test_cover_image_is_a_poster_change():
    job = update({"id": "7", "cover_image": "data:image/jpeg;base64,AAAA"}, ["id", "cover_image"])
    assert job == HookJob(7, UPDATE, ("cover_image",))


def test_movies_is_the_older_name_for_groups():
    assert update({"id": "7", "movies": []}, ["id", "movies"]).fields == ("movies",)


def test_input_keys_are_used_when_input_fields_are_missing():
    assert update({"id": "7", "details": "x"}) == HookJob(7, UPDATE, ("details",))
    assert update({"id": "7", "organized": True}) is None


def test_empty_input_fields_fall_back_to_input_keys():
    assert update({"id": "7", "organized": True}, []) is None


def test_scan_updated_file_has_null_input():
    assert update(None) == HookJob(7, UPDATE)


def test_bulk_edit_queues_only_the_hooked_scene():
    bulk = {"ids": ["7", "8", "9"], "tag_ids": {"ids": ["3"], "mode": "ADD"}}
    job = update(bulk, ["ids", "tag_ids"], scene_id=8)
    assert job == HookJob(8, UPDATE, ("tag_ids",))


@pytest.mark.parametrize("field", sorted(SYNCED_BULK_FIELDS))
def test_each_bulk_field_queues_an_update(field):
    assert update({"ids": ["7"], field: None}, ["ids", field]).fields == (field,)


def test_bulk_edit_of_unsynced_fields_is_skipped():
    bulk = {"ids": ["7", "8"], "organized": True, "urls": {"values": ["u"], "mode": "ADD"}}
    assert update(bulk, ["ids", "organized", "urls"]) is None


def test_scenes_update_list_uses_this_scenes_entry():
    entries = [{"id": "7", "organized": True}, {"id": "8", "title": "x"}]
    assert update(entries, scene_id=7) is None
    assert update(entries, scene_id=8) == HookJob(8, UPDATE, ("title",))
    assert update(entries, ["id", "title"], scene_id=7) == HookJob(7, UPDATE, ("title",))


def test_scenes_update_list_without_this_scene_queues_to_be_safe():
    assert update([{"id": "1", "organized": True}], scene_id=7) == HookJob(7, UPDATE)


def test_identify_task_sends_its_non_null_fields():
    job = update({"id": "7", "title": "T", "stash_ids": [], "cover_image": "data:..."},
                 ["id", "title", "stash_ids", "cover_image"])
    assert job == HookJob(7, UPDATE, ("cover_image", "title"))


def test_merge_shaped_input_queues_an_update():
    merge = {"source": ["3", "4"], "destination": "7", "values": {"id": "7", "organized": True}}
    assert update(merge) == HookJob(7, UPDATE)


def test_unknown_field_queues_rather_than_loses_an_edit():
    assert update({"id": "7", "files": []}, ["files"]) == HookJob(7, UPDATE)
    assert update({"id": "7", "custom_fields": {}}, ["id", "custom_fields"]) == HookJob(7, UPDATE)


def test_id_may_arrive_as_digits():
    assert update(None, scene_id="42") == HookJob(42, UPDATE)


def test_hook_types_plexsync_does_not_handle_are_ignored():
    assert job_from_hook({"id": 1, "type": "SceneMarker.Create.Post", "input": {}}) is None
    assert job_from_hook({"id": 1, "type": "Performer.Update.Post", "input": {}}) is None
    assert set(HOOK_TYPES) == {"Scene.Create.Post", "Scene.Update.Post", "Scene.Destroy.Post"}


# --- malformed contexts -----------------------------------------------------------------------


@pytest.mark.parametrize("context, words", [
    (None, "hookContext must be an object"),
    ([1], "hookContext must be an object"),
    ({"type": "Scene.Update.Post", "input": None}, "hookContext.id"),
    ({"id": None, "type": "Scene.Update.Post"}, "hookContext.id"),
    ({"id": "abc", "type": "Scene.Update.Post"}, "hookContext.id"),
    ({"id": "12a", "type": "Scene.Update.Post"}, "hookContext.id"),
    ({"id": 1.5, "type": "Scene.Update.Post"}, "hookContext.id"),
    ({"id": True, "type": "Scene.Update.Post"}, "hookContext.id"),
    ({"id": 0, "type": "Scene.Update.Post"}, "positive"),
    ({"id": -3, "type": "Scene.Create.Post"}, "positive"),
    ({"id": 1}, "hookContext.type"),
    ({"id": 1, "type": 5}, "hookContext.type"),
    ({"id": 1, "type": ""}, "hookContext.type"),
    ({"id": 1, "type": "Scene.Update.Post", "input": "title"}, "hookContext.input"),
    ({"id": 1, "type": "Scene.Update.Post", "input": 3}, "hookContext.input"),
    ({"id": 1, "type": "Scene.Update.Post", "input": {}, "inputFields": "title"}, "inputFields"),
    ({"id": 1, "type": "Scene.Update.Post", "input": {}, "inputFields": ["title", 3]}, "inputFields"),
])
def test_malformed_contexts_raise_one_line_errors(context, words):
    with pytest.raises(HookInputError) as raised:
        job_from_hook(context)
    message = str(raised.value)
    assert words in message and "\n" not in message and len(message) < 200
    assert isinstance(raised.value, ValueError)
