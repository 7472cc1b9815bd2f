"""A fake Stash over HTTP: GraphQL (the subset in stash_schema.graphql), screenshots, auth.

The product talks to Stash through GraphQL and downloads scene screenshots. Testing that
against mocks hides the protocol; here graphql-core parses, validates and executes each
document against the fake schema over a StashStore (stash_store.py holds Stash's rules), and
answers in Stash's shapes: `Time` as RFC3339 text to the second, `ID`s as strings, errors as
gqlgen sends them (422 for documents or variables that do not validate, 200 with `errors`
for resolver failures), `paths.screenshot` = {url}/scene/{id}/screenshot?t={unix updated_at},
whose bytes follow the scene's cover, not its edits (a scene without a cover is served an SVG
placeholder as `image/svg+xml`, as Stash does),
performer `image_path` ending in `&default=true` when there is no image. When a login is set,
a request without the `ApiKey` header or `session` cookie gets 401 (`/graphql`, files with an
extension) or, as Stash answers a web page, a 302 to `/login?returnURL=...`.

Test aids beyond Stash: counts per GraphQL operation ("POST /graphql FindScenes"), a count
of `findScenes` asking for everything ("findScenes per_page=-1"), the GraphQL log, and
controls for other processes: POST /__fake__/scene {"id"}, /edit_scene {"id", ...fields},
/set_cover {"id", "present"} (a cover generation: updated_at moves, no hook),
/clock {"advance": seconds}, /graphql_log.
"""
from __future__ import annotations

import hashlib
import json
import posixpath
import re
import struct
import threading
import time
import zlib
from collections import OrderedDict
from http.cookies import CookieError, SimpleCookie
from typing import Any, Callable, Optional
from urllib.parse import urlencode

from graphql import build_schema, parse, validate
from graphql.error import GraphQLSyntaxError
from graphql.execution import execute

from devkit.fakes import stash_entity_images, stash_fields, stash_plays, stash_plugin_mutations
from devkit.fakes.base import FakeHTTPServer, HTTPError, Request, Response
from devkit.fakes.stash_schema import fake_sdl
from devkit.fakes.stash_store import FindPage, PerformerRow, SceneRow, StashData, StashStore, UpdateListener, parse_time

PLACEHOLDER_SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 640 360">'
                   b'<rect width="640" height="360" fill="#30404d"/></svg>')
STASH_VERSION = {"version": "v0.28.1", "hash": "fa6b2c3d1", "build_time": "2025-03-01 10:00:00"}


def png_bytes(seed: str, width: int = 32, height: int = 18) -> bytes:
    """A small valid PNG whose pixels and text chunk derive from `seed`."""
    digest = hashlib.sha256(seed.encode()).digest()
    bands = [digest[i:i + 3] for i in range(0, 18, 3)]
    rows = b"".join(b"\x00" + bands[(y * len(bands)) // height] * width for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", b"Comment\x00" + seed.encode("utf-8", "replace"))
            + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


class FakeStashServer(FakeHTTPServer):
    """Stash's GraphQL endpoint, scene screenshots and performer images over `self.store`."""

    def __init__(self, data: Optional[StashData] = None, *, api_key: str = "",
                 session_cookie: str = "fake-stash-session", clock: Callable[[], float] = time.time,
                 utc_offset_minutes: int = 0, host: str = "127.0.0.1"):
        super().__init__(host)
        self.store = StashStore(data, clock, utc_offset_minutes)
        self.api_key = api_key
        self.session_cookie = session_cookie
        self._state_lock = threading.Lock()  # the GraphQL log and the parsed-document cache
        self._documents: OrderedDict[str, tuple] = OrderedDict()
        self._graphql_log: list[dict] = []
        self.screenshot_sizes: dict[int, int] = {}  # scene id -> bytes its screenshot is padded to
        self._folder_ids: dict[str, int] = {}  # folder path -> Folder id, handed out on first sight
        self.route("POST", "/graphql", self._graphql)
        self.route("GET", "/scene/{id}/screenshot", self._screenshot)
        self.route("GET", "/login", self._login_page)
        self.route("GET", "/performer/{id}/image", self._performer_image)
        self.entity_images = stash_entity_images.install(self, parse_time(self.store.started_at), png_bytes,
                                                         PLACEHOLDER_SVG)  # /studio/{id}/image, /group/{id}/frontimage
        self.add_control("graphql_log", lambda payload: self.graphql_log())
        self.add_control("scene", lambda payload: self.scene_json(int(payload["id"])))
        self.add_control("edit_scene", lambda payload: self.scene_json(
            self.store.edit_scene(int(payload.pop("id")), **payload).id))
        self.add_control("set_cover", lambda payload: self.store.set_cover(
            int(payload["id"]), bool(payload.get("present", True))).cover)
        self.add_control("clock", lambda payload: (self.store.advance_clock(float(payload.get("advance", 0))),
                                                   self.store.now_text())[1])
        stash_plays.add_controls(self)

    # The store's test-facing operations, reachable from the server as tests hold it.
    def scene(self, scene_id: int) -> Optional[SceneRow]:
        return self.store.scene(scene_id)

    def scenes(self) -> list[SceneRow]:
        return self.store.scenes()

    def add_scene(self, paths: list[str], title: Optional[str] = None, **file_fields: Any) -> SceneRow:
        return self.store.add_scene(paths, title, **file_fields)

    def edit_scene(self, scene_id: int, **changes: Any) -> SceneRow:
        return self.store.edit_scene(scene_id, **changes)

    def remove_scene(self, scene_id: int) -> None:
        self.store.remove_scene(scene_id)

    def plugin_config(self, plugin_id: str) -> dict:
        return self.store.plugin_config(plugin_id)

    def set_plugin_config(self, plugin_id: str, values: dict) -> dict:
        return self.store.set_plugin_config(plugin_id, values)

    def on_scene_update(self, listener: UpdateListener) -> None:
        self.store.on_scene_update(listener)

    def now_text(self) -> str:
        return self.store.now_text()

    def advance_clock(self, seconds: float) -> None:
        self.store.advance_clock(seconds)

    def set_cover(self, scene_id: int, present: bool = True) -> SceneRow:
        return self.store.set_cover(scene_id, present)

    def screenshot_bytes(self, scene_id: int) -> bytes:
        """What /scene/{id}/screenshot serves: the cover's bytes, or the SVG placeholder."""
        row = self.store.scene(scene_id)
        if row is None:
            raise KeyError(scene_id)
        if not row.cover:
            return PLACEHOLDER_SVG
        data = png_bytes(f"scene:{row.id}:cover:{row.cover}")
        size = self.screenshot_sizes.get(row.id, 0)
        return data + bytes(max(0, size - len(data)))  # a large camera PNG: same image, more bytes

    # -- HTTP ---------------------------------------------------------------------------
    def authenticate(self, req: Request) -> Optional[Response]:
        if not self.api_key or req.path.startswith("/login") or req.headers.get("ApiKey") == self.api_key:
            return None
        try:
            cookie = SimpleCookie(req.headers.get("Cookie") or "")
        except CookieError:
            cookie = SimpleCookie()
        if "session" in cookie and cookie["session"].value == self.session_cookie:
            return None
        return login_required(req)

    def _login_page(self, req: Request) -> Response:
        return Response(200, LOGIN_PAGE, "text/html; charset=utf-8")

    def extra_count_keys(self, req: Request) -> list[str]:
        if req.method == "POST" and req.path == "/graphql":
            return [f"POST /graphql {operation_name(req.body)}"]
        return []

    def graphql_log(self) -> list[dict]:
        """Every GraphQL request that reached the handler: {"operation", "query", "variables"}."""
        with self._state_lock:
            return [dict(entry) for entry in self._graphql_log]

    def reset_counts(self) -> None:
        super().reset_counts()
        with self._state_lock:
            self._graphql_log.clear()

    def _graphql(self, req: Request) -> Response:
        try:
            payload = json.loads(req.body or b"{}")
            query = payload["query"]
            variables = payload.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            return _json_response(400, {"errors": [{"message": "json body could not be decoded"}],
                                        "data": None})
        with self._state_lock:
            self._graphql_log.append({"operation": _operation_of(payload), "query": query,
                                      "variables": variables})
        document, errors = self._document(query)
        if errors:
            return _invalid_document(req, {"errors": errors, "data": None})
        context = _RequestContext(self)
        result = execute(SCHEMA, document, context_value=context, variable_values=variables,
                         operation_name=payload.get("operationName"))
        body = {"data": result.data}
        if result.errors:
            body = {"errors": [error.formatted for error in result.errors], "data": result.data}
            if not context.started:
                for error in body["errors"]:
                    error.setdefault("extensions", {"code": "GRAPHQL_VALIDATION_FAILED"})
                return _invalid_document(req, body)
        return _json_response(200, body)

    def _document(self, query: str) -> tuple:
        with self._state_lock:
            cached = self._documents.get(query)
            if cached is not None:
                self._documents.move_to_end(query)
                return cached
        try:
            document = parse(query)
            errors = [dict(e.formatted, extensions={"code": "GRAPHQL_VALIDATION_FAILED"})
                      for e in validate(SCHEMA, document)]
        except GraphQLSyntaxError as err:
            document, errors = None, [dict(err.formatted, extensions={"code": "GRAPHQL_PARSE_FAILED"})]
        with self._state_lock:
            self._documents[query] = (document, errors)
            if len(self._documents) > 256:
                self._documents.popitem(last=False)
        return document, errors

    def _screenshot(self, req: Request) -> Response:
        try:
            data = self.screenshot_bytes(int(req.params["id"]))
        except (KeyError, ValueError):
            raise HTTPError(404, b"scene not found")
        return Response(200, data, "image/svg+xml" if data is PLACEHOLDER_SVG else "image/png")

    def _performer_image(self, req: Request) -> Response:
        try:
            performer = self.store.performers[int(req.params["id"])]
        except (KeyError, ValueError):
            raise HTTPError(404, b"performer not found")
        seed = f"performer:{performer.id}" if performer.has_image else "performer:default"
        return Response(200, png_bytes(seed, 20, 30), "image/png")

    def scene_json(self, scene_id: int) -> Optional[dict]:
        """The scene as `findScene` answers for the fields PlexSync reads (None if absent)."""
        result = execute(SCHEMA, _SCENE_DOCUMENT, context_value=_RequestContext(self),
                         variable_values={"id": str(scene_id)})
        if result.errors:
            raise result.errors[0]
        return result.data["findScene"]

    def folder_id(self, path: str) -> str:
        """A stable Folder id for a directory path (Stash keeps folders as rows of their own)."""
        with self._state_lock:
            return str(self._folder_ids.setdefault(path, len(self._folder_ids) + 1))

    def screenshot_url(self, row: SceneRow) -> str:
        return f"{self.url}/scene/{row.id}/screenshot?t={parse_time(row.updated_at)}"

    def performer_image_url(self, performer: PerformerRow) -> str:
        url = f"{self.url}/performer/{performer.id}/image?t={parse_time(performer.updated_at)}"
        return url if performer.has_image else url + "&default=true"


class _RequestContext:
    __slots__ = ("server", "started")

    def __init__(self, server: FakeStashServer):
        self.server = server
        self.started = False


_OPERATION_RE = re.compile(r"\b(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)")


def operation_name(body: bytes) -> str:
    """The operation's name from a GraphQL POST body ("anonymous" when it has none)."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return "anonymous"
    return _operation_of(payload) if isinstance(payload, dict) else "anonymous"


def _operation_of(payload: dict) -> str:
    if payload.get("operationName"):
        return str(payload["operationName"])
    found = _OPERATION_RE.search(str(payload.get("query") or ""))
    return found.group(1) if found else "anonymous"


LOGIN_PAGE = b"<!doctype html><html><head><title>Login</title></head><body><form>...</form></body></html>\n"


def login_required(req: Request) -> Response:
    """Stash's answer without a login (internal/api/authentication.go): 401 for /graphql and for
    paths with a file extension other than .html, else a 302 to the login page."""
    extension = posixpath.splitext(req.path)[1]
    if req.path == "/graphql" or (extension and extension != ".html"):
        return Response(401, b"", "text/plain; charset=utf-8", (("WWW-Authenticate", "FormBased"),))
    back = req.path + ("?" + urlencode(req.query) if req.query else "")
    return Response(302, b"", "text/html; charset=utf-8", (("Location", "/login?" + urlencode({"returnURL": back})),))


def _invalid_document(req: Request, body: dict) -> Response:
    """A document that does not parse or validate, as Stash v0.29+ (gqlgen v0.17.73) answers it:
    422 under `Accept: application/json` or no Accept, else (python-requests' `*/*`, ...) 400 with
    the graphql-response media type (REAL-SERVERS.md S3)."""
    accept = (req.headers.get("Accept") or "").strip()
    if not accept or accept == "application/json":
        return _json_response(422, body)
    return Response(400, json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/graphql-response+json")


def _json_response(status: int, body: dict) -> Response:
    return Response(status, json.dumps(body, ensure_ascii=False).encode("utf-8"),
                    "application/json")


SCENE_FIELDS = """
  id title code details director urls date rating100 organized created_at updated_at
  files { id path basename size duration } paths { screenshot }
  studio { id name parent_studio { id name } }
  groups { group { id name } scene_index } tags { id name }
  performers { id name disambiguation gender image_path } stash_ids { endpoint stash_id }
"""
_SCENE_DOCUMENT = parse("query FakeScene($id: ID) { findScene(id: $id) {" + SCENE_FIELDS + "} }")


def _build_schema():
    schema = build_schema(fake_sdl())

    def resolve(type_name: str, field: str, fn: Callable) -> None:
        schema.type_map[type_name].fields[field].resolve = fn

    def root(fn: Callable) -> Callable:
        def wrapped(source, info, **args):
            info.context.started = True
            return fn(info.context.server, **args)
        return wrapped

    def store(info) -> StashStore:
        return info.context.server.store

    def server(info) -> "FakeStashServer":
        return info.context.server

    resolve("Query", "findScene", root(lambda srv, id=None: None if id is None else srv.store.scene(int(id))))
    resolve("Query", "findScenes", root(_find_scenes))
    resolve("Query", "configuration", root(lambda srv: srv))
    resolve("Query", "version", root(lambda srv: STASH_VERSION))
    resolve("Mutation", "sceneUpdate", root(lambda srv, input: srv.store.update_scene(input)))
    resolve("Mutation", "bulkSceneUpdate", root(lambda srv, input: srv.store.bulk_update_scenes(input)))
    resolve("Mutation", "configurePlugin",
            root(lambda srv, plugin_id, input: srv.store.set_plugin_config(plugin_id, input)))
    resolve("ConfigResult", "general", lambda srv, info: srv)
    resolve("ConfigResult", "plugins", lambda srv, info, include=None: srv.store.plugins_config(include))
    resolve("ConfigGeneralResult", "apiKey", lambda srv, info: srv.api_key)

    resolve("Scene", "studio", lambda row, info: store(info).studios.get(row.studio_id))
    resolve("Scene", "performers", lambda row, info: [store(info).performers[i] for i in row.performer_ids])
    resolve("Scene", "tags", lambda row, info: [store(info).tags[i] for i in row.tag_ids])
    resolve("Tag", "parents", lambda tag, info: [store(info).tags[i] for i in tag.parent_ids])
    resolve("SceneGroup", "group", lambda pair, info: store(info).groups[pair[0]])
    resolve("SceneGroup", "scene_index", lambda pair, info: pair[1])
    resolve("StashID", "endpoint", lambda pair, info: pair[0])
    resolve("StashID", "stash_id", lambda pair, info: pair[1])
    resolve("VideoFile", "basename", lambda f, info: f.path.rsplit("/", 1)[-1])
    resolve("Studio", "parent_studio", lambda studio, info: store(info).studios.get(studio.parent_id))
    resolve("Performer", "image_path", lambda p, info: server(info).performer_image_url(p))
    stash_fields.attach(resolve)
    stash_plugin_mutations.attach(resolve)
    stash_entity_images.attach(resolve)
    stash_plays.attach(resolve)  # play history and activity (after stash_fields' constants)
    return schema


def _find_scenes(srv: FakeStashServer, scene_filter=None, scene_ids=None, ids=None, filter=None) -> FindPage:
    if filter and filter.get("per_page") is not None and filter["per_page"] < 0:
        srv.bump("findScenes per_page=-1")
    return srv.store.find_scenes(scene_filter, ids or scene_ids, filter)


SCHEMA = _build_schema()
