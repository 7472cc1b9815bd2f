"""Builds and runs one plays import from what a task, the CLI, the drainer or watch mode holds.

One place decides the collaborators (plex.plays for Plex, stash.plays for Stash, the plays store
on the process's database), the accounts from the settings, the lock that keeps runs from
overlapping (a file lock in the data directory, dropped by the OS if the process dies) and the
test-only fault point (PLEXSYNC_PLAYS_FAULT=kill-after-stash-write: the process kills itself
right after its first Stash write, before recording it, as a power cut or SIGKILL would).
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

from common.errors import TransientError
from common.log import get_logger
from plays.importer import AccountChoice, ImportReport, PlaysImporter, parse_accounts
from sync_queue.plays_store import PlaysStore
from worker.options import time_scale

if TYPE_CHECKING:
    import threading

    from common.settings import Settings
    from plays.watch import PlayWatcher
    from plex.client import PlexClient, Section
    from plex.plays import HistoryRow, PlexPlays
    from stash.client import StashClient
    from stash.plays import ScenePlays
    from sync_queue.db import Database

LOCK_FILE = "plays.lock"
LOCK_WAIT_SECONDS = 60.0
LISTS_MAX_AGE = 24 * 3600.0  # Plex's lists of libraries and of accounts, as kept
R = TypeVar("R")
# A drainer run reads the owner's per-library item state (resume points, marked watched) at most this
# often when history has nothing new (plays.importer.PlaysImporter._state_due); tasks, the CLI and
# watch mode read it every time.
DRAINER_STATE_EVERY = 15 * 60.0
FAULT_ENV = "PLEXSYNC_PLAYS_FAULT"
log = get_logger("plays")


class StashGateway:
    """stash.plays over one StashClient, as the importer's StashPlays."""

    def __init__(self, client: "StashClient") -> None:
        self.client = client

    def read(self, scene_ids: Sequence[int]) -> Dict[int, "ScenePlays"]:
        from stash.plays import read_plays

        return read_plays(self.client, scene_ids)

    def add(self, plays: Dict[int, List[int]]) -> None:
        from stash.plays import add_plays

        add_plays(self.client, plays)

    def save_resume(self, resume: Dict[int, float]) -> None:
        from stash.plays import save_resume

        save_resume(self.client, resume)

    def save_ratings(self, ratings: Dict[int, int]) -> None:
        from stash.plays import save_ratings

        save_ratings(self.client, ratings)

    def played_since(self, since: Optional[int]) -> List["ScenePlays"]:
        from stash.plays import played_since

        return played_since(self.client, since)

    def resumed(self) -> List["ScenePlays"]:
        from stash.plays import resumed

        return resumed(self.client)


class ImportBusy(TransientError):
    """Another process holds the plays lock (its import reads the same history: nothing is missed)."""


def _fault() -> None:
    if os.environ.get(FAULT_ENV) == "kill-after-stash-write":
        log.warning("test fault point: killing this process after writing plays to Stash")
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def _daily_list(store: PlaysStore, key: str, clock: Callable[[], float], ask: Callable[[], List[list]],
                use: Callable[[Callable[[], List[list]]], R]) -> R:
    """`use(load)` with a list Plex answers (`ask`), kept in the plays store and asked again at most
    once a day (LISTS_MAX_AGE); when `use` refuses the kept list (ConfigurationError: a name it does
    not hold), Plex is asked again. `load` asks only when `use` calls it."""
    from common.errors import ConfigurationError

    kept = store.meta(key) or {}
    if kept.get("at", 0) > clock() - LISTS_MAX_AGE:
        try:
            return use(lambda: kept.get("list", []))
        except ConfigurationError:
            pass

    def fresh() -> List[list]:
        rows = ask()
        store.set_meta({key: {"at": clock(), "list": rows}})
        return rows
    return use(fresh)


def _cached_sections(store: PlaysStore, plex_plays: "PlexPlays", clock: Callable[[], float],
                     names: Sequence[str]) -> Callable[[], List["Section"]]:
    """The libraries PlexSync syncs (setting plex_library, as the sync chooses them), from Plex's list
    of libraries as asked at most once a day (a name not in that list asks Plex again)."""
    def sections() -> List["Section"]:
        from plex.client import Section
        from plex.index_refresh import select_sections

        return _daily_list(store, "sections", clock,
                           lambda: [[s.key, s.title, s.type] for s in plex_plays.sections()],
                           lambda load: select_sections([Section(int(key), title, kind)
                                                         for key, title, kind in load()], names))
    return sections


def _choose_accounts(text: str, store: PlaysStore, plex_plays: "PlexPlays",
                     clock: Callable[[], float]) -> AccountChoice:
    """The setting's accounts, names resolved with Plex's account list as read at most once a day
    (a name not in that list asks Plex again), so a run with nothing new asks Plex only its history."""
    return _daily_list(store, "accounts", clock,
                       lambda: [[k, v] for k, v in plex_plays.accounts().items()],
                       lambda load: parse_accounts(text, lambda: {int(k): str(v) for k, v in load()}))


def import_plays(data_dir: Path, database: "Database", stash_client: "StashClient", settings: "Settings",
                 plex_client: "PlexClient", *,
                 dry_run: bool = False, clock: Callable[[], float] = time.time,
                 lock_wait: float = LOCK_WAIT_SECONDS, state_every: float = 0.0) -> ImportReport:
    """One import (or its preview, which writes nothing) under the plays lock; with plays_to_plex,
    then the way back (plays.exporter). The report's `exported` holds the way back's figures.
    `state_every`: see PlaysImporter._state_due (0: read the owner's item state every run)."""
    from plex.plays import PlexPlays
    from worker.lock import ProcessLock

    plex_plays = PlexPlays(plex_client)
    store = PlaysStore(database)
    accounts = _choose_accounts(settings.plays_accounts, store, plex_plays, clock)
    importer = PlaysImporter(plex_plays, StashGateway(stash_client), store, accounts, resume=settings.plays_resume,
                             clock=clock, sections=_cached_sections(store, plex_plays, clock, settings.libraries),
                             after_stash_write=_fault,
                             ratings=settings.ratings_from_plex, state_every=state_every)
    def both_ways() -> ImportReport:
        report = importer.run(dry_run=dry_run)
        if settings.plays_to_plex:
            from plays.exporter import PlaysExporter

            exporter = PlaysExporter(plex_plays, StashGateway(stash_client), store, clock=clock)
            report.exported = exporter.run(dry_run=dry_run).to_json()
        return report

    if dry_run:
        return both_ways()
    lock = ProcessLock(Path(data_dir) / LOCK_FILE)
    if not lock.acquire_within(lock_wait):
        raise ImportBusy(f"another plays import is running (pid {lock.holder_pid()}); try again later")
    try:
        return both_ways()
    finally:
        lock.release()


def run_watch(data_dir: Path, database: "Database", stash_client: "StashClient", settings: "Settings",
              plex_client: "PlexClient", stop: "threading.Event", time_scale: float = 1.0) -> "PlayWatcher":
    """Listen to Plex until `stop` (a threading.Event) is set; returns the PlayWatcher (its counters)."""
    from plays.watch import PlayWatcher
    from plex.notifications import NotificationSocket
    from plex.plays import PlexPlays

    plex_plays = PlexPlays(plex_client)
    accounts = parse_accounts(settings.plays_accounts, plex_plays.accounts)
    url, token = plex_plays.notification_target()

    def import_now() -> ImportReport:
        return import_plays(data_dir, database, stash_client, settings, plex_client)

    watcher = PlayWatcher(lambda: NotificationSocket(url, token),
                          lambda: {s.session_key: s.account_id for s in plex_plays.sessions()},
                          import_now, accounts.wants, time_scale=time_scale)
    watcher.run(stop)
    return watcher


WATCH_LOCK_FILE = "watch.lock"


def drainer_catch_up(data_dir: Path, database: "Database", stash_client: "StashClient", settings: "Settings",
                     plex_client: "PlexClient") -> None:
    """What a drainer run does for plays before its queue: import what is new (import_plays on),
    and make sure a watch process listens (watch_plays on). Only Plex or Stash being down fails
    it (the drainer then waits for that server and runs this again); anything else is logged."""
    if settings.watch_plays:
        _ensure_watching(Path(data_dir))
    if not settings.import_plays:
        return
    for last_try in (False, True):
        if _catch_up_once(data_dir, database, stash_client, settings, plex_client, last_try):
            return


def _catch_up_once(data_dir: Path, database: "Database", stash_client: "StashClient", settings: "Settings",
                   plex_client: "PlexClient", last_try: bool) -> bool:
    """One import for the drainer; False when it is worth one more try at once.

    A server-wide failure (Plex or Stash not answering, maybe half way through) is raised when the
    server's probe fails too: it is down, and the drainer waits for it (worker.processor_slot) and
    builds again, which runs this again; the watermark keeps what was done. When the probe answers,
    the failure was a blip (tried once more) or this import's own (a proxy refusing only the history
    path): logged, and the queue goes on, so plays can never hold metadata back."""
    from common.errors import PLEX, STASH, SyncError, scope_of

    try:
        # on the connection the drainer holds for its queue (no second GET /): nothing new costs one request
        report = import_plays(data_dir, database, stash_client, settings, plex_client, lock_wait=0.5,
                              state_every=DRAINER_STATE_EVERY * time_scale())
    except ImportBusy as exc:  # a run in progress elsewhere (watch mode, a task) catches up for us
        log.info("plays from Plex: %s", exc)
        return True
    except SyncError as exc:
        scope = scope_of(exc)
        if scope in (PLEX, STASH):
            try:
                if scope == PLEX:
                    plex_client.identity()
                else:
                    stash_client.version()
            except SyncError:
                raise exc from None
            if not last_try:
                return False
        log.warning("plays from Plex not imported this time (the next run retries): %s", exc)
        return True
    if report.plays_added or report.resume_set or report.resume_cleared:
        log.info("plays from Plex: %d plays added, %d resume points set, %d cleared", report.plays_added,
                 report.resume_set, report.resume_cleared)
    return True


def _ensure_watching(data_dir: Path) -> None:
    """Start `PlexSync.py watch` detached unless one holds the watch lock."""
    from worker.launcher import drainer_command, start_detached
    from worker.lock import is_locked

    if is_locked(data_dir / WATCH_LOCK_FILE):
        return
    plugin_dir = Path(__file__).resolve().parent.parent
    start_detached(data_dir, plugin_dir, drainer_command(plugin_dir, "watch"))


def scene_play_lines(database: "Database", scene_id: int, plex_views: List["HistoryRow"],
                     in_stash: Optional["ScenePlays"]) -> List[str]:
    """For `explain`: a scene's views in Plex, its plays in Stash, and which PlexSync brought over."""
    from datetime import datetime, timezone

    def stamp(epoch: int) -> str:
        return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")

    brought: List[Tuple[str, int, int, int]] = []
    if database.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'plays_imported'"):
        brought = PlaysStore(database).scene_plays(scene_id)
    views = ", ".join(f"{stamp(v.viewed_at)} (account {v.account_id})" for v in plex_views[-5:])
    lines = [f"plays in Plex: {len(plex_views)}" + (f", latest {views}" if views else "")]
    if in_stash is None:
        lines.append("plays in Stash: not readable")
    else:
        lines.append(f"plays in Stash: {len(in_stash.history)}"
                     + (f", last {stamp(max(in_stash.history))} UTC" if in_stash.history else "")
                     + (f"; resume point {in_stash.resume_time:.0f} s" if in_stash.resume_time else ""))
    lines.append(f"plays PlexSync brought from Plex: {len(brought)}"
                 + (" (" + ", ".join(f"{stamp(at)} account {account}" for _, _, account, at in brought[-5:]) + ")"
                    if brought else ""))
    return lines
