"""The one door to Stash for tasks, the CLI and the drainer (never the hook: it costs 3 requests).

Wraps `stashapi.StashInterface` so the rest of PlexSync sees `common.models.Scene` and the four
error classes, never stashapi objects, dicts of library shape or `requests` exceptions. Every
request goes through `_graphql`/`_request` here: bounded timeouts, no redirects (Stash answers
an expired login with a redirect to its login page), and failures classified once:

- no connection, DNS failure, timeout, TLS failure,
  HTTP 502/503/504 (Stash restarting behind a proxy)   -> StashUnreachable ("not reachable"; Stash-wide)
- HTTP 401/403 or a redirect to the login page          -> TokenRejected naming the API key
- the query itself rejected (older Stash)               -> ConfigurationError
- HTTP 429/500, "database is locked", a cut-off answer  -> TransientError
- any other GraphQL error or HTTP status                -> PermanentError
Messages are one line and pass through `common.redact` with the connection's secrets.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from stashapi.stashapp import StashInterface

from common.datadir import PLUGIN_ID
from common.errors import (
    ConfigurationError,
    PermanentError,
    StashUnreachable,
    SyncError,
    TokenRejected,
    TransientError,
    stash_status_error,
)
from common.log import get_logger
from common.models import Scene
from common.redact import redact
from stash import scenes as gql
from stash.connection import StashConnection, connection_from_server_connection, connection_from_url

MAX_IDS_PER_REQUEST = 250
MAX_PAGE_SIZE = 1000  # some Stash versions cap per_page at 1000 without saying so
MAX_IMAGE_BYTES = 20 * 1024 * 1024
_AUTH_HINT = ("the API key or session was refused: run a PlexSync task from Stash once, "
              "or give the API key from Stash Settings → Security")
_SCHEMA_CODES = {"GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"}
_TRANSIENT_TEXT = re.compile(r"(?i)database is locked|busy|timeout|deadline exceeded|connection reset|try again")
_OPERATION = re.compile(r"^\s*(?:query|mutation)\s+(\w+)")
_MISSING_SCENE = re.compile(r"scene with id (\d+) not found")
log = get_logger("stash")


class _GraphQLFailure(PermanentError):
    """A GraphQL error that is neither transient nor a schema mismatch; keeps Stash's messages."""

    def __init__(self, message: str, messages: str) -> None:
        super().__init__(message)
        self.messages = messages


class _Interface(StashInterface):
    """stashapi with its transport replaced by the client's, so its 3 connect requests are bounded too."""

    def __init__(self, client: "StashClient", conn: Dict[str, Any], verify: bool) -> None:
        self._plexsync = client
        try:
            super().__init__(conn, verify_ssl=verify, force_api_key=True)
        except BaseException:
            session = getattr(self, "s", None)
            if session is not None:
                session.close()
            raise

    def _GQL(self, query: str, variables: Optional[dict] = None) -> Dict[str, Any]:
        if "..." in query:
            query = self._GQLWrapper__resolve_fragments(query)
        return self._plexsync._graphql(query, variables, session=self.s)


class _QuietLog:
    """stashapi's logger: everything at debug, because the client's classified error is what users see."""

    def __init__(self) -> None:
        self._logger = get_logger("stash.stashapi")

    def _say(self, message: Any, *args: Any, **kwargs: Any) -> None:
        self._logger.debug("stashapi: %s", message)

    trace = debug = info = warning = error = _say


class StashClient:
    """A connected Stash: scenes by id, id pages, counts, plugin settings, image downloads."""

    def __init__(self, connection: StashConnection, *, connect_timeout: float = 5.0,
                 read_timeout: float = 30.0, max_image_bytes: int = MAX_IMAGE_BYTES) -> None:
        self.connection = connection
        self.timeout = (float(connect_timeout), float(read_timeout))
        self.max_image_bytes = int(max_image_bytes)
        verify = not (connection.scheme == "https" and connection.is_loopback)
        if not verify:  # a loopback certificate never names 127.0.0.1; the traffic stays on this machine
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        conn: Dict[str, Any] = {"Scheme": connection.scheme, "Host": connection.host, "Port": connection.port,
                                "Logger": _QuietLog()}
        if connection.api_key:
            conn["ApiKey"] = connection.api_key
        elif connection.cookie_value:
            conn["SessionCookie"] = {"Name": connection.cookie_name, "Value": connection.cookie_value}
        self._interface = _Interface(self, conn, verify)
        self._session: requests.Session = self._interface.s
        api_key = self._session.headers.get("ApiKey") or ""
        if api_key and api_key != connection.api_key:
            self.connection = connection.with_api_key(api_key)
            log.debug("Stash has a login: using its API key from now on")

    @classmethod
    def from_server_connection(cls, server_connection: Mapping[str, Any], **options: Any) -> "StashClient":
        """Connect with what Stash put on the plugin's stdin."""
        return cls(connection_from_server_connection(server_connection), **options)

    @classmethod
    def from_url(cls, url: str, api_key: str = "", **options: Any) -> "StashClient":
        """Connect to a URL like http://localhost:9999 with an optional API key (the CLI)."""
        return cls(connection_from_url(url, api_key), **options)

    @property
    def url(self) -> str:
        return self.connection.base_url

    @property
    def secrets(self) -> Tuple[str, ...]:
        return tuple(dict.fromkeys(self.connection.secrets + self._initial_secrets()))

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "StashClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- queries -----------------------------------------------------------------------------

    def version(self) -> str:
        """Stash's version string, asked live (a cheap reachability check)."""
        data = self._graphql(gql.VERSION)
        version = data.get("version") or {}
        return str(version.get("version") or version.get("hash") or "unknown")

    def plugin_settings(self, plugin_id: str = PLUGIN_ID) -> Dict[str, Any]:
        """The plugin's settings as Stash stores them; settings never set are simply missing."""
        data = self._graphql(gql.PLUGIN_SETTINGS, {"include": [plugin_id]})
        plugins = (data.get("configuration") or {}).get("plugins") or {}
        values = plugins.get(plugin_id) if isinstance(plugins, Mapping) else None
        return dict(values) if isinstance(values, Mapping) else {}

    def find_scenes_by_ids(self, ids: Sequence[int]) -> Dict[int, Scene]:
        """Scenes by id, one request per MAX_IDS_PER_REQUEST ids; an id missing from the result was deleted.

        Stash fails `findScenes(ids:)` as a whole when one id does not exist ("scene with id N
        not found", SceneStore.FindMany), so each deleted id costs one more request for its batch.
        """
        wanted = list(dict.fromkeys(int(scene_id) for scene_id in ids))
        found: Dict[int, Scene] = {}
        for start in range(0, len(wanted), MAX_IDS_PER_REQUEST):
            chunk = wanted[start:start + MAX_IDS_PER_REQUEST]
            while chunk:
                try:
                    found.update(self._scenes_batch(chunk))
                    break
                except _GraphQLFailure as exc:
                    gone = {int(n) for n in _MISSING_SCENE.findall(exc.messages)} & set(chunk)
                    if not gone:
                        raise
                    chunk = [scene_id for scene_id in chunk if scene_id not in gone]
        return found

    def _scenes_batch(self, chunk: List[int]) -> Dict[int, Scene]:
        page = {"page": 1, "per_page": len(chunk), "sort": "id", "direction": "ASC"}
        data = self._graphql(gql.FIND_SCENES_BY_IDS, {"ids": [str(i) for i in chunk], "filter": page})
        members, result = set(chunk), {}
        for raw in _find_scenes(data, "PlexSyncFindScenes").get("scenes") or ():
            scene = gql.scene_from_graphql(raw)
            if scene.id in members:
                result[scene.id] = scene
        return result

    def iter_scene_id_pages(self, updated_since: Optional[str] = None, page_size: int = 500) -> Iterator[List[int]]:
        """Every scene id (or those updated after `updated_since`), ascending, `page_size` at a time.

        Pages by id (`id > last seen`), not by page number, so scenes added or deleted while a
        long sync runs neither shift pages nor get skipped. per_page is always bounded.
        """
        size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        after: Optional[int] = None
        while True:
            ids, remaining = self._scene_id_page(gql.scene_filter(updated_since, after), size)
            if not ids:
                return
            yield ids
            last = max(ids)
            if len(ids) >= remaining or (after is not None and last <= after):
                return
            after = last

    def scene_ids_with(self, kind: Optional[str], entity_id: int, after_id: int, limit: int) -> List[int]:
        """The ids above `after_id` of the scenes carrying tag (performer, studio, group) `entity_id`,
        ascending, at most `limit`; `kind` None: of every scene."""
        size = max(1, min(int(limit), MAX_PAGE_SIZE))
        scene_filter = gql.scene_filter(after_id=int(after_id))
        if kind is not None:
            try:
                scene_filter.update(gql.entity_criterion(kind, entity_id))
            except KeyError:
                raise PermanentError(f"PlexSync cannot look up scenes by {kind!r}") from None
        return sorted(self._scene_id_page(scene_filter, size)[0])

    def _scene_id_page(self, scene_filter: Dict[str, Any], size: int) -> Tuple[List[int], int]:
        """The first `size` scene ids matching `scene_filter` in id order, and how many match."""
        variables = {"scene_filter": scene_filter,
                     "filter": {"page": 1, "per_page": size, "sort": "id", "direction": "ASC"}}
        result = _find_scenes(self._graphql(gql.FIND_SCENE_IDS, variables), "PlexSyncSceneIds")
        try:
            return [int(raw["id"]) for raw in result.get("scenes") or ()], int(result.get("count") or 0)
        except (KeyError, TypeError, ValueError):
            raise PermanentError("Stash answered PlexSyncSceneIds with a malformed page") from None

    def count_scenes(self, updated_since: Optional[str] = None) -> int:
        """How many scenes there are (updated after `updated_since`, when given)."""
        variables = {"scene_filter": gql.scene_filter(updated_since),
                     "filter": {"page": 1, "per_page": 1}}
        result = _find_scenes(self._graphql(gql.COUNT_SCENES, variables), "PlexSyncCountScenes")
        try:
            return int(result["count"])
        except (KeyError, TypeError, ValueError):
            raise PermanentError("Stash answered PlexSyncCountScenes without a count") from None

    def fetch_image(self, url: str) -> bytes:
        """Download an image Stash serves (paths.screenshot, performer image_path) with our login.

        Always fetched from the connection's own address, so the credential never goes to
        another host; bounded to `max_image_bytes`.
        """
        target = self._local_url(url)
        shown = redact(urlsplit(target).path, self.secrets)
        response = self._request("GET", target, stream=True)
        try:
            status = response.status_code
            if status in (401, 403) or 300 <= status < 400:
                raise TokenRejected(f"Stash at {self.url} refused an image download (HTTP {status}): {_AUTH_HINT}")
            if status == 404:
                raise PermanentError(f"Stash has no image at {shown} (HTTP 404)")
            server_error = stash_status_error(status)
            if server_error is StashUnreachable:
                raise StashUnreachable(f"Stash is not reachable at {self.url}: HTTP {status} for the image {shown}")
            if server_error is not None:
                raise TransientError(f"Stash answered HTTP {status} for the image {shown}")
            if status != 200:
                raise PermanentError(f"Stash answered HTTP {status} for the image {shown}")
            if response.headers.get("Content-Type", "").startswith("text/html"):
                raise ConfigurationError(f"Stash answered the image {shown} with a web page, not an image: {_AUTH_HINT}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > self.max_image_bytes:
                raise PermanentError(f"the image {shown} is larger than {self.max_image_bytes // 1048576} MB")
            body = bytearray()
            for chunk in response.iter_content(chunk_size=65536):
                body.extend(chunk)
                if len(body) > self.max_image_bytes:
                    raise PermanentError(f"the image {shown} is larger than {self.max_image_bytes // 1048576} MB")
        except requests.exceptions.RequestException as exc:
            raise TransientError(f"the download of {shown} from Stash broke off ({type(exc).__name__})") from None
        finally:
            response.close()
        if not body:
            raise PermanentError(f"Stash sent an empty image for {shown}")
        return bytes(body)

    # --- transport ---------------------------------------------------------------------------

    def _initial_secrets(self) -> Tuple[str, ...]:
        session = getattr(self, "_session", None)
        if session is None:
            return ()
        values = [session.headers.get("ApiKey") or ""] + [cookie.value or "" for cookie in session.cookies]
        return tuple(value for value in values if value)

    def _local_url(self, url: str) -> str:
        parts = urlsplit(url or "")
        if parts.scheme and parts.scheme not in ("http", "https"):
            raise PermanentError(f"not an http(s) image URL: {redact(url[:80], self.secrets)!r}")
        base = urlsplit(self.connection.base_url)
        return urlunsplit((base.scheme, base.netloc, parts.path or "/", parts.query, ""))

    def _request(self, method: str, url: str, session: Optional[requests.Session] = None,
                 **options: Any) -> requests.Response:
        session = session or self._session
        try:
            return session.request(method, url, timeout=self.timeout, allow_redirects=False, **options)
        except requests.exceptions.SSLError:
            raise StashUnreachable(f"Stash is not reachable at {self.url}: the TLS handshake failed") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise StashUnreachable(f"Stash is not reachable at {self.url}: {self._reason(exc)}") from None
        except requests.exceptions.RequestException as exc:
            raise TransientError(f"the request to Stash at {self.url} failed ({type(exc).__name__})") from None

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

    def _graphql(self, query: str, variables: Optional[Mapping[str, Any]] = None,
                 session: Optional[requests.Session] = None) -> Dict[str, Any]:
        found = _OPERATION.match(query)
        operation = found.group(1) if found else "query"
        body: Dict[str, Any] = {"query": query}
        if found:
            body["operationName"] = operation
        if variables:
            body["variables"] = dict(variables)
        response = self._request("POST", self.connection.graphql_url, session=session, json=body)
        try:
            return self._data(response, operation)
        except _GraphQLFailure as exc:
            raise _GraphQLFailure(redact(str(exc), self.secrets), exc.messages) from None
        except SyncError as exc:
            raise type(exc)(redact(str(exc), self.secrets)) from None
        finally:
            response.close()

    def _data(self, response: requests.Response, operation: str) -> Dict[str, Any]:
        status = response.status_code
        if status in (401, 403) or 300 <= status < 400:
            raise TokenRejected(f"Stash at {self.url} refused PlexSync (HTTP {status}): {_AUTH_HINT}")
        if status == 404:
            raise ConfigurationError(f"there is no Stash GraphQL API at {self.connection.graphql_url} (HTTP 404): check the Stash address")
        try:
            document = response.json()
        except ValueError:
            document = None
        errors = document.get("errors") if isinstance(document, dict) else None
        server_error = stash_status_error(status)
        if server_error is StashUnreachable:
            raise StashUnreachable(f"Stash is not reachable at {self.url}: HTTP {status} to {operation}")
        if errors:
            _raise_graphql_errors(errors, operation, status)
        if server_error is not None:
            raise TransientError(f"Stash answered HTTP {status} to {operation}")
        if not isinstance(document, dict):
            raise ConfigurationError(f"{self.connection.graphql_url} does not answer like Stash's GraphQL API "
                                     f"(HTTP {status}): check the Stash address")
        if status != 200:
            raise PermanentError(f"Stash answered HTTP {status} to {operation}")
        data = document.get("data")
        if not isinstance(data, dict):
            raise TransientError(f"Stash answered {operation} without data")
        return data


def _raise_graphql_errors(errors: Any, operation: str, status: int) -> None:
    entries = errors if isinstance(errors, list) else [errors]
    messages = "; ".join(str(e.get("message") if isinstance(e, dict) else e) for e in entries)
    messages = " ".join(messages.split())[:300]
    codes = {str((e.get("extensions") or {}).get("code")) for e in entries if isinstance(e, dict)}
    if codes & _SCHEMA_CODES or status == 422:
        raise ConfigurationError(f"Stash rejected PlexSync's {operation} query ({messages}): PlexSync needs Stash v0.27 or newer")
    if _TRANSIENT_TEXT.search(messages) or status == 429 or status >= 500:
        raise TransientError(f"Stash failed {operation} for now: {messages}")
    raise _GraphQLFailure(f"Stash failed {operation}: {messages}", messages)


def _find_scenes(data: Mapping[str, Any], operation: str) -> Mapping[str, Any]:
    result = data.get("findScenes")
    if not isinstance(result, Mapping):
        raise PermanentError(f"Stash answered {operation} without findScenes")
    return result
