"""The four kinds of failure PlexSync knows, decided once at the client edge and acted on once in the worker.

Clients (`plex/`, `stash/`) raise these; the worker maps each class to one action:
transient -> retry with backoff, not in Plex yet -> slow retry, permanent -> dead letter,
configuration -> pause without charging the job an attempt.
"""
from __future__ import annotations


class SyncError(Exception):
    """Base of every classified failure. The message is shown to users: keep it one line, no secrets."""

    kind = "error"


class TransientError(SyncError):
    """Worth retrying soon: timeouts, resets, HTTP 5xx/429."""

    kind = "transient"


class PlexUnreachable(TransientError):
    """Plex did not answer at the connection level; counts towards the circuit breaker."""

    kind = "unreachable"


class NotInPlexYet(SyncError):
    """No Plex item matches the scene's files (yet): Plex may not have scanned them."""

    kind = "not_in_plex"


class PermanentError(SyncError):
    """Retrying will not help until a person acts: the message says what to do."""

    kind = "permanent"


class ConfigurationError(SyncError):
    """Wrong or missing settings, bad token, unknown library, Stash unreachable: pause, keep the jobs."""

    kind = "configuration"


class SceneGone(SyncError):
    """The scene was deleted in Stash before its job ran: nothing to sync."""

    kind = "gone"
