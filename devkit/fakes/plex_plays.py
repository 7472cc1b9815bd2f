"""Play state in the fake Plex: accounts, per-account view state, sessions, history, notifications.

Plex keeps what each account watched apart (PLAYS.md 1b): `viewCount`, `lastViewedAt`,
`viewOffset` and `userRating` of an item are the token's account's. Kept out of plex_server.py
(which holds the library) so the rules of playing read in one place:
- every account has its own token; the owner (accountID 1) is the server's token. A request
  with another account's token is that account's: item XML shows its view state, history only
  its rows, and /status/sessions and /accounts answer it 403 (admin only, as real Plex).
- a client's `/:/timeline?ratingKey=&key=&state=&time=&duration=` report makes or updates a
  session (keyed by account and X-Plex-Client-Identifier) and the account's `viewOffset`;
  past 90 % of the duration the session's view completes once: one history row at the
  clock's now, `viewCount` + 1, `lastViewedAt` = now, `viewOffset` cleared. `stopped` ends the
  session; a stop before 90 % leaves `viewOffset` (the resume point) and sets `lastViewedAt`.
- `/:/scrobble` and `/:/unscrobble` (`key`, `identifier`) set played / unplayed without any
  history row (current PMS; python-plexapi#1365).
- `/status/sessions/history/all` filters by accountID, `viewedAt>=` (inclusive; `viewedAt>>=`
  exclusive, `viewedAt<=`), metadataItemID (a show or season matches its episodes),
  librarySectionID, sorts by `sort=viewedAt[:desc]` (default: newest first), pages by
  X-Plex-Container-Start/Size and answers 400 without a size, as real Plex does
  (X-Plex-Container-Total-Size on the answer).
- the websocket `/:/websockets/notifications` (token in the query or header) pushes Plex's
  `{"NotificationContainer": {"type": "playing", "size": 1, "PlaySessionStateNotification":
  [...]}}` for every timeline report, with no user in it. The owner's socket sees every
  account's sessions, another account's socket its own.

Test-side API (`plex.plays`):
    plays.add_account(account_id, name, token)
    plays.timeline(account_id, rk, time_ms, state="playing", client="c1")    # as a client report
    plays.play_to_end(account_id, rk, client="c1");  plays.play_part(account_id, rk, fraction)
    plays.scrobble(account_id, rk);  plays.unscrobble(account_id, rk)
    plays.rate(account_id, rk, 8.0)        # a rating made in a Plex app: userRating, lastRatedAt = now
    plays.state(account_id, rk) -> {viewCount, lastViewedAt, viewOffset, userRating}
    plays.history_rows() -> [dict];  plays.advance_clock(seconds);  plays.now()
    plays.drop_websockets(refuse_seconds=0.0)   # close every socket; refuse new ones a while
    plays.websocket_count() -> int
Controls for other processes: POST /__fake__/plays_timeline {"account", "rating_key", "time",
"state", "client"}, /plays_play_to_end, /plays_play_part {"fraction"}, /plays_scrobble,
/plays_drop_websockets {"refuse_seconds"}, /plays_clock {"advance"}, /plays_state.
"""
from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
import time
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any, Callable, Optional

from devkit.fakes import plex_xml
from devkit.fakes.base import HTTPError, Request, Response

if TYPE_CHECKING:
    from devkit.fakes.plex_server import FakePlexServer

OWNER = 1
COMPLETE = 0.9  # a view past this share of the duration is complete (Plex's webhook "scrobble")
STATE_ATTRS = ("viewCount", "lastViewedAt", "viewOffset")
FORBIDDEN = b"<html><head><title>Forbidden</title></head><body><h1>403 Forbidden</h1></body></html>"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_request_account = threading.local()  # the account of the request this thread is answering


def overlay(item: Any, attrs: dict) -> None:
    """plex_xml's hook: give an item's XML the view state of the request's account (not the owner's)."""
    plays: Optional[PlayState] = getattr(_request_account, "plays", None)
    account = getattr(_request_account, "account", OWNER)
    if plays is None or account == OWNER:
        return
    for name in (*STATE_ATTRS, "userRating"):
        attrs.pop(name, None)
    state = plays.views.get((account, item.rating_key))
    if state:
        attrs.update({name: str(value) for name, value in state.items() if value})


class PlayState:
    """Accounts, their view state, sessions and history of one fake Plex; thread-safe."""

    def __init__(self, server: "FakePlexServer") -> None:
        self.server = server
        self.lock = threading.RLock()
        self.accounts: dict[int, tuple[str, str]] = {OWNER: ("owner", server.token)}
        self.views: dict[tuple[int, int], dict[str, Any]] = {}  # non-owner accounts' state
        self.history: list[dict[str, Any]] = []
        self.sessions: dict[tuple[int, str], dict[str, Any]] = {}
        self._next_history = 1
        self._next_session = 1
        self._clock_offset = 0.0
        self._sockets: list[socket.socket] = []
        self._socket_accounts: dict[socket.socket, int] = {}
        self._refuse_until = 0.0

    # -- clock and accounts ---------------------------------------------------------------------
    def now(self) -> int:
        return int(time.time() + self._clock_offset)

    def advance_clock(self, seconds: float) -> int:
        self._clock_offset += seconds
        return self.now()

    def add_account(self, account_id: int, name: str, token: str) -> None:
        with self.lock:
            self.accounts[int(account_id)] = (name, token)

    def account_of(self, token: Optional[str]) -> Optional[int]:
        if not token:
            return None
        with self.lock:
            return next((aid for aid, (_, tok) in self.accounts.items() if tok == token), None)

    # -- view state -----------------------------------------------------------------------------
    def state(self, account: int, rating_key: int) -> dict[str, Any]:
        with self.lock:
            if account == OWNER:
                fields = self.server.library.items[rating_key].fields
                raw = {name: fields.get(name) for name in (*STATE_ATTRS, "userRating")}
            else:
                raw = dict(self.views.get((account, rating_key), {}))
            return {"viewCount": int(raw.get("viewCount") or 0),
                    "lastViewedAt": int(raw["lastViewedAt"]) if raw.get("lastViewedAt") else None,
                    "viewOffset": int(raw.get("viewOffset") or 0),
                    "userRating": float(raw["userRating"]) if raw.get("userRating") else None}

    def _set(self, account: int, rating_key: int, **values: Any) -> None:
        """Set (or, with None, remove) view state fields of one account's item."""
        if account == OWNER:
            item = self.server.library.items[rating_key]
            for name, value in values.items():
                if value is None:
                    item.fields.pop(name, None)
                else:
                    item.fields[name] = str(value)
            self.server.library.touch(item)
            return
        state = self.views.setdefault((account, rating_key), {})
        for name, value in values.items():
            if value is None:
                state.pop(name, None)
            else:
                state[name] = value

    def _item(self, rating_key: int) -> Any:
        item = self.server.library.items.get(rating_key)
        if item is None or item.kind not in ("movie", "episode"):
            raise HTTPError(404)
        return item

    def _complete(self, account: int, item: Any, client: str) -> None:
        now = self.now()
        count = self.state(account, item.rating_key)["viewCount"]
        self._set(account, item.rating_key, viewCount=count + 1, lastViewedAt=now, viewOffset=None)
        self.history.append({"id": self._next_history, "accountID": account, "ratingKey": item.rating_key,
                             "viewedAt": now, "librarySectionID": item.section_key, "deviceID": client,
                             "title": item.title, "type": item.kind})
        self._next_history += 1

    def timeline(self, account: int, rating_key: int, time_ms: int, state: str = "playing",
                 client: str = "client-1", duration: Optional[int] = None) -> dict[str, Any]:
        """A client's timeline report; returns the session as it stands."""
        if state not in ("playing", "paused", "buffering", "stopped"):
            raise HTTPError(400)
        with self.server.library.lock, self.lock:
            item = self._item(rating_key)
            length = int(duration or item.fields.get("duration", "1800000"))
            key = (account, client)
            session = self.sessions.get(key)
            if session is None or session["ratingKey"] != rating_key:
                session = {"sessionKey": str(self._next_session), "ratingKey": rating_key, "account": account,
                           "client": client, "completed": False, "duration": length}
                self._next_session += 1
                self.sessions[key] = session
            session.update(viewOffset=int(time_ms), state=state)
            if not session["completed"] and time_ms >= COMPLETE * length:
                session["completed"] = True
                self._complete(account, item, client)
            elif not session["completed"]:
                self._set(account, rating_key, viewOffset=int(time_ms) if time_ms > 0 else None)
                if state == "stopped":
                    self._set(account, rating_key, lastViewedAt=self.now())
            if state == "stopped":
                self.sessions.pop(key, None)
            notice = {"sessionKey": session["sessionKey"], "clientIdentifier": client, "guid": "",
                      "ratingKey": str(rating_key), "url": "", "key": f"/library/metadata/{rating_key}",
                      "viewOffset": int(time_ms), "playQueueItemID": 1000 + int(session["sessionKey"]),
                      "state": state}
        self._broadcast("playing", "PlaySessionStateNotification", notice, account)
        return dict(session)

    def play_to_end(self, account: int, rating_key: int, client: str = "client-1") -> None:
        length = int(self.server.library.items[rating_key].fields.get("duration", "1800000"))
        for fraction, state in ((0.0, "playing"), (0.5, "playing"), (0.95, "playing"), (0.95, "stopped")):
            self.timeline(account, rating_key, int(length * fraction), state, client)

    def play_part(self, account: int, rating_key: int, fraction: float, client: str = "client-1") -> None:
        length = int(self.server.library.items[rating_key].fields.get("duration", "1800000"))
        self.timeline(account, rating_key, 1000, "playing", client)
        self.timeline(account, rating_key, int(length * fraction), "stopped", client)

    def scrobble(self, account: int, rating_key: int) -> None:
        with self.server.library.lock, self.lock:
            self._item(rating_key)
            count = self.state(account, rating_key)["viewCount"]
            self._set(account, rating_key, viewCount=count + 1, lastViewedAt=self.now(), viewOffset=None)

    def unscrobble(self, account: int, rating_key: int) -> None:
        with self.server.library.lock, self.lock:
            self._item(rating_key)
            self._set(account, rating_key, viewCount=None, lastViewedAt=None, viewOffset=None)

    def rate(self, account: int, rating_key: int, rating: Optional[float]) -> None:
        """A rating made in a Plex app (0-10; None clears): userRating and lastRatedAt = now."""
        with self.server.library.lock, self.lock:
            self._item(rating_key)
            self._set(account, rating_key, userRating=None if rating is None else f"{rating:g}",
                      lastRatedAt=None if rating is None else self.now())

    def progress(self, account: int, rating_key: int, time_ms: int) -> None:
        """/:/progress: a resume point set from the API (time 0 does nothing, as in Plex)."""
        if time_ms <= 0:
            return
        with self.server.library.lock, self.lock:
            self._item(rating_key)
            self._set(account, rating_key, viewOffset=int(time_ms))

    def history_rows(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(row) for row in self.history]

    # -- websocket ------------------------------------------------------------------------------
    def websocket_count(self) -> int:
        with self.lock:
            return len(self._sockets)

    def drop_websockets(self, refuse_seconds: float = 0.0) -> int:
        with self.lock:
            doomed, self._sockets = self._sockets, []
            self._refuse_until = time.monotonic() + refuse_seconds
        for conn in doomed:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(doomed)

    def _broadcast(self, kind: str, container_key: str, payload: dict, account: int) -> None:
        frame = _text_frame(json.dumps({"NotificationContainer": {"type": kind, "size": 1,
                                                                  container_key: [payload]}}))
        with self.lock:
            targets = [(conn, self._socket_accounts.get(conn)) for conn in self._sockets]
        for conn, viewer in targets:
            if viewer in (OWNER, account):
                try:
                    conn.sendall(frame)
                except OSError:
                    pass

    def _serve_socket(self, account: int) -> Callable[[socket.socket, Any, Callable[[], None]], None]:
        def serve(conn: socket.socket, rfile: Any, handshake: Callable[[], None]) -> None:
            with self.lock:  # a notification is either before the 101 or reaches this socket
                handshake()
                self._sockets.append(conn)
                self._socket_accounts[conn] = account
            try:
                while True:  # read the client's frames until it closes (pings get no pong: not needed)
                    head = rfile.read(2)
                    if len(head) < 2 or head[0] & 0x0F == 0x8:
                        return
                    length = head[1] & 0x7F
                    if length == 126:
                        length = struct.unpack(">H", rfile.read(2))[0]
                    elif length == 127:
                        length = struct.unpack(">Q", rfile.read(8))[0]
                    rfile.read((4 if head[1] & 0x80 else 0) + length)
            except (OSError, ValueError):
                return
            finally:
                with self.lock:
                    if conn in self._sockets:
                        self._sockets.remove(conn)
                    self._socket_accounts.pop(conn, None)
        return serve

    # -- HTTP -----------------------------------------------------------------------------------
    def authenticate(self, req: Request, server_answer: Optional[Response]) -> Optional[Response]:
        """The server's own answer (its class's authenticate, a test subclass's too: 414, 503
        maintenance, ...), but where it refuses only the token (401), another account's token lets
        the request through as that account."""
        account = self.account_of(req.arg("X-Plex-Token"))
        _request_account.plays, _request_account.account = self, account or OWNER
        if account is not None and server_answer is not None and server_answer.status == 401:
            return None
        return server_answer

    def _account(self, req: Request) -> int:
        account = self.account_of(req.arg("X-Plex-Token"))
        if account is None:
            raise HTTPError(401)
        return account

    def _admin(self, req: Request) -> None:
        if self._account(req) != OWNER:
            raise HTTPError(403, FORBIDDEN)

    def routes(self) -> list[tuple[str, str, Callable[[Request], Response]]]:
        routes = [("GET", "/status/sessions/history/all", self._history),
                  ("GET", "/status/sessions", self._sessions),
                  ("GET", "/accounts", self._accounts),
                  ("GET", "/:/websockets/notifications", self._websocket)]
        for method in ("GET", "PUT"):
            routes += [(method, "/:/timeline", self._timeline), (method, "/:/scrobble", self._scrobble),
                       (method, "/:/unscrobble", self._unscrobble), (method, "/:/progress", self._progress)]
        return routes

    def _timeline(self, req: Request) -> Response:
        rating_key = _int(req.arg("ratingKey") or (req.arg("key") or "").rsplit("/", 1)[-1])
        duration = req.arg("duration")
        self.timeline(self._account(req), rating_key, _int(req.arg("time") or "0"), req.arg("state") or "playing",
                      req.arg("X-Plex-Client-Identifier") or "unknown-client", _int(duration) if duration else None)
        return Response(200, plex_xml.to_bytes(plex_xml.container([])))

    def _scrobble(self, req: Request) -> Response:
        if req.arg("identifier") != plex_xml.IDENTIFIER:
            raise HTTPError(400)
        self.scrobble(self._account(req), _int(req.arg("key")))
        return Response(200, b"")

    def _unscrobble(self, req: Request) -> Response:
        if req.arg("identifier") != plex_xml.IDENTIFIER:
            raise HTTPError(400)
        self.unscrobble(self._account(req), _int(req.arg("key")))
        return Response(200, b"")

    def _progress(self, req: Request) -> Response:
        if req.arg("identifier") != plex_xml.IDENTIFIER:
            raise HTTPError(400)
        self.progress(self._account(req), _int(req.arg("key")), _int(req.arg("time") or "0"))
        return Response(200, b"")

    def _history(self, req: Request) -> Response:
        account = self._account(req)
        size_text = req.arg("X-Plex-Container-Size")
        if size_text is None:
            raise HTTPError(400, b"<html><body><h1>400 Bad Request</h1>X-Plex-Container-Size required</body></html>")
        start, size = max(0, _int(req.arg("X-Plex-Container-Start") or "0")), _int(size_text)
        if size > self.server.max_page_size:
            raise HTTPError(400, b"<html><body><h1>400 Bad Request</h1>page too large</body></html>")
        with self.server.library.lock, self.lock:
            rows = [row for row in self.history if self._kept(row, req, account)]
            descending = (req.arg("sort") or "viewedAt:desc").split(",")[0] != "viewedAt" and \
                (req.arg("sort") or "viewedAt:desc").split(",")[0] != "viewedAt:asc"
            rows.sort(key=lambda r: (r["viewedAt"], r["id"]), reverse=descending)
            window = rows[start:start + max(0, size)]
            children = [self._history_element(row) for row in window]
        root = plex_xml.container(children, offset=start, totalSize=len(rows))
        return Response(200, plex_xml.to_bytes(root), headers=(("X-Plex-Container-Start", str(start)),
                                                               ("X-Plex-Container-Total-Size", str(len(rows)))))

    def _kept(self, row: dict, req: Request, account: int) -> bool:
        if account != OWNER and row["accountID"] != account:
            return False
        for name, value in req.query:
            number = _int(value) if name.startswith(("viewedAt", "accountID", "metadataItemID",
                                                     "librarySectionID")) else None
            if name == "accountID" and row["accountID"] != number:
                return False
            if name == "librarySectionID" and row["librarySectionID"] != number:
                return False
            if name == "metadataItemID" and number not in self._lineage(row["ratingKey"]):
                return False
            viewed = row["viewedAt"]
            if number is not None and not {"viewedAt>": viewed >= number, "viewedAt>>": viewed > number,
                                           "viewedAt<": viewed <= number, "viewedAt<<": viewed < number,
                                           }.get(name, True):
                return False
        return True

    def _lineage(self, rating_key: int) -> set[int]:
        keys, item = {rating_key}, self.server.library.items.get(rating_key)
        while item is not None and item.parent_key is not None:
            keys.add(item.parent_key)
            item = self.server.library.items.get(item.parent_key)
        return keys

    def _history_element(self, row: dict) -> ET.Element:
        rk = row["ratingKey"]
        attrs = {"historyKey": f"/status/sessions/history/{row['id']}", "key": f"/library/metadata/{rk}",
                 "ratingKey": str(rk), "librarySectionID": str(row["librarySectionID"]), "title": row["title"],
                 "type": row["type"], "thumb": f"/library/metadata/{rk}/thumb/1", "viewedAt": str(row["viewedAt"]),
                 "accountID": str(row["accountID"]), "deviceID": "1"}
        item = self.server.library.items.get(rk)
        if item is not None and item.kind == "episode":
            season = self.server.library.items[item.parent_key]
            show = self.server.library.items[season.parent_key]
            attrs.update(parentKey=f"/library/metadata/{season.rating_key}", grandparentKey=f"/library/metadata/"
                         f"{show.rating_key}", grandparentTitle=show.title, index=str(item.index),
                         parentIndex=str(season.index))
        return ET.Element("Video", attrs)

    def _sessions(self, req: Request) -> Response:
        self._admin(req)
        children = []
        with self.server.library.lock, self.lock:
            for session in self.sessions.values():
                item = self.server.library.items.get(session["ratingKey"])
                if item is None:
                    continue
                video = ET.Element("Video", {
                    "sessionKey": session["sessionKey"], "ratingKey": str(item.rating_key),
                    "key": f"/library/metadata/{item.rating_key}", "type": item.kind, "title": item.title,
                    "librarySectionID": str(item.section_key), "viewOffset": str(session["viewOffset"]),
                    "duration": str(session["duration"])})
                name = self.accounts.get(session["account"], ("?", ""))[0]
                ET.SubElement(video, "User", {"id": str(session["account"]), "title": name,
                                              "thumb": f"https://plex.tv/users/{session['account']}/avatar"})
                ET.SubElement(video, "Player", {"machineIdentifier": session["client"], "state": session["state"],
                                                "title": session["client"], "local": "1"})
                ET.SubElement(video, "Session", {"id": f"s{session['sessionKey']}", "location": "lan"})
                children.append(video)
        return Response(200, plex_xml.to_bytes(plex_xml.container(children)))

    def _accounts(self, req: Request) -> Response:
        self._admin(req)
        with self.lock:
            children = [ET.Element("Account", {"id": str(aid), "key": f"/accounts/{aid}", "name": name,
                                               "defaultAudioLanguage": "en", "autoSelectAudio": "1",
                                               "defaultSubtitleLanguage": "en", "subtitleMode": "0",
                                               "thumb": ""}) for aid, (name, _) in sorted(self.accounts.items())]
        return Response(200, plex_xml.to_bytes(plex_xml.container(children, identifier=plex_xml.IDENTIFIER)))

    def _websocket(self, req: Request) -> Response:
        account = self._account(req)
        key = req.headers.get("Sec-WebSocket-Key")
        if (req.headers.get("Upgrade") or "").lower() != "websocket" or not key:
            raise HTTPError(400)
        if time.monotonic() < self._refuse_until:
            raise HTTPError(503)
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        return Response(101, b"", "", headers=(("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                               ("Sec-WebSocket-Accept", accept)),
                        takeover=self._serve_socket(account))

    # -- controls for other processes -------------------------------------------------------------
    def controls(self) -> dict[str, Callable[[dict], Any]]:
        def account(payload: dict) -> int:
            return int(payload.get("account", OWNER))

        return {
            "plays_timeline": lambda p: self.timeline(account(p), int(p["rating_key"]), int(p.get("time", 0)),
                                                      p.get("state", "playing"), p.get("client", "client-1")),
            "plays_play_to_end": lambda p: self.play_to_end(account(p), int(p["rating_key"]),
                                                            p.get("client", "client-1")),
            "plays_play_part": lambda p: self.play_part(account(p), int(p["rating_key"]), float(p["fraction"]),
                                                        p.get("client", "client-1")),
            "plays_scrobble": lambda p: self.scrobble(account(p), int(p["rating_key"])),
            "plays_drop_websockets": lambda p: self.drop_websockets(float(p.get("refuse_seconds", 0))),
            "plays_clock": lambda p: self.advance_clock(float(p.get("advance", 0))),
            "plays_state": lambda p: self.state(account(p), int(p["rating_key"])),
            "plays_history": lambda p: self.history_rows(),
        }


def attach(server: "FakePlexServer") -> PlayState:
    """Give a fake Plex its play state: routes, per-account tokens and controls."""
    plays = PlayState(server)
    server.authenticate = lambda req: plays.authenticate(  # type: ignore[method-assign]
        req, type(server).authenticate(server, req))
    for method, pattern, handler in plays.routes():
        server.route(method, pattern, handler)
    for name, handler in plays.controls().items():
        server.add_control(name, handler)
    return plays


def _int(raw: Optional[str]) -> int:
    try:
        return int(raw or "")
    except ValueError:
        raise HTTPError(400, f"not an integer: {raw!r}".encode()) from None


def _text_frame(text: str) -> bytes:
    """One unmasked server-to-client websocket text frame."""
    data = text.encode("utf-8")
    if len(data) < 126:
        head = struct.pack(">BB", 0x81, len(data))
    elif len(data) < 1 << 16:
        head = struct.pack(">BBH", 0x81, 126, len(data))
    else:
        head = struct.pack(">BBQ", 0x81, 127, len(data))
    return head + data
