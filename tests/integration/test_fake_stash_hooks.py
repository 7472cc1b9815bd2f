"""The hook contexts the fake Stash hands its listeners are the ones a real Stash writes on a
plugin's stdin (pkg/plugin/common/msg.go HookContext, internal/api/resolver_mutation_scene.go,
pkg/scene/scan.go): tests feed them to PlexSync.py, so a kinder shape would hide a product bug.
Mutations go through the real stashapi client over HTTP.
"""
from __future__ import annotations

import json

import pytest
import stashapi.stashapp as stashapp

from devkit.fakes.stash_hooks import SCENE_UPDATE_INPUT_KEYS
from devkit.fakes.stash_server import FakeStashServer
from devkit.fakes.stash_store import parse_time
from devkit.fakes.world import build_world
from devkit.shared_data import STASH_SCHEMA

UPDATE_MUTATION = "mutation U($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }"
BULK_MUTATION = "mutation B($input: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $input) { id } }"


@pytest.fixture
def server():
    srv = FakeStashServer(build_world(20, seed=2).stash_data)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def captured(server):
    """(hook contexts, on_scene_update calls) as the fake reports them, JSON round-tripped."""
    contexts: list = []
    updates: list = []
    server.store.on_hook(lambda context: contexts.append(json.loads(json.dumps(context))))
    server.on_scene_update(lambda scene_id, hook_input, fields: updates.append((scene_id, hook_input, fields)))
    return contexts, updates


def connect(srv):
    return stashapp.StashInterface({"Scheme": "http", "Host": "127.0.0.1", "Port": srv.port})


def test_scene_update_input_has_every_key_nulls_included_and_input_fields_are_the_keys_sent(server, captured):
    contexts, updates = captured
    sent = {"id": "4", "title": "Renamed", "details": None, "tag_ids": [], "groups": [{"group_id": "1"}]}
    connect(server).call_GQL(UPDATE_MUTATION, {"input": sent})
    (context,) = contexts
    assert set(context) == {"id", "type", "input", "inputFields"}
    assert (context["id"], context["type"]) == (4, "Scene.Update.Post")
    hook_input = context["input"]
    assert list(hook_input) == list(SCENE_UPDATE_INPUT_KEYS)  # the Go struct: every key
    assert "details" in hook_input and hook_input["details"] is None  # sent as null
    assert hook_input["code"] is None and hook_input["cover_image"] is None  # not sent
    assert hook_input["title"] == "Renamed" and hook_input["tag_ids"] == []
    assert hook_input["groups"] == [{"group_id": "1", "scene_index": None}]
    assert sorted(context["inputFields"]) == sorted(sent)  # nulls included, unsent keys not
    assert updates == [(4, hook_input, context["inputFields"])]


@pytest.mark.skipif(not STASH_SCHEMA.exists(), reason=f"reference schema missing: {STASH_SCHEMA}")
def test_the_struct_keys_are_the_real_scene_update_input_fields():
    from devkit.fakes.stash_schema import real_schema

    assert set(SCENE_UPDATE_INPUT_KEYS) == set(real_schema().type_map["SceneUpdateInput"].fields)


def test_bulk_update_fires_one_hook_per_scene_each_with_the_whole_bulk_input(server, captured):
    contexts, updates = captured
    sent = {"ids": ["3", "5", "9"], "tag_ids": {"ids": ["2"], "mode": "ADD"}, "rating100": 80,
            "details": None, "performer_ids": {"ids": [], "mode": "SET"}}
    connect(server).call_GQL(BULK_MUTATION, {"input": sent})
    assert [c["id"] for c in contexts] == [3, 5, 9]
    whole = {"ids": ["3", "5", "9"], "tag_ids": {"ids": ["2"], "mode": "ADD"}, "rating100": 80,
             "performer_ids": {"mode": "SET"}}  # generated struct: nullable fields omitempty
    for context in contexts:
        assert context["type"] == "Scene.Update.Post"
        assert context["input"] == whole
        assert sorted(context["inputFields"]) == sorted(sent)  # the bulk map's keys, `ids` too
    assert [u[0] for u in updates] == [3, 5, 9]


def test_a_scan_created_scene_fires_create_post_with_a_null_input_and_no_input_fields(server, captured):
    contexts, updates = captured
    row = server.add_scene(["/data/videos/new/clip.mp4"])
    assert contexts == [{"id": row.id, "type": "Scene.Create.Post", "input": None}]
    assert updates == [], "a create is no Scene.Update.Post"


def test_a_refused_update_fires_no_hook(server, captured):
    contexts, updates = captured
    answer = connect(server).call_GQL(UPDATE_MUTATION, {"input": {"id": "4", "tag_ids": ["999999"]}})
    assert answer == {"sceneUpdate": None}  # the error is logged by stashapi, the field is null
    assert 999999 not in server.scene(4).tag_ids
    assert contexts == [] and updates == []


def test_a_regenerated_cover_fires_no_hook_but_moves_updated_at(server, captured):
    contexts, _ = captured
    before = server.scene(6).updated_at
    server.set_cover(6)
    assert contexts == []
    assert parse_time(server.scene(6).updated_at) > parse_time(before)
    assert server.scene(6).updated_at == server.now_text()
