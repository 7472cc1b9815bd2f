"""Turns one Stash `hookContext` into one queue job (or none), from the context alone.

The hook runs inline in the user's save, so the decision must cost no request: the job says
only *which* scene to look at and why; the worker reads the scene from Stash when it runs, so a
later edit is never lost to a stale snapshot. What Stash sends (stashapp/stash, `HookContext`
in pkg/plugin/common/msg.go and the resolvers that call `ExecutePostHooks`):

- `Scene.Create.Post`: `input` is null and there is no `inputFields`, both for a scene a scan
  created and for `sceneCreate` (pkg/scene/scan.go, pkg/scene/create.go).
- `Scene.Update.Post`:
  - edit form (`sceneUpdate`): `input` is the SceneUpdateInput struct, so it has every key,
    null where nothing was sent; `inputFields` the keys sent (nulls included);
  - `scenesUpdate`: `input` is the whole *list* of SceneUpdateInputs, `inputFields` this scene's;
  - bulk edit (`bulkSceneUpdate`): one hook per scene, `id` is that scene, `input` the whole
    BulkSceneUpdateInput (`{"ids": [...], "tag_ids": {"ids": [...], "mode": "ADD"}}`);
  - identify task: a SceneUpdateInput whose `inputFields` are its non-null keys;
  - scan found a new or changed file: `input` and `inputFields` null.
- `Scene.Destroy.Post`: `input` has `id` (or `ids` for a multi-delete) and `path`; one hook per
  scene, `id` is that scene.

An update is skipped only when every field it touched is one PlexSync knows it does not sync;
an unknown field (a newer Stash, a file change) queues a job, because a needless job
costs one Stash read while a skipped one loses an edit. Scene merges and cover regeneration
fire no scene hook at all (`SceneMerge` in internal/api/resolver_mutation_scene.go and
pkg/scene/merge.go call no post hook; nor does internal/manager/task_generate_screenshot.go);
both move the scene's `updated_at`, so the next **Sync changed scenes** (an `updated_at`
filter) reads them again.
"""
from __future__ import annotations

from collections import namedtuple

from common.datadir import OWN_RATING_WRITE

SCENE_CREATE = "Scene.Create.Post"
SCENE_UPDATE = "Scene.Update.Post"
SCENE_DESTROY = "Scene.Destroy.Post"
HOOK_TYPES = (SCENE_CREATE, SCENE_UPDATE, SCENE_DESTROY)
OWN_WRITE = OWN_RATING_WRITE  # PlexSync's own rating writes (common.datadir): the hook queues nothing for them

CREATE, UPDATE, DESTROY = "create", "update", "destroy"

# SceneUpdateInput fields that change what Plex shows (`movies` is the pre-groups name;
# `primary_file_id` changes which file, hence which Plex item, the scene is).
SYNCED_UPDATE_FIELDS = frozenset({
    "title", "details", "date", "rating100", "studio_id", "performer_ids", "tag_ids",
    "director", "groups", "movies", "cover_image", "primary_file_id",
})
# BulkSceneUpdateInput fields that change what Plex shows.
SYNCED_BULK_FIELDS = frozenset({
    "title", "details", "date", "rating100", "studio_id", "performer_ids", "tag_ids",
    "director", "group_ids", "movie_ids",
})
SYNCED_INPUT_FIELDS = SYNCED_UPDATE_FIELDS | SYNCED_BULK_FIELDS

# Fields PlexSync deliberately does not sync (or that only address the scene). A hook that
# touched nothing else is skipped. Together with the synced sets this covers every field of
# SceneUpdateInput and BulkSceneUpdateInput (tests/unit/test_hook_events.py checks the schema).
IGNORED_INPUT_FIELDS = frozenset({
    "clientMutationId", "id", "ids", "code", "url", "urls", "organized", "o_counter",
    "gallery_ids", "stash_ids", "resume_time", "play_duration", "play_count",
})


class HookInputError(ValueError):
    """The hookContext is not what Stash sends; the message is one line for the protocol's `error`."""


class HookJob(namedtuple("HookJob", "scene_id action fields", defaults=((),))):
    """What the queue needs to know: which scene, what happened, and (for logs) which fields.

    scene_id: int; action: CREATE, UPDATE or DESTROY; fields: the synced fields the edit
    touched, () when Stash did not say (a scan, a create). A namedtuple, not a dataclass: the
    hook pays for every import.
    """

    __slots__ = ()


def job_from_hook(hook_context: object) -> HookJob | None:
    """The job for one hook, or None when it cannot change anything in Plex.

    Raises HookInputError for a context Stash would never send (missing or non-numeric id,
    wrong types), so the caller can answer with a one-line protocol error.
    """
    if not isinstance(hook_context, dict):
        raise HookInputError(f"hookContext must be an object, got {_kind(hook_context)}")
    hook_type = hook_context.get("type")
    if not isinstance(hook_type, str) or not hook_type:
        raise HookInputError(f"hookContext.type must be text, got {_kind(hook_type)}")
    scene_id = positive_id(hook_context.get("id"), "scene")
    hook_input = hook_context.get("input")
    if hook_input is not None and not isinstance(hook_input, (dict, list)):
        raise HookInputError(f"hookContext.input must be an object, a list or null, got {_kind(hook_input)}")
    input_fields = _input_fields(hook_context.get("inputFields"))

    if hook_type == SCENE_CREATE:
        return HookJob(scene_id, CREATE)
    if hook_type == SCENE_DESTROY:
        return HookJob(scene_id, DESTROY)
    if hook_type != SCENE_UPDATE:
        return None  # a hook type PlexSync does not subscribe to: nothing to do
    if hook_input is None and input_fields is None:
        return HookJob(scene_id, UPDATE)  # a scan changed the scene's files
    if isinstance(hook_input, dict) and hook_input.get("clientMutationId") == OWN_WRITE:
        return None  # PlexSync's own write of a rating it read from Plex: sending it back would echo
    touched = input_fields if input_fields is not None else _input_keys(hook_input, scene_id)
    if touched is None:
        return HookJob(scene_id, UPDATE)
    if all(name in IGNORED_INPUT_FIELDS for name in touched):
        return None
    synced = tuple(sorted({name for name in touched if name in SYNCED_INPUT_FIELDS}))
    return HookJob(scene_id, UPDATE, synced)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def positive_id(value: object, kind: str) -> int:
    """hookContext.id as a positive int (Stash sends a number or its text); HookInputError otherwise."""
    if isinstance(value, bool) or value is None:
        raise HookInputError(f"hookContext.id must be a {kind} id, got {_kind(value)}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        shown = repr(value)[:40] if isinstance(value, str) else _kind(value)
        raise HookInputError(f"hookContext.id must be a {kind} id, got {shown}")
    if number <= 0:
        raise HookInputError(f"hookContext.id must be a positive {kind} id, got {number}")
    return number


def _input_fields(value: object) -> tuple[str, ...] | None:
    """`inputFields` as a tuple; None when absent or empty (Stash omits an empty list)."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise HookInputError(f"hookContext.inputFields must be a list of field names, got {_kind(value)}")
    return tuple(value) or None


def _input_keys(hook_input: dict | list | None, scene_id: int) -> tuple[str, ...] | None:
    """The keys an update sent when Stash gave no inputFields; None when they cannot be known."""
    if isinstance(hook_input, dict):
        return tuple(hook_input)
    for entry in hook_input or ():  # scenesUpdate: the whole list; find this scene's entry
        if isinstance(entry, dict) and str(entry.get("id", "")).strip() == str(scene_id):
            return tuple(entry)
    return None
