"""What every task is given (a TaskContext) and what it gives back (a TaskResult).

Stash tasks and CLI commands differ only in where the Stash connection and settings come from,
how progress is drawn, and who drains the queue: under Stash a detached drainer (the task may be
cancelled at any moment), on the command line the drainer runs in the CLI's own process so its
overrides (`--plex-token`...) apply. The context carries those differences, plus the clock and
the sleep, so tests drive tasks without waiting.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Mapping, Optional, Protocol

from common.errors import SyncError
from stash.connection import StashConnection

if TYPE_CHECKING:
    from common.settings import Settings
    from plex.client import PlexClient
    from plex.target import PlexTarget
    from stash.client import StashClient
    from stash.session import StashSession
    from sync_queue.db import Database
    from sync_queue.stores import Stores
    from worker.options import WorkerOptions
    from worker.protocol import ProcessorFactory

Progress = Callable[[float, str], None]
Overrides = Mapping[str, object]  # settings given on the command line or in PLEXSYNC_* variables


class TaskServices(Protocol):
    """What a task is handed to reach Stash and Plex (built by the composition root, entry.wiring)."""

    def database(self) -> "Database": ...

    def stash_client(self, connection: StashConnection) -> "StashClient": ...

    def read_settings(self, client: "StashClient", overrides: Optional[Overrides] = None) -> "Settings": ...

    def connect_stash(self, connection: StashConnection, overrides: Optional[Overrides] = None) -> "StashSession": ...

    def remember_stash(self, session: "StashSession") -> None: ...

    def close(self) -> None: ...

    def check_plex(self, settings: "Settings") -> None: ...

    def plex_client(self, settings: "Settings") -> "PlexClient": ...

    def connect_plex(self, settings: "Settings", fetch_image: Callable[[str], bytes],
                     database: Optional["Database"] = None) -> "PlexTarget": ...

    def processor_factory(self, connection: Optional[StashConnection] = None,
                          overrides: Optional[Overrides] = None) -> "ProcessorFactory": ...


def no_progress(fraction: float, message: str = "") -> None:
    """A progress callback that draws nothing."""


class TaskFailed(SyncError):
    """A task ran but did not do its job (a failed health check, a paused drainer): one line."""

    kind = "task"


@dataclass
class TaskContext:
    data_dir: Path
    plugin_dir: Path
    services: TaskServices
    connection: Optional[StashConnection] = None  # None: the connection saved in the data dir
    overrides: Overrides = field(default_factory=dict)  # settings that win over Stash's
    progress: Progress = no_progress
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    foreground: bool = False  # drain in this process (CLI) instead of starting a detached drainer
    poll_seconds: float = 0.5
    restart_grace_seconds: float = 15.0  # a drainer just started may take this long to hold its lock
    max_restarts: int = 3  # drainer restarts in a row without progress before the task gives up
    drainer_options: Optional["WorkerOptions"] = None  # for a foreground drainer (tests)

    def stash_connection(self) -> StashConnection:
        """The connection given, else the one a task or hook saved in the data dir."""
        if self.connection is not None:
            return self.connection
        from stash.connection import load_connection

        return load_connection(self.data_dir)

    def connect(self, require_plex: bool = True, remember: bool = True) -> "StashSession":
        """Connect to Stash, read and validate the settings, and remember the connection for the
        drainer (and the settings for the hook) unless `remember` is off (a run that writes
        nothing). Returns the session (`.client`, `.settings`); the caller closes `session.client`."""
        session = self.services.connect_stash(self.stash_connection(), self.overrides)
        try:
            if require_plex:
                session.settings.require_plex()
            if remember:
                self.services.remember_stash(session)
        except BaseException:
            session.client.close()
            raise
        return session

    def open_stores(self) -> "Stores":
        """The queue database's stores (sync_queue.stores.Stores) on the process's one database
        handle; use as a context manager (leaving it keeps the handle open for the process)."""
        from sync_queue.stores import open_stores

        return open_stores(self.data_dir, database=self.services.database())


@dataclass
class TaskResult:
    """A task's answer: a title, readable lines, JSON-able data, and a failure line if it failed."""

    title: str
    lines: List[str] = field(default_factory=list)
    data: Dict[str, object] = field(default_factory=dict)
    failed: Optional[str] = None  # one line saying what went wrong and what to do

    @property
    def ok(self) -> bool:
        return self.failed is None

    @property
    def text(self) -> str:
        return "\n".join([self.title] + [f"  {line}" for line in self.lines])

    def to_json(self) -> Dict[str, object]:
        return {"title": self.title, "ok": self.ok, "error": self.failed, "lines": list(self.lines), **self.data}


def when(epoch: Optional[float], now: Optional[float] = None) -> str:
    """A local time for people: "2026-01-10 12:00:05 (3 min ago)" or "never"."""
    if not epoch:
        return "never"
    text = datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")
    if now is None:
        return text
    return f"{text} ({ago(now - epoch)})"


def ago(seconds: float) -> str:
    if seconds < 0:
        return f"in {span(-seconds)}"
    return f"{span(seconds)} ago"


def span(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def plural(count: int, word: str, words: Optional[str] = None) -> str:
    return f"{count:,} {word if count == 1 else (words or word + 's')}"
