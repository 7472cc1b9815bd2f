"""A stateful fake Plex Media Server for PlexSync's tests, spoken to by real plexapi over HTTP.

It answers the requests plexapi 4.18 makes for PlexSync's work (server root, sections, paged
listings, metadata, edits, ratings, image uploads, partial scans) in the XML shape of a real
server, refuses what Plex refuses (401 without the token, 400 for malformed edits, 404 for
unknown items), and inherits latency/fault injection and request counts from FakeHTTPServer.

Test-side API (beyond devkit/fakes/base.py):
    plex = FakePlexServer(token="fake-plex-token"); url = plex.start()
    plex.add_section(1, "Videos", "movie", ["/data/videos"])
    rk = plex.add_movie(1, ["/data/videos/a.mp4"], "A", genres=["x"], actors=[("Ann", "http://t")])
    rk = plex.add_episode(2, ["/tv/s/e1.mp4"], "E1", show_title="S", season=1, episode=1)
    plex.add_pending_file(1, "/data/videos/new.mp4", "New")   # appears after a refresh?path= covering it
    plex.item(rk) -> dict;  plex.find_by_file(path) -> ratingKey | None
    plex.remove_item(rk) -> [ratingKeys removed]   # as if deleted in Plex: 404 afterwards, gone from
        # listings; a show or season goes with everything under it, and a season or show left
        # without episodes goes too. Other processes: POST /__fake__/remove_item {"rating_key": rk}
    plex.refreshes -> [(section_key, path | None)];  plex.item_refreshes -> [ratingKey]
    uploads over 10 MiB are answered 500, as real Plex answers uploads over about 10 MB
    plex.tag_edit_mode = "replace" | "add"    # what indexed tags do to an item's existing tags on a
        # single-item edit (replace, as Plex does: plexapi's editTags resends the current tags)
    plex.bulk_edits -> int                     # edits sent without `id`: they edited EVERY item of the
        # type in the section, as the real filtered bulk edit does; tests treat any as damage
        # (also in counts() as BULK_EDIT, so other processes see it)
    plex.refuse_episode_actors = False         # answer 400 to an episode edit carrying actor[...]
    plex.max_page_size = 1000                  # listings asking for more get 400; listings of items or
        # collections without X-Plex-Container-Size get 400, as current Plex answers them
    plex.idle_timeout = 20.0                   # idle keep-alive connections are closed by the server,
        # unless a request on it sent `X-Plex-Http-Pipeline: infinite` (as real Plex)
    plex.max_request_line = 8192               # longer request lines get 414, as nginx (the usual proxy
        # in front of Plex) answers by default; None: no limit
    plex.maintenance(seconds)                  # for `seconds` every path, /identity too, answers 503 with
        # Plex's "Maintenance" body (database migrations after an update); counted under "maintenance".
        # Other processes: POST /__fake__/maintenance {"seconds": s}
Collections are objects, as in Plex: `collection[0].tag.tag=X` on an item creates (or joins) the
section's collection X, listed by GET /library/sections/{id}/collections (and /all?type=18) with
its childCount, its items at /library/collections/{ratingKey}/children; the last member leaving
leaves it empty on the shelf, as Plex does (DELETE /library/collections/{ratingKey}, plexapi's
Collection.delete, deletes it). Listings carry up to 2 collection tags per item, as a real listing does.
    plex.scan_delay = 0.0                      # seconds before a refresh's pending files appear
    plex.refresh_resets_unlocked = False       # PUT .../refresh drops unlocked edits, as an agent would
Listings (GET /library/sections/{id}/all?type=N, paged by X-Plex-Container-Start/Size as
header or query) honour sort= (addedAt, updatedAt, titleSort, title, originallyAvailableAt,
year, rating, userRating, duration, lastViewedAt, id, index... each with :desc, optionally
"episode."/"show."-prefixed, comma-separated for ties; an unknown one is a 400), simple
filters (addedAt>>=<unix | YYYY-MM-DD | -30d>, addedAt<<=..., year=2001,2002, viewCount!=0...)
and includeMeta=1 (the <Meta> plexapi reads before a search with sort= or filters).
Field keyword arguments use Plex's names (summary, studio, originallyAvailableAt, contentRating,
tagline, year, titleSort, userRating...), tags their plural names (genres, actors, directors,
writers, producers, countries, collections, labels), and locked=set_of_field_names.
"""
from __future__ import annotations

import hashlib
import threading
import time
from typing import Any, Optional, Union

from devkit.fakes import plex_plays, plex_xml
from devkit.fakes.base import FakeHTTPServer, HTTPError, Request, Response
from devkit.fakes.plex_model import (
    COLLECTION_TYPE,
    KIND_FIELDS,
    SEARCH_TYPES,
    SECTION_TYPES,
    TAG_PLURALS,
    EditError,
    Item,
    Library,
    parse_edit,
    tag_name,
)

UNAUTHORIZED = b"<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1></body></html>"
BAD_REQUEST = b"<html><head><title>Bad Request</title></head><body><h1>400 Bad Request</h1></body></html>"
UPLOAD_LIMIT = 10 * 1024 * 1024  # real Plex answers 500 to image uploads over about 10 MB
IDLE_TIMEOUT = 20.0  # seconds an idle keep-alive connection stays open, about what a real server allows
MAINTENANCE_BODY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Response code="503" title="Maintenance" '
                    b'status="Plex Media Server is currently running database migrations."/>\n')
TOO_LONG = b"<html><head><title>414 Request-URI Too Large</title></head><body><center><h1>414 Request-URI Too Large" \
           b"</h1></center><hr><center>nginx</center></body></html>"
REQUEST_LINE_MAX = 8192  # nginx: large_client_header_buffers 4 8k
PIPELINE_HEADER = "X-Plex-Http-Pipeline"
BULK_EDIT = "PUT /library/sections/{id}/all without id"  # the count of edits that hit every item
IMAGE_KINDS = {"posters": "posters", "arts": "arts", "poster": "posters", "art": "arts"}


def _bad_request(detail: str = "") -> HTTPError:
    return HTTPError(400, BAD_REQUEST.replace(b"</h1>", f"</h1>{detail}".encode()))


class FakePlexServer(FakeHTTPServer):
    def __init__(self, token: str = "fake-plex-token", machine_identifier: str = "fakeplex0001",
                 friendly_name: str = "Fake Plex"):
        super().__init__()
        self.token, self.machine_identifier, self.friendly_name = token, machine_identifier, friendly_name
        self.library = Library()
        self.refreshes: list[tuple[int, Optional[str]]] = []
        self.item_refreshes: list[int] = []
        self.scan_delay = 0.0
        self.refresh_resets_unlocked = False
        self.write_overlaps = 0  # writes that began while another write to the same item was in flight
        self.most_in_flight = 0  # most requests answered at the same time
        self._in_flight = 0
        self._writing: dict[int, int] = {}
        self.refuse_episode_actors = False
        self.idle_timeout = IDLE_TIMEOUT
        self.max_page_size = 1000
        self.max_request_line: Optional[int] = REQUEST_LINE_MAX
        self._maintenance_until = 0.0
        self._routes_setup()
        self.add_control("remove_item", lambda payload: self.remove_item(int(payload["rating_key"])))
        self.plays = plex_plays.attach(self)  # accounts, play state, history, sessions, notifications
        self.add_control("maintenance", lambda payload: self.maintenance(float(payload["seconds"])))

    def maintenance(self, seconds: float) -> None:
        """Answer 503 Maintenance on every path for `seconds` from now (see the module docstring)."""
        with self._lock:
            self._maintenance_until = time.monotonic() + max(0.0, seconds)

    @property
    def in_maintenance(self) -> bool:
        with self._lock:
            return time.monotonic() < self._maintenance_until

    @property
    def bulk_edits(self) -> int:
        return self.count(BULK_EDIT)

    @property
    def tag_edit_mode(self) -> str:
        return self.library.tag_edit_mode

    @tag_edit_mode.setter
    def tag_edit_mode(self, mode: str) -> None:
        if mode not in ("add", "replace"):
            raise ValueError(mode)
        self.library.tag_edit_mode = mode

    # -- test-side API ---------------------------------------------------------------------
    def add_section(self, key: int, title: str, type: str, locations: list[str],
                    agent: Optional[str] = None) -> None:
        self.library.add_section(key, title, type, locations, agent)

    def add_movie(self, section_key: int, files: list[str], title: str, size: Optional[int] = None,
                  added_at: Optional[int] = None, **fields: Any) -> int:
        return self.library.add_movie(section_key, files, title, size, added_at, fields)

    def add_episode(self, section_key: int, files: list[str], title: str, show_title: str, season: int,
                    episode: int, size: Optional[int] = None, added_at: Optional[int] = None,
                    **fields: Any) -> int:
        return self.library.add_episode(section_key, files, title, show_title, season, episode, size,
                                        added_at, fields)

    def add_pending_file(self, section_key: int, file: str, title: str, size: Optional[int] = None,
                         **fields: Any) -> None:
        """A file on disk Plex has not scanned yet. In a show section pass show_title, season, episode."""
        with self.library.lock:
            if section_key not in self.library.sections or file in self.library.by_file:
                raise ValueError(f"unknown section {section_key} or known file {file}")
            self.library.pending.append((section_key, file, dict(fields, title=title, size=size)))

    def item(self, rating_key: int) -> dict:
        with self.library.lock:
            return _describe(self.library, self.library.items[rating_key])

    def remove_item(self, rating_key: int) -> list[int]:
        """Delete an item as Plex would (see the module docstring); KeyError if there is none."""
        with self.library.lock:
            return self.library.remove(rating_key)

    def collections(self, section_key: int) -> dict:
        """{title: {"ratingKey", "members" (ratingKeys), "summary", "poster" (sha256 of the upload or None)}}."""
        with self.library.lock:
            return {c.title: {"ratingKey": c.rating_key, "members": sorted(c.members), "summary": c.summary,
                              "poster": c.poster} for c in self.library.section_collections(section_key)}

    def find_by_file(self, path: str) -> Optional[int]:
        with self.library.lock:
            return self.library.by_file.get(path)

    def scan(self, section_key: int, path: Optional[str] = None) -> list[int]:
        """Turn the pending files under `path` (all when None) into items, as a finished scan does."""
        added = []
        with self.library.lock:
            for _, file, fields in self.library.covered_pending(section_key, path):
                fields = dict(fields)
                title, size = fields.pop("title"), fields.pop("size")
                if self.library.sections[section_key].type == "movie":
                    added.append(self.add_movie(section_key, [file], title, size, **fields))
                else:
                    added.append(self.add_episode(section_key, [file], title, size=size, **fields))
        return added

    # -- HTTP ------------------------------------------------------------------------------
    def authenticate(self, req: Request) -> Optional[Response]:
        if self.max_request_line is not None and len(f"{req.method} {req.target} HTTP/1.1") > self.max_request_line:
            return Response(414, TOO_LONG, "text/html")
        if self.in_maintenance:
            self.bump("maintenance")
            return Response(503, MAINTENANCE_BODY)
        if req.path == "/identity" or req.arg("X-Plex-Token") == self.token:
            return None
        return Response(401, UNAUTHORIZED, "text/html")

    def keeps_idle_connection(self, headers: Any) -> bool:
        return (headers.get(PIPELINE_HEADER) or "").lower() == "infinite"

    def _routes_setup(self) -> None:
        routes = [
            ("GET", "/", self._root),
            ("GET", "/identity", self._identity),
            ("GET", "/library", self._library),
            ("GET", "/library/sections", self._sections),
            ("GET", "/library/sections/{id}/all", self._all),
            ("GET", "/library/sections/{id}/collections", self._collections),
            ("GET", "/library/collections/{id}/children", self._collection_children),
            ("PUT", "/library/sections/{id}/all", self._edit),
            ("GET", "/library/sections/{id}/refresh", self._refresh_section),
            ("GET", "/library/metadata/{ids}", self._metadata),
            ("GET", "/library/metadata/{id}/children", self._children),
            ("DELETE", "/library/metadata/{id}", self._delete),
            ("DELETE", "/library/collections/{id}", self._delete),
            ("PUT", "/library/metadata/{id}/refresh", self._refresh_item),
            ("PUT", "/:/rate", self._rate),
        ]
        for kind in ("poster", "art"):
            routes += [("POST", f"/library/metadata/{{id}}/{kind}s", self._upload),
                       ("GET", f"/library/metadata/{{id}}/{kind}s", self._images),
                       ("PUT", f"/library/metadata/{{id}}/{kind}", self._select)]
        for method, pattern, handler in routes:
            self.route(method, pattern, handler)

    # -- concurrency bookkeeping: what a test asks "did two writes to one item overlap?" --------
    @staticmethod
    def _written_item(req: Request) -> Optional[int]:
        """The ratingKey a write request changes (edit PUT, rating, image upload or select), else None."""
        path = req.path
        if req.method == "PUT" and path.startswith("/library/sections/") and path.endswith("/all"):
            return _key(req.arg("id"))
        if req.method == "PUT" and path == "/:/rate":
            return _key(req.arg("key"))
        if req.method in ("POST", "PUT") and path.startswith("/library/metadata/"):
            parts = path.split("/")
            if len(parts) == 5 and parts[4] in ("posters", "arts", "poster", "art"):
                return _key(parts[3])
        return None

    def reset_counts(self) -> None:
        super().reset_counts()
        with self._lock:
            self.write_overlaps = self.most_in_flight = 0

    def _handle(self, req: Request) -> Optional[Response]:
        item = self._written_item(req)
        with self._lock:
            self._in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self._in_flight)
            if item is not None:
                self.write_overlaps += 1 if self._writing.get(item) else 0
                self._writing[item] = self._writing.get(item, 0) + 1
        try:
            return super()._handle(req)
        finally:
            with self._lock:
                self._in_flight -= 1
                if item is not None:
                    self._writing[item] -= 1

    @staticmethod
    def _xml(root: Any) -> Response:
        return Response(200, plex_xml.to_bytes(root))

    def _root(self, req: Request) -> Response:
        return self._xml(plex_xml.server_root(self.friendly_name, self.machine_identifier, 1700000000))

    def _identity(self, req: Request) -> Response:
        return self._xml(plex_xml.container([], claimed=1, machineIdentifier=self.machine_identifier,
                                            version=plex_xml.VERSION))

    def _library(self, req: Request) -> Response:
        return self._xml(plex_xml.library_root())

    def _sections(self, req: Request) -> Response:
        with self.library.lock:
            return self._xml(plex_xml.sections(sorted(self.library.sections.values(), key=lambda s: s.key)))

    def _section(self, req: Request) -> Any:
        section = self.library.sections.get(_int(req.params["id"]))
        if section is None:
            raise HTTPError(404)
        return section

    def _search_type(self, req: Request, section: Any, required: bool) -> int:
        raw = req.arg("type")
        if raw is None and not required:
            return SECTION_TYPES[section.type][0]
        search_type = _int(raw)
        if search_type not in SECTION_TYPES[section.type]:
            raise _bad_request(f"type {raw} does not fit a {section.type} section")
        return search_type

    def _page_window(self, req: Request) -> tuple[int, Optional[int]]:
        start = max(0, _int(req.arg("X-Plex-Container-Start") or "0"))
        size = req.arg("X-Plex-Container-Size")
        if size is None:  # PMS 1.28 warned "This will fail with status code 400 in the future"; it does now
            raise _bad_request("Missing X-Plex-Container-Size header.")
        if _int(size) > self.max_page_size:
            raise _bad_request(f"X-Plex-Container-Size {size} is over {self.max_page_size}")
        return start, None if size is None else _int(size)

    def _all(self, req: Request) -> Response:
        if req.arg("type") == str(COLLECTION_TYPE):
            return self._collections(req)
        start, _ = self._page_window(req)
        size = req.arg("X-Plex-Container-Size")
        with self.library.lock:
            section = self._section(req)
            search_type = self._search_type(req, section, required=False)
            try:
                keys, total = self.library.listing(section, search_type, req.arg("sort"), req.query, start,
                                                   None if size is None else _int(size))
            except EditError as err:
                raise _bad_request(str(err)) from None
            return self._xml(plex_xml.listing(self.library, section, search_type, keys, start, total,
                                              with_meta=req.arg("includeMeta") == "1"))

    def _collections(self, req: Request) -> Response:
        start, size = self._page_window(req)
        with self.library.lock:
            section = self._section(req)
            found = self.library.section_collections(section.key)
            window = found[start:] if size is None else found[start:start + max(0, size)]
            return self._xml(plex_xml.collections(section, req.arg("includeMeta") == "1", window, start,
                                                  len(found)))

    def _collection_children(self, req: Request) -> Response:
        self._page_window(req)
        with self.library.lock:
            collection = self.library.collection(_int(req.params["id"]))
            if collection is None:
                raise HTTPError(404)
            items = sorted((self.library.items[k] for k in collection.members), key=lambda i: i.sort_key)
            return self._xml(plex_xml.metadata(self.library, items) if items else plex_xml.container([]))

    def _metadata(self, req: Request) -> Response:
        keys = [_int(part) for part in req.params["ids"].split(",") if part]
        with self.library.lock:
            items = [self.library.items[key] for key in keys if key in self.library.items]
            if not items:
                raise HTTPError(404)
            return self._xml(plex_xml.metadata(self.library, items))

    def _delete(self, req: Request) -> Response:
        """Delete a collection (what Plex's "Delete" on a collection sends); items are not deleted here."""
        with self.library.lock:
            collection = self.library.collection(_int(req.params["id"]))
            if collection is None:
                raise HTTPError(404)
            self.library.delete_collection(collection)
        return Response(200, b"")

    def _children(self, req: Request) -> Response:
        self._page_window(req)
        with self.library.lock:
            parent = self._known_item(req.params["id"])
            children = [self.library.items[key] for key in parent.children or ()]
            children.sort(key=lambda child: child.index or 0)
            if not children:
                return self._xml(plex_xml.container([]))
            return self._xml(plex_xml.metadata(self.library, children))

    def _known_item(self, raw_key: str) -> Item:
        item = self.library.items.get(_int(raw_key))
        if item is None:
            raise HTTPError(404)
        return item

    def _edit_collection(self, req: Request) -> Response:
        """PUT /library/sections/{id}/all?type=18&id=K: a collection's summary (plexapi's
        Collection.editSummary); titles and other fields of collections are not modelled."""
        with self.library.lock:
            section = self._section(req)
            collection = self.library.collection(_int(req.arg("id") or ""))
            if collection is None or collection.section_key != section.key:
                raise HTTPError(404)
            for key, value in req.query:
                if key == "summary.value":
                    collection.summary = value
                elif key.endswith(".locked") and key.split(".")[0] in ("summary", "thumb"):
                    collection.locked = collection.locked | {key.split(".")[0]} if value == "1" else \
                        collection.locked - {key.split(".")[0]}
                elif key not in ("type", "id") and not key.startswith("X-Plex-"):
                    raise _bad_request(f"unsupported collection edit parameter {key}")
            collection.updated_at = max(int(time.time()), collection.updated_at + 1)
        return Response(200, b"")

    def _edit(self, req: Request) -> Response:
        if req.arg("type") == str(COLLECTION_TYPE):
            return self._edit_collection(req)
        with self.library.lock:
            section = self._section(req)
            kind = SEARCH_TYPES[self._search_type(req, section, required=True)]
            ids = [_int(part) for part in (req.arg("id") or "").split(",") if part]
            try:
                plan = parse_edit(req.query, kind)
            except EditError as err:
                raise _bad_request(str(err)) from None
            if plan.indexed.get("actor") and kind == "episode" and self.refuse_episode_actors:
                raise _bad_request("actor edits are not accepted on episodes")
            if ids:
                items = [self._known_item(str(key)) for key in ids]
                if any(item.section_key != section.key or item.kind != kind for item in items):
                    raise _bad_request("item not of this section and type")
            else:  # a filtered bulk edit with no filter: every item of the type, as on a real server
                search_type = self._search_type(req, section, required=True)
                items = [self.library.items[e[-1]] for e in list(section.ordered(search_type))]
                self.bump(BULK_EDIT)
            for item in items:
                self.library.apply_edit(item, plan, single=len(ids) == 1)
        return Response(200, b"")

    def _rate(self, req: Request) -> Response:
        if req.arg("identifier") != plex_xml.IDENTIFIER:
            raise _bad_request("identifier")
        try:
            rating = float(req.arg("rating") or "")
        except ValueError:
            raise _bad_request("rating") from None
        if not (0 <= rating <= 10 or rating == -1):
            raise _bad_request("rating")
        now = self.plays.now()
        rated_at = req.arg("ratedAt")  # optional, epoch seconds; Plex refuses one in the future (PLAYS.md 3)
        if rated_at is not None and (not rated_at.isdigit() or int(rated_at) > now):
            raise _bad_request("ratedAt")
        with self.library.lock:
            item = self._known_item(req.arg("key") or "")
            if rating == -1:
                item.fields.pop("userRating", None)
            else:
                item.fields["userRating"] = f"{rating:g}"
                item.fields["lastRatedAt"] = str(int(rated_at) if rated_at is not None else now)
            self.library.touch(item)
        return Response(200, b"")

    def _upload(self, req: Request) -> Response:
        kind = IMAGE_KINDS[req.path.rsplit("/", 1)[1]]
        payload: Union[bytes, str, None] = req.arg("url") or req.body or None
        if payload is None:
            raise _bad_request("no image")
        if len(req.body) > UPLOAD_LIMIT:
            return Response(500, b"<html><body><h1>500 Internal Server Error</h1></body></html>", "text/html")
        with self.library.lock:
            collection = self.library.collection(_int(req.params["id"]))
            if collection is not None and kind == "posters":  # a collection's poster, locked as on items
                collection.poster = hashlib.sha256(payload if isinstance(payload, bytes) else payload.encode()).hexdigest()
                collection.locked = collection.locked | {"thumb"}
                collection.updated_at = max(int(time.time()), collection.updated_at + 1)
                return Response(200, b"")
            self.library.add_image(self._known_item(req.params["id"]), kind, payload)
        return Response(200, b"")

    def _images(self, req: Request) -> Response:
        kind = IMAGE_KINDS[req.path.rsplit("/", 1)[1]]
        with self.library.lock:
            item = self._known_item(req.params["id"])
            chosen = self.library.selected_image(item, kind)
            return self._xml(plex_xml.images(item, kind, chosen[0] if chosen else None))

    def _select(self, req: Request) -> Response:
        kind = IMAGE_KINDS[req.path.rsplit("/", 1)[1]]
        with self.library.lock:
            if not self.library.select_image(self._known_item(req.params["id"]), kind, req.arg("url") or ""):
                raise _bad_request("unknown image")
        return Response(200, b"")

    def _refresh_section(self, req: Request) -> Response:
        section = self._section(req)
        path = req.arg("path")
        with self.library.lock:
            self.refreshes.append((section.key, path))
        if self.scan_delay > 0:
            timer = threading.Timer(self.scan_delay, self.scan, (section.key, path))
            timer.daemon = True
            timer.start()
        else:
            self.scan(section.key, path)
        return Response(200, b"")

    def _refresh_item(self, req: Request) -> Response:
        with self.library.lock:
            item = self._known_item(req.params["id"])
            self.item_refreshes.append(item.rating_key)
            if self.refresh_resets_unlocked:
                self.library.agent_refresh(item)
        return Response(200, b"")


def _key(raw: Optional[str]) -> Optional[int]:
    return int(raw) if raw and raw.isdigit() else None


def _int(raw: Optional[str]) -> int:
    try:
        return int(raw or "")
    except ValueError:
        raise _bad_request(f"not an integer: {raw!r}") from None


def _describe(lib: Library, item: Item) -> dict:
    """The item's state for assertions, with Plex's field names and typed values."""
    f = item.fields
    state: dict[str, Any] = {name: f.get(name) for name in sorted(set().union(*KIND_FIELDS.values()))}
    state.update(ratingKey=item.rating_key, type=item.kind, librarySectionID=item.section_key,
                 year=_maybe(int, f.get("year")), userRating=_maybe(float, f.get("userRating")),
                 addedAt=item.added_at, updatedAt=item.updated_at, locked=set(item.locked or ()),
                 files=[m[2] for m in item.media], index=item.index, parentRatingKey=item.parent_key)
    for plural, tag in TAG_PLURALS.items():
        entries = item.tag_list(tag)
        state[plural] = [(e[0], e[1]) for e in entries] if tag == "actor" else [tag_name(e) for e in entries]
    for kind in ("posters", "arts"):
        state[kind] = [payload for _, payload in (item.images or {}).get(kind, [])]
        chosen = lib.selected_image(item, kind)
        state[kind[:-1]] = chosen[1] if chosen else None
    if item.kind == "episode":
        season = lib.items[item.parent_key]
        state.update(parentIndex=season.index, grandparentRatingKey=season.parent_key,
                     grandparentTitle=lib.items[season.parent_key].title)
    return state


def _maybe(cast: Any, value: Optional[str]) -> Any:
    return None if value is None else cast(value)
