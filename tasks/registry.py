"""Task modes by name: what Stash's `args.mode` and the CLI commands resolve to.

Modules are named as strings and imported only when their task runs, so an unknown mode is
answered (with the list of valid ones) before anything heavy is imported or the queue is opened.
"""
from __future__ import annotations

import importlib
from typing import Any, Dict, Tuple

from tasks.context import TaskContext, TaskResult

# mode: (module, function, what the user asked for)
MODES: Dict[str, Tuple[str, str, str]] = {
    "sync_all": ("tasks.sync", "sync_all", "sync changed scenes"),
    "sync_all_force": ("tasks.sync", "sync_all_force", "rewrite every scene in Plex"),
    "sync_recent": ("tasks.sync", "sync_recent", "sync the scenes updated in the last 24 hours"),
    "process_queue": ("tasks.sync", "process_queue", "work through the queue now"),
    "status": ("tasks.queue_ops", "status", "show the queue and the drainer"),
    "dlq_list": ("tasks.queue_ops", "dlq_list", "list failed jobs"),
    "dlq_retry": ("tasks.queue_ops", "dlq_retry", "retry failed jobs"),
    "dlq_clear": ("tasks.queue_ops", "dlq_clear", "delete failed jobs"),
    "dlq_purge": ("tasks.queue_ops", "dlq_purge", "delete failed jobs older than 30 days"),
    "health": ("tasks.health", "health", "check settings, Stash, Plex and matching"),
    "match_report": ("tasks.match_report", "match_report", "report scenes with no or several Plex items"),
    "preview": ("tasks.preview", "preview", "show what a sync would change, writing nothing"),
    "explain": ("tasks.explain", "explain", "explain why one scene is or is not in step with Plex"),
    "plays_import": ("tasks.plays", "plays_import", "import plays from Plex into Stash"),
    "plays_preview": ("tasks.plays", "plays_preview", "show what a plays import would add, writing nothing"),
}


def valid_modes() -> str:
    return ", ".join(MODES)


def run_mode(mode: str, ctx: TaskContext, **options: Any) -> TaskResult:
    """Run the task `mode` (KeyError for an unknown one: check with `mode in MODES` first)."""
    module_name, function, _ = MODES[mode]
    return getattr(importlib.import_module(module_name), function)(ctx, **options)
