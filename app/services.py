"""The composition root: the one place that builds Stash, Plex and queue services from settings.

Tasks, the CLI and the drainer all connect through here, so every run does the same things in
the same order: connect to Stash (switching to its API key when it has a login), save the
connection for the detached drainer, read and validate settings, refresh the hook's settings
snapshot, then connect to Plex. Secrets learned on the way are added to the log redaction.
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
from sync_queue.fast_enqueue import db_path
from sync_queue.sync_state import SyncStateStore


@dataclass
class StashSession:
    client: StashClient
    settings: Settings


def connect_stash(data_dir: Path, connection: StashConnection,
                  overrides: Optional[Mapping[str, Any]] = None) -> StashSession:
    """Connect to Stash, remember how (for the drainer), and read PlexSync's settings.

    `overrides` (from CLI flags or PLEXSYNC_* variables) win over what Stash stores.
    """
    add_secrets(connection.secrets)
    client = StashClient(connection)
    try:
        add_secrets(client.secrets)
        save_connection(data_dir, client.connection)
        values = dict(client.plugin_settings(PLUGIN_ID))
        values.update(overrides or {})
        settings = settings_from_mapping(values)
        add_secrets(settings.secrets)
        write_hook_snapshot(data_dir, settings)
        if (settings.connect_timeout, settings.read_timeout) != client.timeout:
            client.timeout = (settings.connect_timeout, settings.read_timeout)
    except BaseException:
        client.close()
        raise
    return StashSession(client, settings)


def connect_plex(settings: Settings, data_dir: Path, fetch_image: Callable[[str], bytes]):
    """A connected `plex.PlexTarget` (imported here: only runs that talk to Plex pay for plexapi)."""
    from plex.sync import PlexTarget

    settings.require_plex()
    return PlexTarget.connect(settings, Path(data_dir), db_path(data_dir), fetch_image)


def processor_factory(data_dir: Path, connection: Optional[StashConnection] = None,
                      overrides: Optional[Mapping[str, Any]] = None) -> Callable[[], Any]:
    """What the drainer calls at start and after a configuration pause: a ready SceneProcessor."""
    from app.processor import SceneProcessor

    def build() -> SceneProcessor:
        session = connect_stash(data_dir, connection or load_connection(data_dir), overrides)
        plex = None
        database = None
        try:
            plex = connect_plex(session.settings, data_dir, session.client.fetch_image)
            database = Database(data_dir, synchronous="NORMAL")
        except BaseException:
            session.client.close()
            if plex is not None:
                plex.close()
            raise

        def close() -> None:
            plex.close()
            session.client.close()
            database.close()

        return SceneProcessor(session.client, plex, SyncStateStore(database),
                              max_retries=session.settings.max_retries,
                              secrets=session.settings.secrets + session.client.secrets, on_close=close)

    return build



DRAINER_LOG = "drainer.log"


def run_worker(data_dir: Path, connection: Optional[StashConnection] = None,
               overrides: Optional[Mapping[str, Any]] = None, log_to_console: bool = False) -> int:
    """`python PlexSync.py worker`: drain the queue until idle, logging to the data dir (or the console)."""
    from common.datadir import ensure_private_dir
    from common.log import setup_console_logging, setup_file_logging
    from worker.drainer import run_drainer

    ensure_private_dir(Path(data_dir))
    if log_to_console:
        setup_console_logging()
    else:
        setup_file_logging(Path(data_dir) / DRAINER_LOG)
    return run_drainer(data_dir, processor_factory(Path(data_dir), connection, overrides))
