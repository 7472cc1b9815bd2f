"""The hook fast path: a scene event becomes a queued job in a few milliseconds.

Stash waits for this process before it answers the user's save, and a bulk edit pays it once
per scene, so it does no network call and imports only the standard library: decide from the
hookContext, append one row to the queue, and start a drainer if none is running (detached,
so Stash does not wait for it).
"""
from __future__ import annotations

import os

from common.datadir import CONNECTION_FILE, PLUGIN_DIR, read_json
from hooks.events import HookInputError, job_from_hook
from hooks.snapshot import hook_enabled
from sync_queue.rows import enqueue
from worker.launcher import ensure_drainer

TYPE_CHECKING = False  # typing costs milliseconds on every hook
if TYPE_CHECKING:
    from entry.protocol import PluginInput

ENTITY_PREFIXES = ("Tag", "Performer", "Studio", "Group")  # hooks/entities.py, imported only for them


def remember_stash(plugin_input: PluginInput) -> None:
    """Leave the drainer a way to reach Stash.

    Saved when nothing is saved yet, and again when the saved connection relies on a session
    cookie that Stash has since replaced: cookies expire after an hour, an API key does not
    (a drainer that finds one saves it in place of the cookie).
    """
    saved = read_json(os.path.join(plugin_input.data_dir, CONNECTION_FILE))
    if isinstance(saved, dict):
        if saved.get("api_key"):
            return
        cookie = plugin_input.server_connection.get("SessionCookie")
        value = cookie.get("Value") if isinstance(cookie, dict) else None
        if not value or saved.get("cookie_value") == value:
            return
    from stash.connection import connection_from_server_connection, save_connection

    save_connection(plugin_input.data_dir, connection_from_server_connection(plugin_input.server_connection))


def handle_hook(plugin_input: PluginInput) -> str:
    """Queue what the hook names (or nothing); HookInputError says what was malformed."""
    hook_context = plugin_input.hook_context
    hook_type = hook_context.get("type") if isinstance(hook_context, dict) else None
    is_entity = isinstance(hook_type, str) and hook_type.split(".")[0] in ENTITY_PREFIXES
    try:
        queued = _entity_change(hook_context) if is_entity else _scene_job(hook_context, hook_type)
    except HookInputError as exc:
        raise HookInputError(f"ignored a malformed hook: {exc}") from None
    if queued is None:
        return "nothing PlexSync syncs changed"
    if not hook_enabled(plugin_input.data_dir):
        return "PlexSync is disabled (setting 'enabled' is off)"
    write_row, message = queued
    write_row(plugin_input.data_dir)
    remember_stash(plugin_input)
    ensure_drainer(plugin_input.data_dir, plugin_input.plugin_dir or PLUGIN_DIR)
    return message


def _scene_job(hook_context: object, hook_type: object) -> tuple | None:
    """(the queue insert, the answer) for a scene hook, or None when nothing synced changed."""
    job = job_from_hook(hook_context)
    if job is None:
        return None
    reason = f"{hook_type}" + (f" ({', '.join(job.fields)})" if job.fields else "")
    return (lambda data_dir: enqueue(data_dir, [job.scene_id], job.action, reason),
            f"queued scene {job.scene_id} ({job.action})")


def _entity_change(hook_context: dict) -> tuple | None:
    """The same for a renamed, merged or deleted tag, performer, studio or group."""
    from hooks.entities import ENTITY_HOOKS, change_from_hook
    from sync_queue.rows import enqueue_entity_change

    if hook_context.get("type") not in ENTITY_HOOKS:
        return None
    change = change_from_hook(hook_context)
    if change is None:
        return None
    return (lambda data_dir: enqueue_entity_change(data_dir, change.kind, change.entity_id, change.change,
                                                   change.fields),
            f"queued {change.kind} {change.entity_id} ({change.change}); its scenes follow")
