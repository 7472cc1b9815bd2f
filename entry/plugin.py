"""The funnel for Stash's raw protocol: every run prints exactly one JSON object and exits 0.

Hooks go to the standard-library fast path; tasks are imported only when a task runs. Whatever
fails becomes a one-line `error` that says what to do; tracebacks go to the PlexSync log file in
the data directory, never to the user.
"""
from __future__ import annotations

import os
import sys

from common.errors import SyncError
from entry.protocol import InputError, PluginInput, read_input, write_result
from hooks.events import HookInputError

TYPE_CHECKING = False  # typing costs ~7 ms to import, paid on every hook
if TYPE_CHECKING:
    from typing import Any, Optional, TextIO, Tuple

LOG_FILENAME = "plexsync.log"


def _record_crash(plugin_input: Optional[PluginInput], secrets: Tuple[str, ...] = ()) -> None:
    """Keep the traceback for a bug report without showing it to the user."""
    try:
        import traceback

        from common.datadir import touch_private
        from common.redact import redact

        if plugin_input is None:
            return
        path = touch_private(os.path.join(plugin_input.data_dir, LOG_FILENAME))
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(redact(traceback.format_exc(), secrets) + "\n")
    except OSError:
        pass


def _storage_problem(exc: Exception, plugin_input: Optional[PluginInput]) -> Optional[str]:
    """A failing queue database, said plainly (sqlite3 is loaded only if it was already in use)."""
    if "sqlite3" not in sys.modules:
        return None
    from sync_queue.rows import db_path
    from sync_queue.storage_errors import storage_problem

    return storage_problem(exc, db_path(plugin_input.data_dir) if plugin_input else None)


def _stderr(level: str, message: str) -> None:
    sys.stderr.write(f"\x01{level}\x02{message[:4000]}\n")
    sys.stderr.flush()


def run_plugin(stdin: TextIO, stdout: TextIO) -> int:
    plugin_input: Optional[PluginInput] = None
    output: Any = None
    error: Optional[str] = None
    try:
        plugin_input = read_input(stdin)
        if plugin_input.is_hook:
            from hooks.handler import handle_hook

            output = handle_hook(plugin_input)
        else:
            from entry.task import run_task

            output = run_task(plugin_input)
    except (InputError, HookInputError, SyncError) as exc:
        error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    except KeyboardInterrupt:
        error = "interrupted"
    except Exception as exc:  # the funnel: no traceback reaches the user
        error = _storage_problem(exc, plugin_input)
        if error is None:
            _record_crash(plugin_input)
            error = f"PlexSync failed unexpectedly ({type(exc).__name__}); details are in data/{LOG_FILENAME}"
    if error:
        _stderr("e", error)
    write_result(stdout, output, error)
    return 0
