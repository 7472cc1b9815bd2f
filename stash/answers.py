"""How Stash's HTTP answers become data or classified errors, in one place (the client's requests
and their connection failures are `stash/client.py`'s):

- HTTP 401/403 or a redirect to the login page          -> TokenRejected naming the API key
- HTTP 502/503/504 (Stash restarting behind a proxy)   -> StashUnreachable (Stash-wide)
- the query itself rejected (older Stash), no GraphQL  -> ConfigurationError
- HTTP 429/500, "database is locked", a cut-off answer  -> TransientError
- any other GraphQL error or HTTP status                -> PermanentError (GraphQLFailure keeps Stash's messages)
"""
from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, TypeVar

import requests

from common.errors import (
    ConfigurationError,
    PermanentError,
    StashUnreachable,
    TokenRejected,
    TransientError,
    stash_status_error,
)

AUTH_HINT = ("the API key or session was refused: run a PlexSync task from Stash once, "
             "or give the API key from Stash Settings → Security")
SCHEMA_CODES = {"GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"}
MISSING_SCENE = re.compile(r"scene with id (\d+) not found")
T = TypeVar("T")
TRANSIENT_TEXT = re.compile(r"(?i)database is locked|busy|timeout|deadline exceeded|connection reset|try again")


class GraphQLFailure(PermanentError):
    """A GraphQL error that is neither transient nor a schema mismatch; keeps Stash's messages."""

    def __init__(self, message: str, messages: str) -> None:
        super().__init__(message)
        self.messages = messages


def without_missing_scenes(scene_ids: List[int], ask: Callable[[List[int]], T]) -> Optional[T]:
    """`ask(scene_ids)`, asked again without the ids Stash names as missing: findScenes(ids:) fails
    the whole request for one deleted scene ("scene with id N not found", SceneStore.FindMany).
    None when every id was missing."""
    chunk = list(scene_ids)
    while chunk:
        try:
            return ask(chunk)
        except GraphQLFailure as exc:
            gone = {int(n) for n in MISSING_SCENE.findall(exc.messages)} & set(chunk)
            if not gone:
                raise
            chunk = [scene_id for scene_id in chunk if scene_id not in gone]
    return None


def graphql_data(response: requests.Response, operation: str, url: str, graphql_url: str) -> Dict[str, Any]:
    """The `data` of a GraphQL answer, or the classified error for it."""
    status = response.status_code
    if status in (401, 403) or 300 <= status < 400:
        raise TokenRejected(f"Stash at {url} refused PlexSync (HTTP {status}): {AUTH_HINT}")
    if status == 404:
        raise ConfigurationError(f"there is no Stash GraphQL API at {graphql_url} (HTTP 404): check the Stash address")
    try:
        document = response.json()
    except ValueError:
        document = None
    errors = document.get("errors") if isinstance(document, dict) else None
    server_error = stash_status_error(status)
    if server_error is StashUnreachable:
        raise StashUnreachable(f"Stash is not reachable at {url}: HTTP {status} to {operation}")
    if errors:
        raise_graphql_errors(errors, operation, status)
    if server_error is not None:
        raise TransientError(f"Stash answered HTTP {status} to {operation}")
    if not isinstance(document, dict):
        raise ConfigurationError(f"{graphql_url} does not answer like Stash's GraphQL API "
                                 f"(HTTP {status}): check the Stash address")
    if status != 200:
        raise PermanentError(f"Stash answered HTTP {status} to {operation}")
    data = document.get("data")
    if not isinstance(data, dict):
        raise TransientError(f"Stash answered {operation} without data")
    return data


def raise_graphql_errors(errors: Any, operation: str, status: int) -> None:
    entries = errors if isinstance(errors, list) else [errors]
    messages = "; ".join(str(e.get("message") if isinstance(e, dict) else e) for e in entries)
    messages = " ".join(messages.split())[:300]
    codes = {str((e.get("extensions") or {}).get("code")) for e in entries if isinstance(e, dict)}
    if codes & SCHEMA_CODES or status == 422:
        raise ConfigurationError(f"Stash rejected PlexSync's {operation} query ({messages}): PlexSync needs Stash v0.27 or newer")
    if TRANSIENT_TEXT.search(messages) or status == 429 or status >= 500:
        raise TransientError(f"Stash failed {operation} for now: {messages}")
    raise GraphQLFailure(f"Stash failed {operation}: {messages}", messages)



def image_bytes(response: requests.Response, shown: str, url: str, max_bytes: int) -> bytes:
    """The body of an image download (at most `max_bytes`), or the classified error for the answer;
    `shown` names the image in messages (redacted), `url` is Stash's address."""
    try:
        status = response.status_code
        if status in (401, 403) or 300 <= status < 400:
            raise TokenRejected(f"Stash at {url} refused an image download (HTTP {status}): {AUTH_HINT}")
        if status == 404:
            raise PermanentError(f"Stash has no image at {shown} (HTTP 404)")
        server_error = stash_status_error(status)
        if server_error is StashUnreachable:
            raise StashUnreachable(f"Stash is not reachable at {url}: HTTP {status} for the image {shown}")
        if server_error is not None:
            raise TransientError(f"Stash answered HTTP {status} for the image {shown}")
        if status != 200:
            raise PermanentError(f"Stash answered HTTP {status} for the image {shown}")
        if response.headers.get("Content-Type", "").startswith("text/html"):
            raise ConfigurationError(f"Stash answered the image {shown} with a web page, not an image: {AUTH_HINT}")
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise PermanentError(f"the image {shown} is larger than {max_bytes // 1048576} MB")
        body = bytearray()
        for chunk in response.iter_content(chunk_size=65536):
            body.extend(chunk)
            if len(body) > max_bytes:
                raise PermanentError(f"the image {shown} is larger than {max_bytes // 1048576} MB")
    except requests.exceptions.RequestException as exc:
        raise TransientError(f"the download of {shown} from Stash broke off ({type(exc).__name__})") from None
    if not body:
        raise PermanentError(f"Stash sent an empty image for {shown}")
    return bytes(body)
