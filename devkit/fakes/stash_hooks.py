"""The `hookContext` a real Stash hands a plugin, built from a mutation's input as the fake got it.

Tests feed PlexSync.py what the fake's listeners capture, so the shapes must be Stash's, not
"the dict the client sent". From stashapp/stash (the commit of ../shared/stash/schema.graphql):
- pkg/plugin/common/msg.go `HookContext`: `{"id", "type", "input", "inputFields"}`, `id` and
  `inputFields` with `omitempty` (no `inputFields` key when there are none), marshalled with
  encoding/json (pkg/plugin/raw.go).
- internal/api/resolver_mutation_scene.go: `sceneUpdate` passes the decoded
  `models.SceneUpdateInput` struct (pkg/models/scene.go: plain `json:"..."` tags, no
  omitempty), so `input` has *every* key of that struct, null where the client sent null or
  nothing; `inputFields` are the keys of the request's input map (what was sent, nulls
  included). `bulkSceneUpdate` runs one hook per scene, `id` that scene, `input` the whole
  bulk input and `inputFields` the bulk map's keys (`ids` among them).
- pkg/scene/scan.go, pkg/scene/create.go: `Scene.Create.Post` always has input and
  inputFields nil (a scan, and `sceneCreate` too); a scan adding a file to a scene fires
  `Scene.Update.Post` with both nil.
- No hook: `sceneMerge` (resolver_mutation_scene.go SceneMerge, pkg/scene/merge.go) and cover
  generation (internal/manager/task_generate_screenshot.go, which only moves `updated_at`).
Not verifiable from the mirror: BulkSceneUpdateInput is a gqlgen-generated struct
(internal/api/generated_models.go is not committed); gqlgen's default tags nullable fields
`omitempty`, so the bulk `input` here drops null and empty-list values.
"""
from __future__ import annotations

from typing import Any, Optional

SCENE_CREATE = "Scene.Create.Post"
SCENE_UPDATE = "Scene.Update.Post"

# models.SceneUpdateInput's json keys, in struct order.
SCENE_UPDATE_INPUT_KEYS = (
    "clientMutationId", "id", "title", "code", "details", "director", "url", "urls", "date",
    "rating100", "o_counter", "organized", "studio_id", "gallery_ids", "performer_ids", "movies",
    "groups", "tag_ids", "cover_image", "stash_ids", "resume_time", "play_duration", "play_count",
    "primary_file_id",
)
# Nested input structs (pkg/models/scene.go SceneGroupInput/SceneMovieInput, stash_ids.go StashIDInput).
NESTED_KEYS = {"groups": ("group_id", "scene_index"), "movies": ("movie_id", "scene_index"),
               "stash_ids": ("stash_id", "endpoint", "updated_at")}


def hook_context(scene_id: int, hook_type: str, hook_input: Any, input_fields: Optional[list]) -> dict:
    """The hookContext as Stash's JSON has it: `inputFields` only when there are some."""
    context: dict = {"id": scene_id, "type": hook_type, "input": hook_input}
    if input_fields:
        context["inputFields"] = list(input_fields)
    return context


def scene_update_input(sent: dict) -> dict:
    """models.SceneUpdateInput as encoding/json writes it: every key, null where nothing came."""
    result: dict = {}
    for key in SCENE_UPDATE_INPUT_KEYS:
        value = sent.get(key)
        if key in NESTED_KEYS and value is not None:
            value = [{name: item.get(name) for name in NESTED_KEYS[key]} for item in value]
        result[key] = value
    return result


def bulk_update_input(sent: dict) -> dict:
    """The generated BulkSceneUpdateInput as encoding/json writes it (nullable fields omitempty)."""
    return _omit_empty(sent)


def _omit_empty(value: dict) -> dict:
    kept: dict = {}
    for key, item in value.items():
        if item is None or (isinstance(item, list) and not item):
            continue
        kept[key] = _omit_empty(item) if isinstance(item, dict) else item
    return kept
