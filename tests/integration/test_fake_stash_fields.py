"""Every field of the modelled types answers: a client asking the fake Stash for any real field
of Scene, ScenePathsType, VideoFile, Studio, Performer, Tag or Group (through the real stashapi
client) gets a value, never a validation error, and non-null fields are never null. The queries
are built from Stash's real schema (../shared/stash/schema.graphql), so a field the fake lacks
fails here; the values that are computed (counts, hierarchy, URLs) are checked against the store.
"""
from __future__ import annotations

from typing import Any

import pytest
import stashapi.stashapp as stashapp
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, get_named_type, is_leaf_type

from devkit.fakes.stash_fields import oshash
from devkit.fakes.stash_schema import real_schema, validate_against_real_schema
from devkit.fakes.stash_server import FakeStashServer
from devkit.fakes.world import build_world
from devkit.shared_data import STASH_SCHEMA

pytestmark = pytest.mark.skipif(not STASH_SCHEMA.exists(), reason=f"reference schema missing: {STASH_SCHEMA}")

# Where each modelled type sits below a scene in findScenes.
PATHS = {"Scene": (), "ScenePathsType": ("paths",), "VideoFile": ("files",), "Studio": ("studio",),
         "Performer": ("performers",), "Tag": ("tags",), "Group": ("groups", "group")}
REQUIRED_ARGUMENTS = {("VideoFile", "fingerprint"): '(type: "oshash")'}


@pytest.fixture(scope="module")
def server():
    srv = FakeStashServer(build_world(80, seed=5).stash_data, api_key="fields-key")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def stash(server):
    return stashapp.StashInterface({"Scheme": "http", "Host": "127.0.0.1", "Port": server.port,
                                    "ApiKey": server.api_key})


def every_field(type_name: str) -> str:
    """A selection of every field of the real type; object fields select `__typename` and `id`
    (when they have one); fields with depth arguments are asked both without and with depth -1."""
    real = real_schema().type_map[type_name]
    parts = []
    for name, field in real.fields.items():
        named = get_named_type(field.type)
        args = REQUIRED_ARGUMENTS.get((type_name, name), "")
        sub = ""
        if not is_leaf_type(named):
            has_id = isinstance(named, GraphQLObjectType) and "id" in named.fields
            sub = " { __typename" + (" id" if has_id else "") + " }"
        parts.append(f"{name}{args}{sub}")
        if "depth" in field.args:
            parts.append(f"{name}_all: {name}(depth: -1){sub}")
    return " ".join(parts)


def query_for(type_name: str) -> str:
    inner = every_field(type_name)
    for step in reversed(PATHS[type_name]):
        inner = f"{step} {{ {inner} }}"
    return f"query EveryField{type_name} {{ findScenes(filter: {{per_page: -1}}) {{ scenes {{ {inner} }} }} }}"


def objects_at(scenes: list, path: tuple) -> list[dict]:
    found: list[Any] = list(scenes)
    for step in path:
        nxt: list[Any] = []
        for value in found:
            child = value[step]
            nxt += child if isinstance(child, list) else [child]
        found = [v for v in nxt if v is not None]
    return found


def null_where_the_real_type_forbids(type_name: str, obj: dict) -> list[str]:
    real = real_schema().type_map[type_name]
    problems = []
    for key, value in obj.items():
        field = real.fields[key.removesuffix("_all")]
        kind = field.type
        if isinstance(kind, GraphQLNonNull) and value is None:
            problems.append(f"{type_name}.{key} is null")
            continue
        inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
        if isinstance(inner, GraphQLList) and isinstance(inner.of_type, GraphQLNonNull) and value:
            if any(item is None for item in value):
                problems.append(f"{type_name}.{key} holds null")
    return problems


@pytest.mark.parametrize("type_name", list(PATHS))
def test_every_real_field_of_the_type_answers_and_non_null_ones_are_not_null(stash, server, type_name):
    query = query_for(type_name)
    assert validate_against_real_schema(query) == []
    data = stash.call_GQL(query)  # stashapi raises on any GraphQL error
    objects = objects_at(data["findScenes"]["scenes"], PATHS[type_name])
    assert objects, f"the world has no {type_name} to check"
    asked = set(real_schema().type_map[type_name].fields)
    for obj in objects:
        assert {key.removesuffix("_all") for key in obj} == asked
        assert null_where_the_real_type_forbids(type_name, obj) == []


def test_a_third_party_query_for_fields_plexsync_never_reads_answers(stash, server):
    query = """query ThirdParty { findScenes(filter: {per_page: -1}) { scenes {
        id paths { preview stream webp vtt sprite } files { width height video_codec frame_rate bit_rate }
        interactive o_counter play_count resume_time last_played_at scene_markers { id } galleries { id }
        movies { movie { id } } } } }"""
    assert validate_against_real_schema(query) == []
    scenes = stash.call_GQL(query)["findScenes"]["scenes"]
    assert len(scenes) == len(server.scenes())
    for scene in scenes:
        row = server.scene(int(scene["id"]))
        base = f"{server.url}/scene/{row.id}"
        checksum = oshash(row.files[0])
        assert scene["paths"] == {"preview": base + "/preview", "stream": base + "/stream?apikey=fields-key",
                                  "webp": base + "/webp", "vtt": f"{server.url}/scene/{checksum}_thumbs.vtt",
                                  "sprite": f"{server.url}/scene/{checksum}_sprite.jpg"}
        for file, stored in zip(scene["files"], row.files):
            assert file["width"] == stored.width and file["height"] == stored.height
            assert file["video_codec"] == "h264" and file["frame_rate"] == pytest.approx(29.97)
            assert file["bit_rate"] == int(stored.size * 8 / stored.duration)
        assert (scene["interactive"], scene["o_counter"], scene["play_count"]) == (False, 0, 0)
        assert scene["resume_time"] == 0 and scene["last_played_at"] is None
        assert scene["scene_markers"] == [] and scene["galleries"] == []
        assert [m["movie"]["id"] for m in scene["movies"]] == [str(g) for g, _ in row.groups]


def test_counts_and_hierarchy_are_computed_from_the_store(stash, server):
    rows, studios = server.scenes(), server.store.studios
    data = stash.call_GQL("""query Counts { findScenes(filter: {per_page: -1}) { scenes {
        studio { id scene_count all: scene_count(depth: -1) child_studios { id } parent_studio { id } }
        performers { id scene_count performer_count } tags { id scene_count children { id } parent_count } } } }""")
    scenes = data["findScenes"]["scenes"]
    parents_seen = 0
    for studio in (s["studio"] for s in scenes if s["studio"]):
        studio_id = int(studio["id"])
        children = {c.id for c in studios.values() if c.parent_id == studio_id}
        assert {int(c["id"]) for c in studio["child_studios"]} == children
        assert studio["scene_count"] == sum(r.studio_id == studio_id for r in rows)
        assert studio["all"] == sum(r.studio_id in children | {studio_id} for r in rows)
        parents_seen += bool(children)
    assert parents_seen, "no scene of the world has a studio with sub-studios"
    for scene in scenes:
        for performer in scene["performers"]:
            with_them = [r for r in rows if int(performer["id"]) in r.performer_ids]
            assert performer["scene_count"] == len(with_them)
            assert performer["performer_count"] == len({p for r in with_them for p in r.performer_ids}
                                                       - {int(performer["id"])})
        for tag in scene["tags"]:
            assert tag["scene_count"] == sum(int(tag["id"]) in r.tag_ids for r in rows)
            assert tag["children"] == [] and tag["parent_count"] == 0


def test_a_scene_without_files_is_not_interactive_and_has_no_captions_or_streams():
    server = FakeStashServer(build_world(3).stash_data)
    server.start()
    try:
        row = server.add_scene([], title="No file yet")
        stash = stashapp.StashInterface({"Scheme": "http", "Host": "127.0.0.1", "Port": server.port})
        data = stash.call_GQL("query One($id: ID) { findScene(id: $id) { interactive captions { language_code } "
                              "sceneStreams { url } paths { vtt } } }", {"id": str(row.id)})["findScene"]
    finally:
        server.stop()
    assert data == {"interactive": False, "captions": None, "sceneStreams": [],
                    "paths": {"vtt": f"{server.url}/scene/_thumbs.vtt"}}
