"""Turns whatever plexapi and requests raise into the classes of `common.errors`, in one place.

Which class means what (Plex-wide, one item, configuration) and what the worker does with it is
the table in `common.errors`; this module only recognises the shapes: connection refused, reset,
connect or read timeout, TLS, DNS, and the HTTP status plexapi puts in its messages.

Every call that reaches Plex runs inside `classified(...)`, so the rest of `plex/` and the
worker only ever see `common.errors` classes. Messages are one line, redacted (the token never
appears, even if plexapi was configured to put it in URLs), and the original exception is not
chained, because its text may carry headers or URLs we do not control.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterable, Iterator, Optional
from xml.etree.ElementTree import ParseError

import requests
from plexapi.exceptions import NotFound, PlexApiException, Unauthorized

from common.errors import (
    MAINTENANCE,
    ConfigurationError,
    NotInPlexYet,
    PermanentError,
    PlexMaintenance,
    PlexServerError,
    PlexUnreachable,
    RequestTooLong,
    SyncError,
    TokenRejected,
    TransientError,
    plex_status_error,
)
from common.redact import redact
from common.settings import WHERE

TOKEN_REJECTED = f"Plex rejected the token: check plex_token in {WHERE}"
_STATUS = re.compile(r"^\((\d{3})\)")
_CERTIFICATE = re.compile(r"(?i)certificate|hostname mismatch")
_MAX_DETAIL = 300
# An HTML 400 on a request line this long is "too long" (Plex, P7), not a bad parameter.
LONG_URL = 2_000
_URL = re.compile(r"^\(\d{3}\) \S+; (\S+)")


class ItemVanished(NotInPlexYet):
    """Plex answered 404 for a ratingKey we knew: the index is stale for that item."""

    kind = "not_in_plex"


def _short(text: str, secrets: Iterable[str]) -> str:
    text = redact(" ".join(str(text).split()), secrets)
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def _is_connect_failure(exc: requests.exceptions.ConnectionError) -> bool:
    """True when no connection was made at all (refused, unresolvable, connect timeout)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    text = f"{type(reason).__name__} {reason!r}" if reason is not None else repr(exc)
    return any(marker in text for marker in ("NewConnectionError", "NameResolutionError",
                                             "ConnectTimeoutError", "Connection refused"))


def http_status(exc: BaseException) -> Optional[int]:
    """The HTTP status plexapi put at the front of its message, e.g. '(503) service_unavailable; ...'."""
    if isinstance(exc, Unauthorized):
        return 401
    if isinstance(exc, NotFound):
        return 404
    found = _STATUS.match(str(exc))
    return int(found.group(1)) if found else None


def classify(exc: BaseException, what: str, secrets: Iterable[str] = (), fields: Iterable[str] = ()) -> SyncError:
    """The classified error for `exc`, raised while doing `what` (e.g. 'reading item 12')."""
    secrets = tuple(s for s in secrets if s)
    if isinstance(exc, SyncError):
        return exc
    if isinstance(exc, requests.exceptions.SSLError):
        if _CERTIFICATE.search(str(exc)):  # waiting will not fix this one: a person must act
            return ConfigurationError(_short(
                f"Plex's TLS certificate was rejected while {what}: install a trusted certificate, use http, "
                f"or turn verify_tls off in {WHERE} ({exc})", secrets))
        return PlexUnreachable(_short(f"the TLS handshake with Plex failed while {what}: {exc}", secrets))
    if isinstance(exc, requests.exceptions.ConnectionError):
        if _is_connect_failure(exc):
            return PlexUnreachable(_short(f"Plex is unreachable while {what}: {exc}", secrets))
        return PlexUnreachable(_short(f"connection to Plex broke while {what}: {exc}", secrets))
    if isinstance(exc, requests.exceptions.Timeout):
        return PlexUnreachable(_short(f"Plex did not answer in time while {what}", secrets))
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError,
                        ParseError)):
        return TransientError(_short(f"Plex sent a broken answer while {what}: {exc}", secrets))
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema)):
        return ConfigurationError(_short(f"plex_url is not usable ({exc}): {WHERE}", secrets))
    if isinstance(exc, requests.exceptions.RequestException):
        return TransientError(_short(f"request to Plex failed while {what}: {exc}", secrets))
    status = http_status(exc)
    if status == 503:
        return PlexMaintenance(_short(f"{MAINTENANCE} or busy: it answered 503 while {what}; "
                                      "PlexSync waits and carries on by itself", secrets))
    if status == 414 or (status == 400 and _long_html_answer(str(exc))):
        return RequestTooLong(_short(f"Plex refused the request as too long ({status}) while {what}", secrets))
    if status == 404:
        return ItemVanished(_short(f"Plex answered 404 while {what}", secrets))
    found = plex_status_error(status) if status is not None else None
    if found is TokenRejected:
        return TokenRejected(TOKEN_REJECTED)
    if found is PlexUnreachable:
        return PlexUnreachable(_short(f"Plex answered {status} while {what}", secrets))
    if found is not None:
        return PlexServerError(_short(f"Plex answered {status} while {what}", secrets))
    if status is not None:
        named = ", ".join(fields)
        about = f" (fields: {named})" if named else ""
        return PermanentError(_short(f"Plex refused {what}{about} with {status}: {exc}", secrets))
    return PermanentError(_short(f"unexpected failure while {what}: {type(exc).__name__}: {exc}", secrets))


def _long_html_answer(message: str) -> bool:
    """plexapi's '(400) bad_request; URL <html>...': an HTML page (not Plex's XML) for a long URL."""
    found = _URL.match(message)
    return found is not None and len(found.group(1)) > LONG_URL and "<html" in message.lower()


@contextmanager
def classified(what: str, secrets: Iterable[str] = (), fields: Iterable[str] = ()) -> Iterator[None]:
    """Run a Plex call; anything it raises leaves as a classified, redacted SyncError."""
    try:
        yield
    except SyncError:
        raise
    except (requests.exceptions.RequestException, PlexApiException, ParseError) as exc:
        raise classify(exc, what, secrets, fields) from None
