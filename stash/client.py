"""The one door to Stash for tasks, the CLI and the drainer (never the hook: it costs 3 requests).

Wraps `stashapi.StashInterface` so the rest of PlexSync sees `common.models.Scene` and the
classified errors, never stashapi objects, dicts of library shape or `requests` exceptions. Every
request goes through `_graphql`/`_request` here: bounded timeouts, no redirects (Stash answers
an expired login with a redirect to its login page), and failures classified once (the answers
in `stash/answers.py`, connection failures here):

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
from urllib.parse import urlsplit

import requests
import urllib3
from stashapi.stashapp import StashInterface

from common.datadir import PLUGIN_ID
from common.errors import (
    PermanentError,
)
from common.log import get_logger
from common.models import MAX_IMAGE_BYTES, Scene
from common.redact import redact
from stash import scenes as gql
from stash.answers import image_bytes, without_missing_scenes
from stash.connection import StashConnection
from stash.transport import StashTransport

MAX_IDS_PER_REQUEST = 250
MAX_PAGE_SIZE = 1000  # some Stash versions cap per_page at 1000 without saying so
_OPERATION = re.compile(r"^\s*(?:query|mutation)\s+(\w+)")
log = get_logger("stash")


class _Interface(StashInterface):
    """stashapi with its transport replaced by the client's, so its 3 connect requests are bounded too."""

    def __init__(self, transport: StashTransport, conn: Dict[str, Any], verify: bool) -> None:
        self._plexsync = transport
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
        return self._plexsync.graphql(query, variables, session=self.s)


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
        self._transport = StashTransport(connection, self.timeout)
        self.transport = self._transport  # bounded and classifying: stash.plays sends its own documents through it
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
        self._interface = _Interface(self._transport, conn, verify)
        self._session: requests.Session = self._interface.s
        self._transport.session = self._session
        api_key = self._session.headers.get("ApiKey") or ""
        if api_key and api_key != connection.api_key:
            self.connection = self._transport.connection = connection.with_api_key(api_key)
            log.debug("Stash has a login: using its API key from now on")

    @property
    def url(self) -> str:
        return self.connection.base_url

    @property
    def secrets(self) -> Tuple[str, ...]:
        return self._transport.secrets

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "StashClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- queries -----------------------------------------------------------------------------

    def version(self) -> str:
        """Stash's version string, asked live (a cheap reachability check)."""
        data = self._transport.graphql(gql.VERSION)
        version = data.get("version") or {}
        return str(version.get("version") or version.get("hash") or "unknown")

    def plugin_settings(self, plugin_id: str = PLUGIN_ID) -> Dict[str, Any]:
        """The plugin's settings as Stash stores them; settings never set are simply missing."""
        data = self._transport.graphql(gql.PLUGIN_SETTINGS, {"include": [plugin_id]})
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
            found.update(without_missing_scenes(wanted[start:start + MAX_IDS_PER_REQUEST], self._scenes_batch) or {})
        return found

    def _scenes_batch(self, chunk: List[int]) -> Dict[int, Scene]:
        page = {"page": 1, "per_page": len(chunk), "sort": "id", "direction": "ASC"}
        data = self._transport.graphql(gql.FIND_SCENES_BY_IDS, {"ids": [str(i) for i in chunk], "filter": page})
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
        result = _find_scenes(self._transport.graphql(gql.FIND_SCENE_IDS, variables), "PlexSyncSceneIds")
        try:
            return [int(raw["id"]) for raw in result.get("scenes") or ()], int(result.get("count") or 0)
        except (KeyError, TypeError, ValueError):
            raise PermanentError("Stash answered PlexSyncSceneIds with a malformed page") from None

    def count_scenes(self, updated_since: Optional[str] = None) -> int:
        """How many scenes there are (updated after `updated_since`, when given)."""
        variables = {"scene_filter": gql.scene_filter(updated_since),
                     "filter": {"page": 1, "per_page": 1}}
        result = _find_scenes(self._transport.graphql(gql.COUNT_SCENES, variables), "PlexSyncCountScenes")
        try:
            return int(result["count"])
        except (KeyError, TypeError, ValueError):
            raise PermanentError("Stash answered PlexSyncCountScenes without a count") from None

    def fetch_image(self, url: str) -> bytes:
        """Download an image Stash serves (paths.screenshot, performer image_path) with our login.

        Always fetched from the connection's own address, so the credential never goes to
        another host; bounded to `max_image_bytes`.
        """
        target = self._transport.local_url(url)
        shown = redact(urlsplit(target).path, self.secrets)
        response = self._transport.request("GET", target, stream=True)
        try:
            return image_bytes(response, shown, self.url, self.max_image_bytes)
        finally:
            response.close()


def _find_scenes(data: Mapping[str, Any], operation: str) -> Mapping[str, Any]:
    result = data.get("findScenes")
    if not isinstance(result, Mapping):
        raise PermanentError(f"Stash answered {operation} without findScenes")
    return result
