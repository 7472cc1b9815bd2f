"""The only door to Plex: one pooled session, plexapi as the transport, small dataclasses out.

Builds a `requests.Session` with a bounded connection pool, separate connect and read timeouts
and TLS verification from settings, and one persistent `X-Plex-Client-Identifier` per install
(stored in the data directory: each new identifier shows up in Plex as a new device). Every
call goes through plexapi's `PlexServer.query` inside `classified(...)`, so what leaves this
module is either plain data (`Section`, `ListedFile`, `ItemState`) or a classified, redacted
error. Nothing here knows about matching, fields or the job queue.
"""
from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import plexapi
import requests
from plexapi.server import PlexServer
from plexapi.utils import joinArgs
from requests.adapters import HTTPAdapter

from common.datadir import read_json, write_private_json
from common.errors import PermanentError
from common.settings import Settings
from plex.errors import classified
from plex.writer import ItemState

PRODUCT = "PlexSync"
IDENTIFIER_FILE = "plex_client_id.json"
TAG_ELEMENTS = {"Genre": "genre", "Role": "actor", "Director": "director", "Collection": "collection",
                "Label": "label"}  # plexapi media.Label: TAG "Label", FILTER "label"
VALUE_ATTRS = ("title", "summary", "originallyAvailableAt", "studio", "contentRating")
SEARCH_TYPE = {"movie": 1, "show": 4}  # what to list per section type: movies, or the episodes of a show library
IMAGE_ROUTES = {"poster": "posters", "art": "arts"}
PIPELINE_HEADER = "X-Plex-Http-Pipeline"
# GET /library/metadata/{k1,k2,...} (plexapi's fetchItems([keys])): this many keys, this long a path at most.
BATCH_KEYS = 50
BATCH_PATH_MAX = 1_000


@dataclass(frozen=True)
class Section:
    key: int
    title: str
    type: str  # "movie" | "show" (others are listed but never synced)
    locations: Tuple[str, ...] = ()
    agent: str = ""

    @property
    def search_type(self) -> int:
        return SEARCH_TYPE[self.type]


@dataclass(frozen=True)
class ListedFile:
    rating_key: int
    path: str
    size: Optional[int]
    added_at: Optional[int]


@dataclass(frozen=True)
class ListedCollection:
    rating_key: int
    title: str
    child_count: int
    summary: str = ""


@dataclass(frozen=True)
class Page:
    files: List[ListedFile]
    items: int  # items on this page
    total: int  # items in the whole listing


def client_identifier(data_dir: Path) -> str:
    """This install's identifier, created once (uuid4) in a 0600 file in the data directory."""
    path = Path(data_dir) / IDENTIFIER_FILE
    stored = read_json(path, {})
    value = stored.get("client_identifier") if isinstance(stored, dict) else None
    if isinstance(value, str) and value.strip():
        return value.strip()
    value = str(uuid.uuid4())
    write_private_json(path, {"client_identifier": value})
    return value


def set_identity(identifier: str) -> None:
    """plexapi copies BASE_HEADERS into every request: change it in place (rebinding does nothing)."""
    plexapi.BASE_HEADERS["X-Plex-Client-Identifier"] = identifier
    plexapi.BASE_HEADERS["X-Plex-Product"] = PRODUCT
    plexapi.BASE_HEADERS["X-Plex-Device-Name"] = PRODUCT


def make_session(settings: Settings, pool_size: int = 4) -> requests.Session:
    """A pooled session. Plex closes a keep-alive connection idle for 20 s, sometimes under the
    next request (a reset nobody retries); `X-Plex-Http-Pipeline: infinite`, as Plex's own
    clients send, keeps pooled connections open."""
    session = requests.Session()
    session.headers[PIPELINE_HEADER] = "infinite"
    adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.verify = bool(settings.verify_tls)
    return session


def _int(value: Optional[str]) -> Optional[int]:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _float(value: Optional[str]) -> Optional[float]:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def parse_item(root: ET.Element, rating_key: int) -> ItemState:
    """An ItemState from GET /library/metadata/{ratingKey} (full tags and <Field locked>)."""
    video = next((el for el in root if el.get("ratingKey") == str(rating_key)), None)
    if video is None:
        video = next(iter(root), None)
    if video is None:
        raise ET.ParseError(f"no item in the answer for {rating_key}")
    tags: Dict[str, List[str]] = {}
    thumbs: Dict[str, str] = {}
    for child in video:
        tag = TAG_ELEMENTS.get(child.tag)
        if tag and child.get("tag") is not None:
            tags.setdefault(tag, []).append(child.get("tag", ""))
            if tag == "actor" and child.get("thumb"):
                thumbs[child.get("tag", "")] = child.get("thumb", "")
    locked = frozenset(f.get("name", "") for f in video.iter("Field") if f.get("locked") == "1")
    files = tuple(part.get("file", "") for part in video.iter("Part") if part.get("file"))
    section = _int(video.get("librarySectionID")) or _int(root.get("librarySectionID")) or 0
    return ItemState(
        rating_key=int(video.get("ratingKey") or rating_key), section_id=section, type=video.get("type", "movie"),
        values={name: video.get(name, "") for name in VALUE_ATTRS},
        tags={tag: tuple(names) for tag, names in tags.items()}, thumbs=thumbs, locked=locked,
        user_rating=_float(video.get("userRating")), files=files)


def key_batches(rating_keys: List[int]) -> List[List[int]]:
    """Rating keys in groups that each fit one bounded GET /library/metadata/{k1,k2,...}."""
    batches: List[List[int]] = []
    length = BATCH_PATH_MAX
    for key in rating_keys:
        cost = len(str(key)) + 1
        if not batches or len(batches[-1]) >= BATCH_KEYS or length + cost > BATCH_PATH_MAX:
            batches.append([])
            length = len("/library/metadata/")
        batches[-1].append(key)
        length += cost
    return batches


class PlexClient:
    """A connected Plex server. Construct with `PlexClient.connect`; every method may raise classified errors."""

    def __init__(self, server: PlexServer, settings: Settings):
        self._server = server
        self._secrets = settings.secrets
        self.machine_identifier = server.machineIdentifier or ""

    @classmethod
    def connect(cls, settings: Settings, data_dir: Path, session: Optional[requests.Session] = None) -> "PlexClient":
        """Check the settings, set this install's identity, and open the server (one GET /)."""
        settings.require_plex()
        set_identity(client_identifier(data_dir))
        session = session or make_session(settings, pool_size=max(4, settings.plex_concurrency))
        timeout = (float(settings.connect_timeout), float(settings.read_timeout))
        with classified("connecting to Plex", settings.secrets):
            server = PlexServer(settings.plex_url, settings.plex_token, session=session, timeout=timeout)
        return cls(server, settings)

    def query(self, what: str, key: str, method: str = "get", fields: Tuple[str, ...] = (), **kwargs: Any) -> Any:
        """`key`'s XML root (None for an empty answer), or a classified error naming `what`."""
        call = getattr(self._server._session, method)
        with classified(what, self._secrets, fields):
            return self._server.query(key, method=call, **kwargs)

    def notification_target(self) -> Tuple[str, str]:
        """The websocket URL of Plex's notifications, and the token to send as a header (never in the URL)."""
        base = self._server._baseurl.rstrip("/")
        scheme = "wss" if base.startswith("https") else "ws"
        return f"{scheme}{base[base.index(':'):]}/:/websockets/notifications", self._server._token

    def probe(self) -> None:
        self.query("checking Plex", "/")

    def identity(self) -> None:
        """GET /identity: the cheapest request Plex answers (no library, no database)."""
        self.query("probing Plex", "/identity")

    def sections(self) -> List[Section]:
        root = self.query("listing Plex libraries", "/library/sections")
        found = []
        for el in root if root is not None else ():
            if el.tag != "Directory" or _int(el.get("key")) is None:
                continue
            locations = tuple(loc.get("path", "") for loc in el.iter("Location") if loc.get("path"))
            found.append(Section(int(el.get("key", "0")), el.get("title", ""), el.get("type", ""), locations,
                                 el.get("agent", "")))
        return found

    def page(self, section: Section, start: int, size: int, newest_first: bool = False) -> Page:
        """One page of a library's files (movies, or episodes of a show library)."""
        args: Dict[str, Any] = {"type": section.search_type}
        if newest_first:
            args["sort"] = "addedAt:desc"
        headers = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(size)}
        root = self.query(f"listing library {section.title!r}", f"/library/sections/{section.key}/all{joinArgs(args)}",
                          headers=headers)
        files: List[ListedFile] = []
        items = 0
        for video in root if root is not None else ():
            rating_key = _int(video.get("ratingKey"))
            if rating_key is None:
                continue
            items += 1
            added = _int(video.get("addedAt"))
            for part in video.iter("Part"):
                if part.get("file"):
                    files.append(ListedFile(rating_key, part.get("file", ""), _int(part.get("size")), added))
        total = _int(root.get("totalSize")) if root is not None else None
        return Page(files, items, total if total is not None else start + items)

    def listing(self, what: str, path: str, page_size: int) -> Iterator[Any]:
        """Each page (its XML root) of a paged listing, from the start: Plex answers a listing without
        X-Plex-Container-Size 400 (REAL-SERVERS P5). Ends at a short page or at Plex's totalSize."""
        start = 0
        while True:
            headers = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": str(page_size)}
            root = self.query(what, path, headers=headers)
            if root is None:
                return
            yield root
            start += len(root)
            total = _int(root.get("totalSize"))
            if len(root) < page_size or (total is not None and start >= total):
                return

    def collections(self, section_id: int, page_size: int = 1000) -> List[ListedCollection]:
        """Every collection of a library (GET /library/sections/{id}/collections)."""
        return [ListedCollection(int(el.get("ratingKey", "0")), el.get("title", ""), _int(el.get("childCount")) or 0,
                                 el.get("summary", ""))
                for root in self.listing(f"listing the collections of library {section_id}",
                                         f"/library/sections/{section_id}/collections", page_size)
                for el in root if _int(el.get("ratingKey")) is not None]

    def edit_collection_summary(self, section_id: int, rating_key: int, summary: str) -> None:
        """A collection's summary, locked (plexapi's Collection.editSummary: the edit with type=18)."""
        args = {"type": 18, "id": rating_key, "summary.value": summary, "summary.locked": 1}
        self.query(f"editing the summary of Plex collection {rating_key}",
                   f"/library/sections/{section_id}/all{joinArgs(args)}", method="put", fields=("summary",))

    def delete_collection(self, rating_key: int) -> None:
        """Delete a collection object (plexapi's Collection.delete); its items stay."""
        self.query(f"deleting Plex collection {rating_key}", f"/library/collections/{rating_key}", method="delete")

    def item(self, rating_key: int) -> ItemState:
        root = self.query(f"reading Plex item {rating_key}", f"/library/metadata/{rating_key}")
        with classified(f"reading Plex item {rating_key}", self._secrets):
            return parse_item(root, rating_key)

    def items(self, rating_keys: List[int]) -> Dict[int, ItemState]:
        """The full state of several items in one request; keys Plex does not know are left out.

        At most BATCH_KEYS keys and BATCH_PATH_MAX characters: split longer lists with `key_batches`.
        """
        keys = ",".join(str(key) for key in rating_keys)
        what = f"reading {len(rating_keys)} Plex items"
        root = self.query(what, f"/library/metadata/{keys}")
        found: Dict[int, ItemState] = {}
        with classified(what, self._secrets):
            for video in root if root is not None else ():
                key = _int(video.get("ratingKey"))
                if key is not None:
                    found[key] = parse_item(root, key)
        return found

    def edit(self, item: ItemState, params: Dict[str, Any], fields: Tuple[str, ...]) -> None:
        """One PUT carrying every given field of one item (plexapi's LibrarySection._edit request).

        Plex's edit endpoint is a filtered bulk edit: without `id` it edits every item of the
        type in the library, so an edit without a real ratingKey is refused before it is sent."""
        if not isinstance(item.rating_key, int) or item.rating_key <= 0:
            raise PermanentError(f"refused to edit Plex without an item id ({item.rating_key!r}): "
                                 "it would change every item of the library")
        args = dict(params, type=item.type_number, id=item.rating_key)
        self.query(f"editing Plex item {item.rating_key}", f"/library/sections/{item.section_id}/all{joinArgs(args)}",
                   method="put", fields=fields)

    def upload_image(self, rating_key: int, kind: str, data: bytes) -> None:
        """Upload image bytes as the poster or background art (Plex never has to reach Stash)."""
        self.query(f"uploading the {kind} of Plex item {rating_key}",
                   f"/library/metadata/{rating_key}/{IMAGE_ROUTES[kind]}", method="post", data=data)

    def scan(self, section: Section, folder: str) -> None:
        """Ask Plex to scan one folder of a library (plexapi's LibrarySection.update(path=...))."""
        self.query(f"asking library {section.title!r} to scan a folder",
                   f"/library/sections/{section.key}/refresh{joinArgs({'path': folder})}")

    def close(self) -> None:
        self._server._session.close()
