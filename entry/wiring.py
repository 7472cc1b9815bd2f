"""The composition root: the one place that builds Stash, Plex and queue services from settings.

Each process that does more than a hook builds one `Services` for its data dir and hands it to
tasks (through their `TaskContext`) and to the drainer, so every run does the same things in the
same order: connect to Stash (switching to its API key when it has a login), save the
connection for the detached drainer, read and validate settings, refresh the hook's settings
snapshot, then connect to Plex. Secrets learned on the way are added to the log redaction.
Tasks and the worker never import this module: they are handed what it builds.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from common.log import add_secrets
from common.settings import Settings, settings_from_mapping
from stash.client import StashClient
from stash.connection import StashConnection, load_connection, save_connection
from stash.settings import PLUGIN_ID, write_hook_snapshot
from sync_queue.db import Database
from sync_queue.rows import db_path
from sync_queue.sync_state import SyncStateStore
from worker.protocol import ProcessorFactory, ReadyProcessor

DRAINER_LOG = "drainer.log"


@dataclass
class StashSession:
    client: StashClient
    settings: Settings


class Services:
    """What tasks, the CLI and the drainer of one process are built from, for one data dir."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)

    def connect_stash(self, connection: StashConnection,
                      overrides: Optional[Mapping[str, Any]] = None) -> StashSession:
        """Connect to Stash, remember how (for the drainer), and read PlexSync's settings.

        `overrides` (from CLI flags or PLEXSYNC_* variables) win over what Stash stores.
        """
        add_secrets(connection.secrets)
        client = StashClient(connection)
        try:
            add_secrets(client.secrets)
            save_connection(self.data_dir, client.connection)
            values = dict(client.plugin_settings(PLUGIN_ID))
            values.update(overrides or {})
            settings = settings_from_mapping(values)
            add_secrets(settings.secrets)
            write_hook_snapshot(self.data_dir, settings)
            if (settings.connect_timeout, settings.read_timeout) != client.timeout:
                client.timeout = (settings.connect_timeout, settings.read_timeout)
        except BaseException:
            client.close()
            raise
        return StashSession(client, settings)

    def connect_plex(self, settings: Settings, fetch_image: Callable[[str], bytes]) -> Any:
        """A connected `plex.target.PlexTarget` (imported here: only runs that talk to Plex pay for plexapi)."""
        from plex.target import PlexTarget

        settings.require_plex()
        return PlexTarget.connect(settings, self.data_dir, db_path(self.data_dir), fetch_image)

    def processor_factory(self, connection: Optional[StashConnection] = None,
                          overrides: Optional[Mapping[str, Any]] = None) -> ProcessorFactory:
        """What the drainer calls at start and after a configuration pause: a ready SceneProcessor."""
        from worker.job_step import SceneProcessor

        def build() -> ReadyProcessor:
            session = self.connect_stash(connection or load_connection(self.data_dir), overrides)
            plex = None
            database = None
            try:
                plex = self.connect_plex(session.settings, session.client.fetch_image)
                database = Database(self.data_dir, synchronous="NORMAL")
            except BaseException:
                session.client.close()
                if plex is not None:
                    plex.close()
                raise

            def close() -> None:
                plex.close()
                session.client.close()
                database.close()

            processor = SceneProcessor(session.client, plex, SyncStateStore(database), on_close=close)
            return ReadyProcessor(processor, max_retries=session.settings.max_retries,
                                  secrets=session.settings.secrets + session.client.secrets)

        return build

    def run_worker(self, connection: Optional[StashConnection] = None,
                   overrides: Optional[Mapping[str, Any]] = None, log_to_console: bool = False) -> int:
        """`python PlexSync.py worker`: drain the queue until idle, logging to the data dir (or the console)."""
        from common.datadir import ensure_private_dir
        from common.log import setup_console_logging, setup_file_logging
        from worker.drainer import run_drainer
        from worker.sync_worker import WorkerOptions

        ensure_private_dir(self.data_dir)
        if log_to_console:
            setup_console_logging()
        else:
            setup_file_logging(self.data_dir / DRAINER_LOG)
        return run_drainer(self.data_dir, self.processor_factory(connection, overrides),
                           options=WorkerOptions.from_env())
