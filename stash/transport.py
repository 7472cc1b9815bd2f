"""Every request to Stash: bounded timeouts, no redirects, and connection failures classified.

Stash answers an expired login with a redirect to its login page, so redirects are never
followed; an image URL is always fetched from the connection's own address, so the credential
never goes to another host. No connection, DNS failure, timeout or TLS failure -> StashUnreachable
(Stash-wide); what Stash answers is classified by `stash/answers.py`. Messages pass through
`common.redact` with the connection's secrets and the ones the session learned.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

import requests

from common.errors import PermanentError, StashUnreachable, SyncError, TransientError
from common.redact import redact
from stash.answers import GraphQLFailure, graphql_data
from stash.connection import StashConnection

_OPERATION = re.compile(r"^\s*(?:query|mutation)\s+(\w+)")


class StashTransport:
    def __init__(self, connection: StashConnection, timeout: Tuple[float, float]) -> None:
        self.connection = connection
        self.timeout = timeout
        self.session: Optional[requests.Session] = None  # stashapi's, once it is built

    @property
    def url(self) -> str:
        return self.connection.base_url

    @property
    def secrets(self) -> Tuple[str, ...]:
        """The connection's secrets and what the session learned (an API key, a session cookie)."""
        learned = []
        if self.session is not None:
            learned = [self.session.headers.get("ApiKey") or ""] + [c.value or "" for c in self.session.cookies]
        return tuple(dict.fromkeys(self.connection.secrets + tuple(value for value in learned if value)))

    def local_url(self, url: str) -> str:
        """`url` (an image Stash serves) on the connection's own address."""
        parts = urlsplit(url or "")
        if parts.scheme and parts.scheme not in ("http", "https"):
            raise PermanentError(f"not an http(s) image URL: {redact(url[:80], self.secrets)!r}")
        base = urlsplit(self.connection.base_url)
        return urlunsplit((base.scheme, base.netloc, parts.path or "/", parts.query, ""))

    def request(self, method: str, url: str, session: Optional[requests.Session] = None,
                **options: Any) -> requests.Response:
        session = session or self.session
        assert session is not None  # stashapi's session exists before any request but its own
        try:
            return session.request(method, url, timeout=self.timeout, allow_redirects=False, **options)
        except requests.exceptions.SSLError:
            raise StashUnreachable(f"Stash is not reachable at {self.url}: the TLS handshake failed") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise StashUnreachable(f"Stash is not reachable at {self.url}: {self._reason(exc)}") from None
        except requests.exceptions.RequestException as exc:
            raise TransientError(f"the request to Stash at {self.url} failed ({type(exc).__name__})") from None

    def graphql(self, query: str, variables: Optional[Mapping[str, Any]] = None,
                session: Optional[requests.Session] = None) -> Dict[str, Any]:
        """The `data` of one GraphQL request (its operation name from the query), or a classified error."""
        found = _OPERATION.match(query)
        operation = found.group(1) if found else "query"
        body: Dict[str, Any] = {"query": query}
        if found:
            body["operationName"] = operation
        if variables:
            body["variables"] = dict(variables)
        response = self.request("POST", self.connection.graphql_url, session=session, json=body)
        try:
            return graphql_data(response, operation, self.url, self.connection.graphql_url)
        except GraphQLFailure as exc:
            raise GraphQLFailure(redact(str(exc), self.secrets), exc.messages) from None
        except SyncError as exc:
            raise type(exc)(redact(str(exc), self.secrets)) from None
        finally:
            response.close()

    def _reason(self, exc: Exception) -> str:
        text = str(exc)
        if isinstance(exc, requests.exceptions.Timeout):
            return f"no answer within {self.timeout[1] if isinstance(exc, requests.exceptions.ReadTimeout) else self.timeout[0]:g} s"
        if "refused" in text.lower():
            return "connection refused (is Stash running?)"
        if re.search(r"(?i)name or service not known|nodename nor servname|getaddrinfo|name resolution", text):
            return "the host name does not resolve"
        if re.search(r"(?i)reset|aborted|remote end closed|disconnected", text):
            return "the connection was closed"
        return type(exc).__name__
