"""Watch mode: listen to Plex, and bring each stopped or finished play to Stash within seconds.

A `playing` event names a session, not a user: the first event of a session is joined with
/status/sessions (one request per new session) to learn its account, so other accounts' plays
trigger nothing. A `stopped` event of a chosen account (or an unknown one: the session may be
gone already) runs an import, which reads history from the watermark: the play arrives exactly
once, whatever the events said, and a stop of a half-watched item brings its resume point.
After every (re)connection the import runs first (backfill: nothing pushed while nobody
listened is lost); a dropped connection is retried with doubling waits (1 s up to 60 s, scaled
by PLEXSYNC_TIME_SCALE), and an import runs at least every CATCH_UP_SECONDS anyway.
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Callable, Dict, Optional

from common.errors import CONFIG, SyncError, scope_of
from common.log import get_logger

FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0
CATCH_UP_SECONDS = 900.0
log = get_logger("plays.watch")

if TYPE_CHECKING:
    from plays.importer import ImportReport
    from plex.notifications import NotificationSocket


class PlayWatcher:
    def __init__(self, connect: Callable[[], "NotificationSocket"], sessions: Callable[[], Dict[str, int]],
                 import_now: Callable[[], "ImportReport"], wants_account: Callable[[int], bool], *,
                 time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        """connect() -> an object with events() and close() (plex.notifications.NotificationSocket);
        sessions() -> sessionKey -> account id (GET /status/sessions); import_now() runs one import."""
        self.connect, self.sessions, self.import_now = connect, sessions, import_now
        self.wants_account, self.time_scale, self.clock = wants_account, time_scale, clock
        self.accounts: Dict[str, int] = {}
        self.imports = 0
        self.connections = 0

    def _import(self, why: str) -> None:
        try:
            report = self.import_now()
            self.imports += 1
            if getattr(report, "plays_added", 0) or getattr(report, "resume_set", 0):
                log.info("plays from Plex (%s): %s plays added, %s resume points set", why,
                         report.plays_added, report.resume_set)
        except SyncError as exc:
            if scope_of(exc) == CONFIG:  # wrong settings or token: listening on cannot help
                raise
            log.warning("plays import (%s) failed, retried on the next event: %s", why, exc)

    def _account(self, session_key: str) -> Optional[int]:
        if session_key not in self.accounts:
            try:
                self.accounts.update(self.sessions())
            except SyncError as exc:
                log.debug("sessions unreadable: %s", exc)
        return self.accounts.get(session_key)

    def run(self, stop: threading.Event) -> None:
        wait = FIRST_RETRY_SECONDS
        while not stop.is_set():
            socket = None
            try:
                socket = self.connect()
                socket.connect()
                self.connections += 1
                wait = FIRST_RETRY_SECONDS
                self._import("after connecting")
                last_import = self.clock()
                for batch in socket.events():
                    if stop.is_set():
                        return
                    due = False
                    for event in batch:
                        account = self._account(event.session_key)
                        if event.state == "stopped":
                            self.accounts.pop(event.session_key, None)  # keys are reused after a restart
                            due = due or account is None or self.wants_account(account)
                    if due or self.clock() - last_import > CATCH_UP_SECONDS * self.time_scale:
                        self._import("a play stopped" if due else "catching up")
                        last_import = self.clock()
            except SyncError as exc:
                if scope_of(exc) == CONFIG:
                    raise
                log.info("Plex notifications: %s; reconnecting in %.1f s", exc, wait * self.time_scale)
            finally:
                if socket is not None:
                    socket.close()
            stop.wait(wait * self.time_scale)
            wait = min(wait * 2, MAX_RETRY_SECONDS)
