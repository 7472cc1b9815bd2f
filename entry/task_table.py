"""Every task, declared once: its mode, the function that runs it, its place in Stash's task menu,
its arguments and its command on the command line.

Stash's task menu (PlexSync.yml's `tasks:` block, written by `python -m tools.settings_docs
--write`), Stash's dispatch (entry/task.py) and the CLI (entry/cli.py) are made from `TASKS`,
and a test proves they agree. Adding a task is one `Task(...)` here plus its function.

Functions are named as "module:function" strings and imported only when their task runs, so an
unknown mode is answered (with the list of valid ones) before anything heavy is imported or the
queue is opened. Standard library only.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from common.task_args import number, scene_id, scene_id_on_command_line

if TYPE_CHECKING:
    from tasks.context import TaskContext, TaskResult


@dataclass(frozen=True)
class Arg:
    """An optional argument: Stash's `args.<name>`, the CLI's `--<name>` (or a positional)."""

    name: str
    parse: Callable[[Any, str], Any]  # (value, where) -> value, or None for "not given"; ValueError says why
    help: str
    cli_default: Any = None  # what the CLI passes when the flag is not given
    cli_type: Optional[Callable[[str], Any]] = None  # the CLI's reader of the text (ValueError says why)
    positional: bool = False  # the CLI takes it as a positional argument (metavar: NAME upper-cased)


@dataclass(frozen=True)
class Task:
    mode: str  # Stash's args.mode
    run: str  # "module:function", called as function(ctx, **options)
    title: str  # Stash's task menu: the name
    description: str  # Stash's task menu: what it does
    summary: str  # what the user asked for, in a few words
    cli: str  # the CLI command that runs it: "status", "dlq list", "sync --recent"
    cli_help: str = ""  # the command's help (only for commands the CLI builds from TASKS)
    args: Tuple[Arg, ...] = ()


TASKS: Tuple[Task, ...] = (
    Task("sync_all", "tasks.sync:sync_all", "Sync changed scenes",
         "Queues every scene whose metadata changed since it was last written to Plex, then syncs them in the "
         "background.", "sync changed scenes", "sync"),
    Task("sync_all_force", "tasks.sync:sync_all_force", "Resync all scenes (force)",
         "Rewrites every scene in Plex, changed or not. Slow on large libraries; use after changing the sync "
         "settings.", "rewrite every scene in Plex", "sync --force"),
    Task("sync_recent", "tasks.sync:sync_recent", "Sync recent scenes",
         "Queues the scenes updated in the last 24 hours and syncs them in the background.",
         "sync the scenes updated in the last 24 hours", "sync --recent",
         args=(Arg("hours", number(float, 0.0), "only scenes updated in the last N hours", 24.0, float),)),
    Task("process_queue", "tasks.sync:process_queue", "Process queue now",
         "Works through the queue and shows progress here until it is empty. Blocks other Stash tasks while it "
         "runs.", "work through the queue now", "process-queue", "work through what is already queued, then exit"),
    Task("status", "tasks.queue_ops:status", "Queue status",
         "Shows how many jobs are waiting, retrying and dead-lettered, and whether Plex is reachable.",
         "show the queue and the drainer", "status", "queue counts, retries, dead letters, last sync, drainer and "
         "Plex state"),
    Task("dlq_list", "tasks.queue_ops:dlq_list", "List failed jobs",
         "Lists the dead-lettered jobs with the reason each one failed.", "list failed jobs", "dlq list",
         "list failed jobs, newest first",
         args=(Arg("limit", number(int, 1), "show at most N (default 50)", 50, int),)),
    Task("dlq_retry", "tasks.queue_ops:dlq_retry", "Retry failed jobs",
         "Moves every dead-lettered job back into the queue.", "retry failed jobs", "dlq retry",
         "put every failed job back in the queue"),
    Task("dlq_clear", "tasks.queue_ops:dlq_clear", "Delete failed jobs",
         "Deletes every dead-lettered job. The scenes are synced again on their next change or the next sync "
         "task.", "delete failed jobs", "dlq clear", "delete every failed job"),
    Task("dlq_purge", "tasks.queue_ops:dlq_purge", "Delete old failed jobs",
         "Deletes dead-lettered jobs older than 30 days.", "delete failed jobs older than 30 days", "dlq purge",
         "delete failed jobs older than --days",
         args=(Arg("days", number(float, 0.0), "age in days (default 30)", 30.0, float),)),
    Task("health", "tasks.health:health", "Health check",
         "Checks the settings, the connection to Plex and Stash, the libraries and the path mapping, and says "
         "what to fix.", "check settings, Stash, Plex and matching", "health",
         "check Stash, settings, Plex, token, libraries and matching of a sample",
         args=(Arg("sample", number(int, 1), "scenes to try (default 10)", 10, int),)),
    Task("match_report", "tasks.match_report:match_report", "Match report",
         "Reports which Stash scenes match no Plex item, or more than one, without changing anything.",
         "report scenes with no or several Plex items", "match-report",
         "count scenes with no Plex item or several, with examples",
         args=(Arg("examples", number(int, 0), "examples of each problem (default 10)", 10, int),)),
    Task("preview", "tasks.preview:preview", "Preview changes",
         "Shows what a sync would change in Plex, scene by scene and field by field, without writing anything "
         "to Plex or to PlexSync's queue.", "show what a sync would change, writing nothing", "sync --dry-run",
         args=(Arg("details", number(int, 0), "with --dry-run: scenes shown in full (default 20)", 20, int),)),
    Task("explain", "tasks.explain:explain", "Explain a scene",
         "Says why one scene is or is not in step with Plex, and what to fix; changes nothing. Set the scene in "
         "the setting 'Scene to explain' first.", "explain why one scene is or is not in step with Plex",
         "explain", "why one scene is or is not in step with Plex, and what to fix (reads only)",
         args=(Arg("scene_id", scene_id, "the scene's id: the number in its address in Stash, /scenes/ID",
                   cli_type=scene_id_on_command_line, positional=True),)),
    Task("plays_import", "tasks.plays:plays_import", "Import plays from Plex",
         "Adds each completed view in Plex of a matched scene to the scene's play history in Stash (once), and "
         "the owner's resume points.", "import plays from Plex into Stash", "plays import",
         "bring completed views in Plex to Stash's play history"),
    Task("plays_preview", "tasks.plays:plays_preview", "Preview plays from Plex",
         "Shows which plays an import from Plex would add to Stash, without writing anything.",
         "show what a plays import would add, writing nothing", "plays import --dry-run"),
)
MODES: Dict[str, Task] = {task.mode: task for task in TASKS}
BY_COMMAND: Dict[str, Task] = {task.cli: task for task in TASKS}


def valid_modes() -> str:
    return ", ".join(MODES)


def run_mode(mode: str, ctx: "TaskContext", **options: Any) -> "TaskResult":
    """Run the task `mode` (KeyError for an unknown one: check with `mode in MODES` first)."""
    module_name, _, function = MODES[mode].run.partition(":")
    result: "TaskResult" = getattr(importlib.import_module(module_name), function)(ctx, **options)
    return result
