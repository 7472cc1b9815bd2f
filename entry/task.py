"""A Stash task run: check the mode and its arguments, run the task, render the result for Stash.

Everything the user can get wrong on stdin is answered before the queue is opened (an unknown
mode lists the valid ones). Logs go to stderr with Stash's level prefixes and the secrets of
the connection masked; progress moves the task bar (`\\x01p\\x02` lines), with a line of text
now and then for the log. The result's lines are logged (Stash shows the log, not `output`)
and returned as the output text; a task that failed returns its one-line reason as the error.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from entry.protocol import InputError, PluginInput

PLUGIN_DIR = Path(__file__).resolve().parent.parent
# Optional task arguments (Stash's defaultArgs or a caller's args): name -> (type, minimum)
OPTION_ARGS: Dict[str, Dict[str, tuple]] = {
    "sync_recent": {"hours": (float, 0.0)},
    "dlq_list": {"limit": (int, 1)},
    "dlq_purge": {"days": (float, 0.0)},
    "health": {"sample": (int, 1)},
    "match_report": {"examples": (int, 0)},
    "preview": {"details": (int, 0)},
}
# Tasks that check arguments of their own (a scene id): mode -> (module, function(args) -> options)
CHECKED_ARGS: Dict[str, tuple] = {"explain": ("tasks.explain", "task_args")}
LOG_EVERY = 10.0  # seconds between progress lines in the log


def task_options(mode: str, args: Dict[str, Any]) -> Dict[str, Any]:
    """The task's optional arguments from `args`, checked; InputError names a bad one."""
    options = {}
    for name, (kind, minimum) in OPTION_ARGS.get(mode, {}).items():
        if name not in args or args[name] is None:
            continue
        value = args[name]
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise InputError(f"args.{name} must be a number, got {type(value).__name__}")
        try:
            number = kind(float(value))
        except ValueError:
            raise InputError(f"args.{name} must be a number, got {value!r}") from None
        if number < minimum or number != number:
            raise InputError(f"args.{name} must be at least {minimum}, got {value!r}")
        options[name] = number
    if mode in CHECKED_ARGS:
        import importlib

        module, function = CHECKED_ARGS[mode]
        options.update(getattr(importlib.import_module(module), function)(args))
    return options


class StashProgress:
    """The progress callback for Stash: the bar on every change, a log line every LOG_EVERY s."""

    def __init__(self, log: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.clock = clock
        self._fraction = -1.0
        self._logged_at: Optional[float] = None

    def __call__(self, fraction: float, message: str = "") -> None:
        from common.log import progress

        if abs(fraction - self._fraction) >= 0.0005 or fraction >= 1.0:
            progress(fraction)
            self._fraction = fraction
        now = self.clock()
        if message and (self._logged_at is None or now - self._logged_at >= LOG_EVERY):
            self._logged_at = now
            self.log.info("%s (%.0f%%)", message, 100 * max(0.0, min(1.0, fraction)))


def run_task(plugin_input: PluginInput) -> str:
    """Run the task named by args.mode; raise InputError/SyncError for a one-line `error`."""
    from tasks.registry import MODES, valid_modes

    mode = plugin_input.mode or ""
    if mode not in MODES:
        raise InputError(f"unknown task mode {mode!r}: valid modes are {valid_modes()}")
    options = task_options(mode, plugin_input.args)
    plugin_dir = Path(plugin_input.plugin_dir or PLUGIN_DIR)

    from entry.dependencies import ensure_dependencies

    ensure_dependencies(plugin_dir, Path(plugin_input.data_dir))

    from common.log import add_secrets, get_logger, setup_stash_logging
    from entry.wiring import Services
    from stash.connection import connection_from_server_connection
    from tasks.context import TaskContext, TaskFailed
    from tasks.registry import run_mode

    setup_stash_logging()
    log = get_logger("task")
    connection = connection_from_server_connection(plugin_input.server_connection)
    add_secrets(connection.secrets)
    data_dir = Path(plugin_input.data_dir)
    ctx = TaskContext(data_dir=data_dir, plugin_dir=plugin_dir,
                      services=Services(data_dir), connection=connection, progress=StashProgress(log))
    log.info("PlexSync task %s started", mode)
    try:
        result = run_mode(mode, ctx, **options)
    finally:
        ctx.services.close()
    log.info(result.title)
    for line in result.lines:
        log.info("  %s", line)
    if result.failed:
        raise TaskFailed(result.failed)
    return result.text
