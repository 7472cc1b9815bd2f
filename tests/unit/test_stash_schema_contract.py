"""The fake Stash's schema must be a faithful subset of the real one, or tests against it prove
nothing: every type, field, argument, enum value and input field it declares must exist in
Stash's schema (../shared/stash/schema.graphql) with the same type, nullability and lists.
Also: the documents stashapi sends while it builds itself, captured from the fake, are valid
against the real schema (the same check later tests apply to the product's own documents).
"""
from __future__ import annotations

import pytest
from graphql import build_schema

from devkit.fakes.stash_schema import fake_schema, real_schema, schema_differences, validate_against_real_schema
from devkit.shared_data import STASH_SCHEMA

pytestmark = pytest.mark.skipif(not STASH_SCHEMA.exists(), reason=f"reference schema missing: {STASH_SCHEMA}")


def test_fake_schema_declares_nothing_the_real_schema_lacks_or_types_differently():
    assert schema_differences(fake_schema(), real_schema()) == []


def test_fake_schema_covers_what_the_product_reads():
    schema = fake_schema()
    scene = schema.type_map["Scene"].fields
    for name in ("id title code details director urls date rating100 organized created_at "
                 "updated_at files paths studio performers tags groups stash_ids").split():
        assert name in scene
    assert set(schema.query_type.fields["findScenes"].args) == {"scene_filter", "scene_ids", "ids", "filter"}
    assert {"updated_at", "id"} <= set(schema.type_map["SceneFilterType"].fields)
    assert {"sceneUpdate", "bulkSceneUpdate", "configurePlugin", "sceneAddPlay",
            "sceneDeletePlay", "sceneResetPlayCount", "sceneSaveActivity", "sceneResetActivity"} <= set(schema.mutation_type.fields)


def test_fake_schema_has_every_mutation_whose_hook_plexsync_subscribes_to_and_run_plugin_task():
    """devkit/fakes/stash_plugin_mutations.py: same signatures as the real ones (checked above)."""
    hooked = {"sceneCreate", "sceneUpdate", "bulkSceneUpdate", "sceneDestroy", "tagUpdate", "tagsMerge", "tagDestroy",
              "performerUpdate", "performerDestroy", "studioUpdate", "studioDestroy", "groupUpdate", "groupDestroy"}
    assert hooked | {"runPluginTask"} <= set(fake_schema().mutation_type.fields)


def test_differences_are_reported_for_each_kind_of_mismatch():
    wrong = build_schema("""
        type Query { findScene(id: Int): Scene  findScenes(ids: [ID]): FindScenesResultType! }
        type Scene { id: ID  title: String  nickname: String  created_at: Time! }
        type FindScenesResultType { count: Int! }
        scalar Time
        enum SortDirectionEnum { ASC }
        input FindFilterType { page: String }
        type Imaginary { id: ID! }
    """)
    problems = "\n".join(schema_differences(wrong, real_schema()))
    assert "argument Query.findScene(id): Int != real ID" in problems
    assert "argument Query.findScenes(ids): [ID] != real [ID!]" in problems
    assert "field Scene.id: ID != real ID!" in problems
    assert "field Scene.nickname does not exist" in problems
    assert "enum SortDirectionEnum" in problems
    assert "input FindFilterType.page: String != real Int" in problems
    assert "type Imaginary does not exist" in problems


def test_validate_against_real_schema_accepts_real_documents_and_names_the_faults():
    good = """query FindScenes($filter: FindFilterType, $scene_filter: SceneFilterType) {
                findScenes(filter: $filter, scene_filter: $scene_filter) {
                  count scenes { id title updated_at files { path } paths { screenshot } } } }"""
    assert validate_against_real_schema(good) == []
    assert validate_against_real_schema("{ findScenes { scenes { id nickname } } }") != []
    assert validate_against_real_schema("query Broken { findScenes(") != []
    wrong_type = "query Q($id: Int) { findScene(id: $id) { id } }"
    assert any("$id" in message for message in validate_against_real_schema(wrong_type))


def test_stashapi_documents_captured_by_the_fake_are_valid_against_the_real_schema():
    import stashapi.stashapp as stashapp

    from devkit.fakes.stash_server import FakeStashServer
    from devkit.fakes.world import build_world

    server = FakeStashServer(build_world(30).stash_data)
    server.start()
    try:
        stash = stashapp.StashInterface({"Scheme": "http", "Host": "127.0.0.1", "Port": server.port})
        stash.find_scenes(f={"updated_at": {"value": "2024-02-01T00:00", "modifier": "GREATER_THAN"}},
                          filter={"per_page": 10, "page": 1, "sort": "updated_at", "direction": "ASC"})
        stash.find_scene(3)
        stash.configure_plugin("PlexSync", {"plexToken": "t"})
        stash.update_scene({"id": 3, "title": "Renamed"})
        documents = [entry["query"] for entry in server.graphql_log()]
    finally:
        server.stop()
    assert len(documents) >= 8
    for document in documents:
        assert validate_against_real_schema(document) == [], document[:300]
