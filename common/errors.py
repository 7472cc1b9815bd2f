"""Every failure PlexSync knows, for whom it is, and what the worker does with it: one table.

Clients (`plex/`, `stash/`) turn what a server did into one of the classes below, once, at the
edge; the worker looks the class up in `TABLE` and acts on the row, once. A failure is about
one of four things:

- one item (a scene / its Plex item): charged to that job, retried with backoff, then dead
  lettered (or dead lettered at once when retrying cannot help);
- Plex as a whole: never charged; the Plex circuit breaker opens, the rest of a batch is not
  tried, and only probes reach Plex until one succeeds;
- Stash as a whole: never charged; the Stash breaker opens the same way;
- the configuration: never charged; the drainer pauses and reads the settings again later.

A 500 from Plex is the one shape that is decided by what happens around it: the first 500 a job
gets is not charged (it may be the start of a Plex-wide fault), a 500 that job gets again while
other items succeed is charged to it, and 500s on `SPREAD_ITEMS` different items in a row open
the Plex breaker. Standard library only.
"""
from __future__ import annotations

TYPE_CHECKING = False  # the hook imports this module: neither typing nor dataclasses on its path
if TYPE_CHECKING:
    from typing import Dict, Optional, Tuple, Type

ITEM, PLEX, STASH, CONFIG, NOTHING = "item", "plex", "stash", "configuration", "nothing"
# treatments
RETRY = "retry with backoff, then dead letter"
SLOW_RETRY = "retry on the slow not-in-Plex schedule, then dead letter"
RETRY_IF_REPEATED = "first time not charged; charged when it repeats while other items succeed"
DEAD_LETTER = "dead letter at once"
WAIT_FOR_PLEX = "not charged; open the Plex breaker; probes only until one succeeds"
WAIT_FOR_STASH = "not charged; open the Stash breaker; probes only until one succeeds"
PAUSE = "not charged; pause, read the settings again later"
DROP = "drop the job: nothing to sync"
SPREAD_ITEMS = 3  # 500s on this many different items in a row are a Plex-wide failure


class SyncError(Exception):
    """Base of every classified failure. The message is shown to users: keep it one line, no secrets."""

    kind = "error"


class TransientError(SyncError):
    """One item's request failed in a way worth retrying soon (a broken answer, Stash's 500)."""

    kind = "transient"


class PlexServerError(TransientError):
    """Plex answered 500 for one item's request: the item's fault unless other items get it too."""

    kind = "server_error"


class PlexUnreachable(TransientError):
    """Plex as a whole is not answering: refused, reset, timed out, 502/503/504, 429, TLS or DNS."""

    kind = "unreachable"


class NotInPlexYet(SyncError):
    """No Plex item matches the scene's files (yet): Plex may not have scanned them."""

    kind = "not_in_plex"


class PermanentError(SyncError):
    """Retrying will not help until a person acts: the message says what to do."""

    kind = "permanent"


class ConfigurationError(SyncError):
    """Wrong or missing settings, bad token, unknown library: pause, keep the jobs."""

    kind = "configuration"


class TokenRejected(ConfigurationError):
    """The server refused PlexSync's credentials (401/403): the token or API key must be fixed."""

    kind = "token_rejected"


class StashUnreachable(SyncError):
    """Stash as a whole is not answering (refused, timed out, 502/503/504): wait, keep the jobs.

    Not a configuration error: nobody needs to fix a setting, the jobs wait for Stash's breaker."""

    kind = "stash_down"


class SceneGone(SyncError):
    """The scene was deleted in Stash before its job ran: nothing to sync."""

    kind = "gone"


MAINTENANCE = "Plex is upgrading its database"  # what `status` says while Plex answers 503


class PlexMaintenance(PlexUnreachable):
    """Plex answered 503 (its "Maintenance" page: database migrations after an update, minutes to
    hours): Plex-wide, never charged, however long it lasts."""

    kind = "maintenance"


class RequestTooLong(TransientError):
    """Plex or its proxy refused a request as too long (414, or an HTML 400 on a long URL): the
    request is split further, never taken as bad data."""

    kind = "too_long"


class Failure:
    """One row of the table: a class of failure, whose it is, and what the worker does."""

    __slots__ = ("error", "scope", "treatment", "seen_as")

    def __init__(self, error: Type[SyncError], scope: str, treatment: str, seen_as: str) -> None:
        self.error, self.scope, self.treatment, self.seen_as = error, scope, treatment, seen_as

    def __repr__(self) -> str:
        return f"Failure({self.error.__name__}, {self.scope!r}, {self.treatment!r})"


TABLE: Tuple[Failure, ...] = (
    # class              scope    treatment           what the servers did
    Failure(PlexMaintenance, PLEX, WAIT_FOR_PLEX,
            "Plex answered 503 (its 'Maintenance' page while it migrates its database after an update, "
            "minutes to hours), the probe (/identity) included: `status` names it"),
    Failure(PlexUnreachable, PLEX, WAIT_FOR_PLEX,
            "Plex refused or reset the connection, timed out connecting or answering, answered "
            "502/504/429, or TLS or DNS failed"),
    Failure(PlexServerError, ITEM, RETRY_IF_REPEATED,
            "Plex answered 500 to one item's request (500s on different items in a row: Plex-wide)"),
    Failure(StashUnreachable, STASH, WAIT_FOR_STASH,
            "Stash refused the connection, timed out, or answered 502/503/504"),
    Failure(TokenRejected, CONFIG, PAUSE, "Plex or Stash refused the token or API key (401/403)"),
    Failure(ConfigurationError, CONFIG, PAUSE, "a setting is wrong, a library is unknown"),
    Failure(NotInPlexYet, ITEM, SLOW_RETRY,
            "no Plex item has the scene's files yet, or Plex answered 404 for an item it listed"),
    Failure(PermanentError, ITEM, DEAD_LETTER,
            "Plex refused an edit naming its fields (400), the scene matches several items, Stash "
            "rejected a query"),
    Failure(SceneGone, NOTHING, DROP, "the scene was deleted in Stash before its job ran"),
    Failure(RequestTooLong, ITEM, RETRY,
            "Plex or nginx refused a request as too long (414, or an HTML 400 on a long URL): the edit is "
            "split further inside the write, so it reaches the worker only when nothing smaller is possible"),
    Failure(TransientError, ITEM, RETRY,
            "a broken or cut-off answer, Stash's 500 or 'database is locked', an unexpected bug for one scene"),
)
_BY_CLASS: Dict[Type[SyncError], Failure] = {row.error: row for row in TABLE}
_UNEXPECTED = Failure(TransientError, ITEM, RETRY, "an unexpected exception")


def failure_of(error: BaseException) -> Failure:
    """The row for `error`: its own class's, else the nearest base class's (anything else: a bug, item)."""
    for cls in type(error).__mro__:
        row = _BY_CLASS.get(cls)
        if row is not None:
            return row
    return _UNEXPECTED


def scope_of(error: BaseException) -> str:
    return failure_of(error).scope


def wider_than_item(error: BaseException) -> bool:
    """Is `error` about a server or the settings, not the one item that got it? (Re-raise it.)"""
    return scope_of(error) in (PLEX, STASH, CONFIG)


def plex_status_error(status: int) -> Optional[Type[SyncError]]:
    """The class for a Plex HTTP status (None: not an error status handled by status alone)."""
    if status in (401, 403):
        return TokenRejected
    if status in (429, 502, 503, 504):
        return PlexUnreachable
    if status >= 500 or status == 408:
        return PlexServerError
    return None


def stash_status_error(status: int) -> Optional[Type[SyncError]]:
    """The class for a Stash HTTP status that says something about Stash as a whole."""
    if status in (502, 503, 504):
        return StashUnreachable
    if status == 429 or status >= 500:
        return TransientError
    return None
