"""The fake Stash's mutations that fire plugin hooks beyond scene updates, and runPluginTask.

Each acts on the store as Stash acts on its database and then fires the hook Stash fires, with
the hookContext Stash builds (stashapp/stash internal/api/resolver_mutation_*.go, pkg/plugin/hook):
- `sceneCreate`: `Scene.Create.Post`, input and inputFields nil (as a scan);
- `sceneDestroy`: `Scene.Destroy.Post`, input the SceneDestroyInput plus checksum, oshash and
  path of the scene's primary file (plugin.SceneDestroyInput), inputFields nil;
- `tagUpdate`, `performerUpdate`, `studioUpdate`, `groupUpdate` (the name): `<Kind>.Update.Post`,
  id the entity, input the keys sent (gqlgen's generated input, nullable fields omitempty),
  inputFields the keys sent;
- `tagsMerge`: `Tag.Merge.Post`, id the destination, input the TagsMergeInput, no inputFields;
- `tagDestroy`, `performerDestroy`, `studioDestroy`, `groupDestroy`: `<Kind>.Destroy.Post`, id the
  entity, input `{"id": ...}`, no inputFields. Scenes lose the entity; their updated_at stays.
Hooks run inside the mutation (the plugin host runs them synchronously), as in Stash.
`runPluginTask` starts the task as a job and answers its id at once (Stash's job queue).
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable

from devkit.fakes.stash_hooks import SCENE_CREATE, hook_context
from devkit.fakes.stash_store import StashError, StashStore

SCENE_DESTROY = "Scene.Destroy.Post"
KINDS = {"tag": "Tag", "performer": "Performer", "studio": "Studio", "group": "Group"}


def _sent(input: dict) -> dict:
    return {key: value for key, value in input.items() if value is not None}


def _rows(store: StashStore, kind: str) -> dict:
    return {"tag": store.tags, "performer": store.performers, "studio": store.studios, "group": store.groups}[kind]


def update_entity(store: StashStore, kind: str, input: dict) -> Any:
    entity_id = int(input["id"])
    if entity_id not in _rows(store, kind):
        raise StashError(f"{kind} with id {entity_id} not found")
    row = store.rename(kind, entity_id, input["name"]) if input.get("name") is not None else _rows(store, kind)[entity_id]
    store.fire_hook(hook_context(entity_id, f"{KINDS[kind]}.Update.Post", _sent(input), list(input)))
    return row


def destroy_entity(store: StashStore, kind: str, input: dict) -> bool:
    entity_id = int(input["id"])
    if entity_id not in _rows(store, kind):
        raise StashError(f"{kind} with id {entity_id} not found")
    if kind == "tag":
        store.destroy_tag(entity_id)
    else:
        store.drop_entity(kind, entity_id)
    store.fire_hook(hook_context(entity_id, f"{KINDS[kind]}.Destroy.Post", {"id": str(entity_id)}, None))
    return True


def merge_tags(store: StashStore, input: dict) -> Any:
    destination = int(input["destination"])
    sources = [int(source) for source in input["source"]]
    for tag_id in (destination, *sources):
        if tag_id not in store.tags:
            raise StashError(f"tag with id {tag_id} not found")
    store.merge_tags(sources, destination)
    store.fire_hook(hook_context(destination, "Tag.Merge.Post", {"source": input["source"],
                                                                  "destination": input["destination"]}, None))
    return store.tags[destination]


def create_scene(store: StashStore, input: dict) -> Any:
    row = store.add_scene([], input.get("title"), notify=False)
    if input.get("details") is not None:
        row = store.replace_scene(row._replace(details=input["details"]))
    store.fire_hook(hook_context(row.id, SCENE_CREATE, None, None))
    return row


def destroy_scene(store: StashStore, input: dict) -> bool:
    scene_id = int(input["id"])
    row = store.scene(scene_id)
    if row is None:
        raise StashError(f"scene with id {scene_id} not found")
    path = row.files[0].path if row.files else ""
    store.remove_scene(scene_id)
    hook_input = {"id": str(scene_id), "delete_file": bool(input.get("delete_file")),
                  "delete_generated": bool(input.get("delete_generated")), "checksum": "",
                  "oshash": hashlib.sha256(path.encode("utf-8")).hexdigest()[:16] if path else "", "path": path}
    store.fire_hook(hook_context(scene_id, SCENE_DESTROY, hook_input, None))
    return True


def run_plugin_task(server: Any, plugin_id: str, task_name: Any = None, description: Any = None,
                    args_map: Any = None) -> str:
    host = getattr(server, "plugin_host", None)
    if host is None or host.manifest.plugin_id != plugin_id:
        raise StashError(f"plugin {plugin_id} not found")
    return host.start_job(task_name, dict(args_map or {}))


def attach(resolve: Callable[[str, str, Callable], None]) -> None:
    """Register the resolvers on the fake's schema (stash_server._build_schema calls this)."""
    def root(fn: Callable) -> Callable:
        def wrapped(source, info, **args):
            info.context.started = True
            return fn(info.context.server, **args)
        return wrapped

    resolve("Mutation", "sceneCreate", root(lambda srv, input: create_scene(srv.store, input)))
    resolve("Mutation", "sceneDestroy", root(lambda srv, input: destroy_scene(srv.store, input)))
    for kind in KINDS:
        resolve("Mutation", f"{kind}Update", root(lambda srv, input, kind=kind: update_entity(srv.store, kind, input)))
        resolve("Mutation", f"{kind}Destroy",
                root(lambda srv, input, kind=kind: destroy_entity(srv.store, kind, input)))
    resolve("Mutation", "tagsMerge", root(lambda srv, input: merge_tags(srv.store, input)))
    resolve("Mutation", "runPluginTask", root(run_plugin_task))
