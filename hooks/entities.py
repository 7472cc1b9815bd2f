"""Turns a Tag, Performer, Studio or Group hook into one entity change (or none), from the context alone.

Stash fires no scene hook when a tag, performer, studio or group is renamed, merged or deleted,
yet every scene that carries it shows the old name in Plex. These hooks say which entity
changed; the drainer later finds the scenes that carry it (worker/sync_worker.py) and
syncs them as usual. As for scenes, the hook makes no request. What Stash sends
(stashapp/stash, internal/api/resolver_mutation_{tag,performer,studio,group}.go):

- `*.Update.Post`: `id` is the entity, `input` its UpdateInput, `inputFields` the keys sent;
  a bulk edit (`bulkTagUpdate`, ...) fires one hook per entity with the whole bulk input.
- `Tag.Merge.Post`: `id` is the destination tag, `input` the TagsMergeInput. The source tags'
  scenes now carry the destination, so the scenes to sync are the destination's.
- `*.Destroy.Post`: `id` is the entity, `input` `{"id": ...}` (or the list of ids of a
  multi-delete). The scenes that carried it can no longer be found through it, so a delete
  becomes a check of every scene: an unchanged scene costs one share of a Stash read, no Plex
  request, and the ones that lost the entity are written.

An update is skipped only when every field it touched is one PlexSync does not show in Plex
(a performer's birthdate, a tag's description); an unknown field queues a change. Stdlib only.
"""
from __future__ import annotations

from collections import namedtuple

from hooks.events import HookInputError, _input_fields, _kind, positive_id

TAG, PERFORMER, STUDIO, GROUP = "tag", "performer", "studio", "group"
UPDATE, MERGE, DESTROY = "update", "merge", "destroy"

ENTITY_HOOKS = {
    "Tag.Update.Post": (TAG, UPDATE),
    "Tag.Merge.Post": (TAG, MERGE),
    "Tag.Destroy.Post": (TAG, DESTROY),
    "Performer.Update.Post": (PERFORMER, UPDATE),
    "Performer.Destroy.Post": (PERFORMER, DESTROY),
    "Studio.Update.Post": (STUDIO, UPDATE),
    "Studio.Destroy.Post": (STUDIO, DESTROY),
    "Group.Update.Post": (GROUP, UPDATE),
    "Group.Destroy.Post": (GROUP, DESTROY),
}
ENTITY_HOOK_TYPES = tuple(ENTITY_HOOKS)

# Fields of each kind's UpdateInput that reach Plex: names (genres, labels, actors, studio,
# collections), a tag's place in the hierarchy (label_tags and exclude_tags count child tags),
# a performer's photo, a studio's parent (collection_parent_studio), a studio's image and
# details and a group's front cover and synopsis (their collections' poster and summary).
USED_FIELDS = {
    TAG: frozenset({"name", "parent_ids", "child_ids"}),
    PERFORMER: frozenset({"name", "disambiguation", "image"}),
    STUDIO: frozenset({"name", "parent_id", "image", "details"}),
    GROUP: frozenset({"name", "front_image", "synopsis"}),
}
# Every other field of the UpdateInput and BulkUpdateInput of each kind (Stash's schema;
# tests/unit/test_hook_entities.py checks that the two sets cover them).
UNUSED_FIELDS = {
    TAG: frozenset({"id", "ids", "sort_name", "description", "aliases", "ignore_auto_tag", "favorite", "image",
                    "stash_ids"}),
    PERFORMER: frozenset({
        "clientMutationId", "id", "ids", "url", "urls", "gender", "birthdate", "ethnicity", "country", "eye_color",
        "height_cm", "measurements", "fake_tits", "penis_length", "circumcised", "career_length", "tattoos",
        "piercings", "alias_list", "twitter", "instagram", "favorite", "tag_ids", "stash_ids", "rating100",
        "details", "death_date", "hair_color", "weight", "ignore_auto_tag", "custom_fields"}),
    STUDIO: frozenset({"id", "ids", "url", "urls", "stash_ids", "rating100", "favorite", "aliases",
                       "tag_ids", "ignore_auto_tag"}),
    GROUP: frozenset({"clientMutationId", "id", "ids", "aliases", "duration", "date", "rating100", "studio_id",
                      "director", "urls", "tag_ids", "containing_groups", "sub_groups", "back_image"}),
}


class EntityChange(namedtuple("EntityChange", "kind entity_id change fields")):
    """Which entity changed and how: kind (TAG, ...), entity_id (int), change (UPDATE, MERGE or
    DESTROY), fields (the used fields an update touched; () when Stash did not say)."""

    __slots__ = ()


def change_from_hook(hook_context: dict) -> EntityChange | None:
    """The change an entity hook reports, or None when nothing Plex shows changed.

    Raises HookInputError for a context Stash would never send."""
    kind, change = ENTITY_HOOKS[hook_context.get("type")]  # type: ignore[index]
    entity_id = positive_id(hook_context.get("id"), kind)
    hook_input = hook_context.get("input")
    if hook_input is not None and not isinstance(hook_input, (dict, list)):
        raise HookInputError(f"hookContext.input must be an object, a list or null, got {_kind(hook_input)}")
    if change != UPDATE:
        return EntityChange(kind, entity_id, change, ())
    touched = _input_fields(hook_context.get("inputFields"))
    if touched is None and isinstance(hook_input, dict):
        touched = tuple(hook_input)
    if touched is None:
        return EntityChange(kind, entity_id, change, ())
    if all(name in UNUSED_FIELDS[kind] for name in touched):
        return None
    return EntityChange(kind, entity_id, change, tuple(sorted(set(touched) & USED_FIELDS[kind])))

