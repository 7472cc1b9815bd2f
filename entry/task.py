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

LOG_EVERY = 10.0  # seconds between progress lines in the log


def task_options(mode: str, args: Dict[str, Any]) -> Dict[str, Any]:
    """The task's arguments (entry.task_table declares them) from `args`, checked; InputError names a bad one."""
    from entry.task_table import MODES

    options = {}
    for arg in MODES[mode].args if mode in MODES else ():
        try:
            value = arg.parse(args.get(arg.name), f"args.{arg.name}")
        except ValueError as exc:
            raise InputError(str(exc)) from None
        if value is not None:
            options[arg.name] = value
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
    from entry.task_table import MODES, valid_modes

    mode = plugin_input.mode or ""
    if mode not in MODES:
        raise InputError(f"unknown task mode {mode!r}: valid modes are {valid_modes()}")
    options = task_options(mode, plugin_input.args)
    from common.datadir import PLUGIN_DIR

    plugin_dir = Path(plugin_input.plugin_dir or PLUGIN_DIR)

    from entry.dependencies import ensure_dependencies

    ensure_dependencies(plugin_dir, Path(plugin_input.data_dir))

    from common.log import add_secrets, get_logger, setup_stash_logging
    from entry.task_table import run_mode
    from entry.wiring import Services
    from stash.connection import connection_from_server_connection
    from tasks.context import TaskContext, TaskFailed

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
