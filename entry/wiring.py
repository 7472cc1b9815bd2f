"""The composition root: the one place that builds Stash, Plex and queue services from settings.

Each process that does more than a hook builds one `Services` for its data dir and hands it to
tasks (through their `TaskContext`) and to the drainer, so every run does the same things in the
same order: connect to Stash (switching to its API key when it has a login), read and validate
settings, then connect to Plex. Connecting writes nothing; `remember_stash` (the connection for
the detached drainer, the hook's settings snapshot) is its own call, made by the runs that should,
so the read-only health check writes nothing. One queue database per process. Secrets learned on
the way are added to the log redaction. Tasks and the worker never import this module: they are
handed what it builds.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Optional

from common.datadir import PLUGIN_ID
from common.log import add_secrets
from common.settings import Settings, settings_from_mapping
from stash.client import StashClient
from stash.connection import StashConnection, load_connection, save_connection
from stash.session import StashSession
from sync_queue.db import Database
from sync_queue.sync_state import SyncStateStore
from worker.protocol import ProcessorFactory, ReadyProcessor

if TYPE_CHECKING:
    from plex.client import PlexClient
    from plex.target import PlexTarget

DRAINER_LOG = "drainer.log"


class Services:
    """What tasks, the CLI and the drainer of one process are built from, for one data dir.

    It opens the process's one queue database on first use (`database()`) and hands it to every
    store and to the Plex index; `close()` closes it when the process is done.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self._database: Optional[Database] = None
        self._lock = threading.Lock()  # the CLI's in-process drainer thread and its task may ask at once

    def database(self, synchronous: str = "FULL") -> Database:
        """The process's one database handle (`synchronous` counts only for the first call)."""
        with self._lock:
            if self._database is None:
                self._database = Database(self.data_dir, synchronous=synchronous)
            return self._database

    def close(self) -> None:
        with self._lock:
            database, self._database = self._database, None
        if database is not None:
            database.close()

    def stash_client(self, connection: StashConnection) -> StashClient:
        """Connect to Stash (switching to its API key when it has a login); writes nothing."""
        add_secrets(connection.secrets)
        client = StashClient(connection)
        add_secrets(client.secrets)
        return client

    def read_settings(self, client: StashClient, overrides: Optional[Mapping[str, object]] = None) -> Settings:
        """PlexSync's settings as Stash stores them; `overrides` (CLI flags, PLEXSYNC_*) win."""
        values = dict(client.plugin_settings(PLUGIN_ID))
        values.update(overrides or {})
        settings = settings_from_mapping(values)
        add_secrets(settings.secrets)
        return settings

    def connect_stash(self, connection: StashConnection,
                      overrides: Optional[Mapping[str, object]] = None) -> StashSession:
        """A Stash client and the settings read through it; writes nothing (see remember_stash)."""
        client = self.stash_client(connection)
        try:
            settings = self.read_settings(client, overrides)
        except BaseException:
            client.close()
            raise
        return StashSession(client, settings)

    def remember_stash(self, session: StashSession) -> None:
        """Leave the detached drainer the connection (with the API key, once known) and the hook
        the settings it needs (the snapshot)."""
        save_connection(self.data_dir, session.client.connection)
        from hooks.snapshot import write_hook_snapshot

        write_hook_snapshot(self.data_dir, session.settings.enabled, time.time())

    def check_plex(self, settings: Settings) -> None:
        """Connect to Plex (GET /) and let go again; raises what connecting raises (the health check)."""
        from plex.client import PlexClient

        PlexClient.connect(settings, self.data_dir).close()

    def plex_client(self, settings: Settings) -> "PlexClient":
        """A connected PlexClient without the sync's index (plays: history, accounts, notifications)."""
        from plex.client import PlexClient

        settings.require_plex()
        return PlexClient.connect(settings, self.data_dir)

    def connect_plex(self, settings: Settings, fetch_image: Callable[[str], bytes],
                     database: Optional[Database] = None) -> "PlexTarget":
        """A connected `plex.target.PlexTarget` (imported here: only runs that talk to Plex pay for plexapi),
        on the process's database, or on `database` (the preview's scratch copy, sync_queue.scratch)."""
        from plex.target import PlexTarget

        settings.require_plex()
        return PlexTarget.connect(settings, self.data_dir, database or self.database(), fetch_image)

    def processor_factory(self, connection: Optional[StashConnection] = None,
                          overrides: Optional[Mapping[str, object]] = None) -> ProcessorFactory:
        """What the drainer calls at start and after a configuration pause: a ready SceneProcessor."""
        from worker.job_step import SceneProcessor

        def build() -> ReadyProcessor:
            session = self.connect_stash(connection or load_connection(self.data_dir), overrides)
            try:
                self.remember_stash(session)
                plex = self.connect_plex(session.settings, session.client.fetch_image)
            except BaseException:
                session.client.close()
                raise

            def close() -> None:
                plex.close()
                session.client.close()

            try:
                self.plays_first(session, plex)
            except BaseException:
                close()
                raise

            processor = SceneProcessor(session.client, plex, SyncStateStore(self.database()), on_close=close,
                                       concurrency=session.settings.plex_concurrency)
            return ReadyProcessor(processor, max_retries=session.settings.max_retries,
                                  secrets=session.settings.secrets + session.client.secrets)

        return build

    def plays_first(self, session: StashSession, plex: "PlexTarget") -> None:
        """Every drainer run catches up plays from Plex before its queue (settings import_plays,
        watch_plays), once per processor built: at start and after a configuration pause. Called
        here, not in the worker's scheduler room: `plays` sits above `worker` in the layer order
        (it uses the worker's lock and launcher), and the rooms stay about the queue."""
        from plays.service import drainer_catch_up

        drainer_catch_up(self.data_dir, self.database(), session.client, session.settings, plex.client)

    def run_worker(self, connection: Optional[StashConnection] = None,
                   overrides: Optional[Mapping[str, object]] = None, log_to_console: bool = False) -> int:
        """`python PlexSync.py worker`: drain the queue until idle, logging to the data dir (or the console)."""
        from common.datadir import ensure_private_dir
        from common.log import setup_console_logging, setup_file_logging
        from worker.drainer import run_drainer
        from worker.options import WorkerOptions

        ensure_private_dir(self.data_dir)
        if log_to_console:
            setup_console_logging()
        else:
            setup_file_logging(self.data_dir / DRAINER_LOG)
        database = self.database(synchronous="NORMAL")  # a drainer-only process (see Database)
        try:
            return run_drainer(self.data_dir, self.processor_factory(connection, overrides),
                               options=WorkerOptions.from_env(), database=database)
        finally:
            self.close()
