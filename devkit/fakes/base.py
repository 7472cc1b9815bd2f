"""Shared base for the in-process HTTP fakes (fake Plex, fake Stash).

Tests need servers that behave like the real ones *and* misbehave on demand: slow answers,
error statuses, dropped connections, hangs past a client's timeout, a server that is down.
This module gives every fake the same knobs, usable in-process or from another process.

Server side (subclass `FakeHTTPServer`):
    srv.route(method, "/library/sections/{id}/all", handler)   # handler(req) -> Response
    srv.add_control(name, handler)     # POST /__fake__/{name}; handler(payload: dict) -> JSON-able
    srv.authenticate(req) -> Response | None          # override; None lets the request through
    url = srv.start(); ...; srv.stop()                # loopback, free port, daemon threads
    srv.latency(ms)                                   # added to every request
    srv.fail_next(n=1, status=503, route=None, method=None, body=b"")
    srv.drop_next(n=1, route=None, method=None)       # close the socket without an answer
    srv.hang_next(n=1, seconds=10.0, route=None, method=None, apply=True)
        # stall, then handle the request (apply=True: its effect lands late, as on a slow
        # server) or drop it (apply=False)
    srv.down(); srv.up()      # close the listener and open connections; re-bind the same port
    srv.outage(seconds, mode="fail", status=502, hang_seconds=..., route=None, method=None)
        # for `seconds` from now every matching request is answered `status` ("fail"), its
        # connection reset ("reset", an RST), closed ("drop"), or held `hang_seconds` then
        # dropped ("hang"); mode "refuse" takes the server down for `seconds`. Faults queued
        # with *_next wait behind an outage and apply after it. Requests it faulted are
        # counted under "outage" (exactly: what reached the server during the outage).
    srv.outage_after("GET /status/sessions/history/all", seconds, **outage)
        # the same outage, beginning the moment a request counted under that key has been
        # answered with a 2xx: a fault that strikes in the middle of a client's run, not before it
    fail_next/drop_next/hang_next(..., where={"id": "12"})  # only requests with that query
        # argument (or path parameter, e.g. "ids") equal to the value
    srv.idle_timeout = 20.0   # close a keep-alive connection idle that long (None: never), as real
                              # servers do; set before connections open; a subclass's
                              # keeps_idle_connection(headers) may exempt a connection
    srv.open_connections() -> int
    srv.counts() -> {"PUT /library/sections/{id}/all": 3, ...};  srv.count(key) -> int
    srv.bump(key, n=1)        # count something of the subclass's own (e.g. from inside a handler)
    srv.extra_count_keys(req) # override: further keys to count for a request, counted with (and
                              # before) its route key, faulted requests too
    srv.request_log() -> [{"method", "path", "query", "route", "status", "elapsed_ms"}, ...]
    srv.reset_counts()        # counts and log;  srv.reset(): also faults and latency
`route` filters match the registered pattern ("/library/sections/{id}/all"), `method` the
verb. Every request is counted, faulted ones too; dropped ones are logged with status 0.
Handlers run concurrently, so subclasses lock their own state. A handler may raise
`HTTPError(status, body)` to answer with an error; any other exception answers 500 with
the traceback as body. Unrouted requests get 404.

Control API (never counted, no auth, no faults), for other processes: `FakeControl(url)`
wraps GET /__fake__/counts and /__fake__/log, POST /__fake__/faults, /latency, /reset,
/reset_counts, /down {"seconds": s} (back up after s) and any POST /__fake__/{name}.
"""
from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
import traceback
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable, Optional, Tuple
from urllib.parse import parse_qsl, unquote, urlsplit

CONTROL_PREFIX = "/__fake__/"
RESET_STATUS = -1
NOT_FOUND = b"<html><head><title>Not Found</title></head><body><h1>404 Not Found</h1></body></html>"


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Any
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    target: str = ""  # the request target as sent (path and query, still encoded)

    def arg(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """First value of a query parameter, else of the header with that name."""
        return next((v for k, v in self.query if k == name), self.headers.get(name, default))


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/xml;charset=utf-8"
    headers: Tuple[Tuple[str, str], ...] = ()  # more headers (Location, WWW-Authenticate)
    # A protocol switch (a websocket): takeover(socket, rfile, handshake) owns the connection until
    # it returns; it calls handshake() to send the 101 and its headers once it is ready to be
    # written to (a client that has the 101 may expect every later event).
    takeover: Optional[Callable[[socket.socket, Any, Callable[[], None]], None]] = None


RESET = Response(RESET_STATUS)  # answer nothing, reset the connection


class HTTPError(Exception):
    def __init__(self, status: int, body: bytes = b""):
        super().__init__(status)
        self.response = Response(status, body, "text/html")


@dataclass
class _Fault:
    kind: str
    n: int = 1
    status: int = 503
    seconds: float = 0.0
    route: Optional[str] = None
    method: Optional[str] = None
    apply: bool = True
    body: bytes = b""
    where: Optional[dict] = None
    until: Optional[float] = None  # an outage: active until this time.monotonic()
    mode: str = ""  # an outage's: fail, reset, drop or hang

    def matches(self, req: "Request", pattern: str) -> bool:
        if self.until is not None and time.monotonic() >= self.until:
            self.n = 0
        return (self.n > 0 and self.route in (None, pattern) and self.method in (None, req.method)
                and all(_value(req, k) == str(v) for k, v in (self.where or {}).items()))


def _value(req: "Request", name: str) -> Optional[str]:
    """A query argument, else a path parameter of that name."""
    return next((v for k, v in req.query if k == name), req.params.get(name))


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class FakeHTTPServer:
    def __init__(self, host: str = "127.0.0.1"):
        self.host, self.port = host, 0
        self._routes: list[tuple[str, re.Pattern, str, Callable[[Request], Response]]] = []
        self._controls: dict[str, Callable[[dict], Any]] = {}
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._outage_triggers: list[tuple[str, float, dict]] = []
        self._latency = 0.0
        self._counts: dict[str, int] = {}
        self._log: list[dict] = []
        self._connections: set[socket.socket] = set()
        self._stopped = threading.Event()
        self._listener: Optional[_Listener] = None
        self.idle_timeout: Optional[float] = None  # seconds a connection may wait for its next request

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> str:
        self._stopped.clear()
        self.up()
        return self.url

    def stop(self) -> None:
        self._stopped.set()
        self.down()

    def up(self) -> None:
        if self._listener is None:
            self._listener = _Listener((self.host, self.port), _make_handler(self))
            self.port = self._listener.server_address[1]
            threading.Thread(target=self._listener.serve_forever, kwargs={"poll_interval": 0.05},
                             daemon=True, name=f"fake-http-{self.port}").start()

    def down(self, spare: Optional[socket.socket] = None) -> None:
        """Refuse connections: close the listener and every open connection but `spare`."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.shutdown()
            listener.server_close()
        with self._lock:
            doomed, self._connections = self._connections - {spare}, self._connections & {spare}
        for conn in doomed:
            _close_quietly(conn)

    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    def route(self, method: str, pattern: str, handler: Callable[[Request], Response]) -> None:
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(pattern))
        self._routes.append((method.upper(), re.compile(f"^{regex}$"), pattern, handler))

    def add_control(self, name: str, handler: Callable[[dict], Any]) -> None:
        self._controls[name] = handler

    def authenticate(self, req: Request) -> Optional[Response]:
        return None

    def keeps_idle_connection(self, headers: Any) -> bool:
        """Override: True when a request's headers ask to keep its connection open however long it idles."""
        return False

    def latency(self, ms: float) -> None:
        self._latency = max(0.0, ms) / 1000.0

    def fail_next(self, n: int = 1, status: int = 503, route: Optional[str] = None,
                  method: Optional[str] = None, body: bytes = b"", where: Optional[dict] = None) -> None:
        self._add_fault(_Fault("fail", n, status=status, route=route, method=method, body=body, where=where))

    def drop_next(self, n: int = 1, route: Optional[str] = None, method: Optional[str] = None,
                  where: Optional[dict] = None) -> None:
        self._add_fault(_Fault("drop", n, route=route, method=method, where=where))

    def hang_next(self, n: int = 1, seconds: float = 10.0, route: Optional[str] = None,
                  method: Optional[str] = None, apply: bool = True, where: Optional[dict] = None) -> None:
        self._add_fault(_Fault("hang", n, seconds=seconds, route=route, method=method, apply=apply, where=where))

    def outage(self, seconds: float, mode: str = "fail", status: int = 502, hang_seconds: float = 10.0,
               route: Optional[str] = None, method: Optional[str] = None) -> None:
        """Every matching request fails for `seconds` from now (see the module docstring)."""
        if mode == "refuse":
            self._down_for(seconds, None)
            return
        if mode not in ("fail", "reset", "drop", "hang"):
            raise ValueError(f"unknown outage mode {mode!r}")
        fault = _Fault("outage", 1 << 62, status=status, seconds=hang_seconds, route=route, method=method,
                       apply=False, until=time.monotonic() + seconds, mode=mode)
        fault.method = fault.method and fault.method.upper()
        with self._lock:
            self._faults.insert(0, fault)

    def outage_after(self, route_key: str, seconds: float, **outage: Any) -> None:
        """`outage(seconds, **outage)`, beginning once a request counted under `route_key` ("GET
        /pattern", or a key of extra_count_keys) has been answered 2xx (the first such answer starts it)."""
        with self._lock:
            self._outage_triggers.append((route_key, seconds, outage))

    def _trigger_outage(self, keys: list[str], status: int) -> None:
        if not 200 <= status < 300:
            return
        with self._lock:
            due = [t for t in self._outage_triggers if t[0] in keys]
            self._outage_triggers = [t for t in self._outage_triggers if t[0] not in keys]
        for _, seconds, outage in due:
            self.outage(seconds, **outage)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def count(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0)

    def bump(self, key: str, n: int = 1) -> None:
        """Add `n` to the count of `key` (which need not be a route)."""
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + n

    def extra_count_keys(self, req: Request) -> Iterable[str]:
        """Override to count a request under further keys (req.params is already filled in)."""
        return ()

    def request_log(self) -> list[dict]:
        with self._lock:
            return [dict(entry) for entry in self._log]

    def reset_counts(self) -> None:
        with self._lock:
            self._counts.clear()
            self._log.clear()

    def reset(self) -> None:
        self.reset_counts()
        with self._lock:
            self._faults.clear()
            self._outage_triggers.clear()
        self._latency = 0.0

    def _add_fault(self, fault: _Fault) -> None:
        fault.method = fault.method and fault.method.upper()
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, req: Request, pattern: str) -> Optional[_Fault]:
        with self._lock:
            fault = next((f for f in self._faults if f.matches(req, pattern)), None)
            if fault is not None:
                fault.n -= 1
                if fault.until is not None:
                    self._counts["outage"] = self._counts.get("outage", 0) + 1
            self._faults = [f for f in self._faults if f.n > 0]
            return fault

    def _handle(self, req: Request) -> Optional[Response]:
        """The answer to send, or None to drop the connection."""
        pattern, handler, req.params = self._match(req.method, req.path)
        key = f"{req.method} {pattern}"
        counted = [*self.extra_count_keys(req), key]
        with self._lock:
            for name in counted:
                self._counts[name] = self._counts.get(name, 0) + 1
        started = time.monotonic()
        response = self._answer(req, pattern, handler)
        with self._lock:
            self._log.append({"method": req.method, "path": req.path, "query": req.query, "route": key,
                              "status": response.status if response else 0,
                              "elapsed_ms": (time.monotonic() - started) * 1000.0})
        if self._outage_triggers:
            self._trigger_outage(counted, response.status if response else 0)
        return response

    def _match(self, method: str, path: str) -> tuple[str, Optional[Callable], dict[str, str]]:
        for verb, regex, pattern, handler in self._routes:
            found = regex.match(path)
            if found and verb == method:
                return pattern, handler, {k: unquote(v) for k, v in found.groupdict().items()}
        return path, None, {}

    def _answer(self, req: Request, pattern: str, handler: Optional[Callable]) -> Optional[Response]:
        fault = self._take_fault(req, pattern)
        kind = fault.kind if fault else None
        if kind == "outage":
            kind = fault.mode
            if kind == "reset":
                return RESET
        if kind == "drop" or (kind == "hang" and (self._stopped.wait(fault.seconds) or not fault.apply)):
            return None
        if self._latency:
            self._stopped.wait(self._latency)
        if kind == "fail":
            return Response(fault.status, fault.body, "text/html")
        try:
            denied = self.authenticate(req)
            if denied is not None:
                return denied
            return handler(req) if handler else Response(404, NOT_FOUND, "text/html")
        except HTTPError as err:
            return err.response
        except Exception:
            return Response(500, traceback.format_exc().encode(), "text/plain")

    def _control(self, method: str, name: str, payload: dict) -> tuple[int, Any]:
        if method == "GET" and name in ("counts", "log"):
            return 200, {"counts": self.counts()} if name == "counts" else {"log": self.request_log()}
        actions = {"latency": lambda: self.latency(float(payload.get("ms", 0))),
                   "reset": self.reset, "reset_counts": self.reset_counts,
                   "faults": lambda: self._add_fault(_Fault(**{**payload, "body": b""})),
                   "outage": lambda: self.outage(**payload)}
        if method == "POST" and name == "down":
            return 200, {"ok": True, "down_for": float(payload.get("seconds", 1.0))}
        if method == "POST" and name in actions:
            actions[name]()
            return 200, {"ok": True}
        if method == "POST" and name in self._controls:
            return 200, {"result": self._controls[name](payload)}
        return 404, {"error": f"unknown control {method} {name}"}

    def _down_for(self, seconds: float, spare: Optional[socket.socket]) -> None:
        self.down(spare)
        timer = threading.Timer(seconds, lambda: self._stopped.is_set() or self.up())
        timer.daemon = True
        timer.start()


def _close_quietly(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()


def _make_handler(owner: FakeHTTPServer) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # A small write after an unacknowledged one waits for the peer's delayed ACK (~40 ms)
        # under Nagle's algorithm; answers also go out in one write (see send).
        disable_nagle_algorithm = True

        def setup(self) -> None:
            self.timeout = owner.idle_timeout  # an idle keep-alive connection is closed after this
            super().setup()
            with owner._lock:
                owner._connections.add(self.connection)

        def finish(self) -> None:
            with owner._lock:
                owner._connections.discard(self.connection)
            try:
                super().finish()
            except OSError:
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def dispatch(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if parts.path.startswith(CONTROL_PREFIX):
                self.control(parts.path[len(CONTROL_PREFIX):], body)
                return
            query = parse_qsl(parts.query, keep_blank_values=True)
            if owner.keeps_idle_connection(self.headers):
                self.connection.settimeout(None)
            response = owner._handle(Request(self.command, unquote(parts.path), query, self.headers, body,
                                             target=self.path))
            if response is RESET:
                self.close_connection = True
                try:  # linger 0: close() sends an RST, as a reset by a proxy or a NAS does
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
                self.connection.close()
                return
            if response is None:
                self.close_connection = True
                _close_quietly(self.connection)
            elif response.takeover is not None:
                self.switch_protocols(response)
            else:
                self.send(response)

        def switch_protocols(self, response: Response) -> None:
            self.close_connection = True
            head = "".join(f"{name}: {value}\r\n" for name, value in response.headers)
            def handshake() -> None:
                self.wfile.write(f"HTTP/1.1 101 Switching Protocols\r\n{head}\r\n".encode("latin-1"))
                self.wfile.flush()

            try:
                self.connection.settimeout(None)
                assert response.takeover is not None
                response.takeover(self.connection, self.rfile, handshake)
            except OSError:
                pass

        def control(self, name: str, body: bytes) -> None:
            try:
                status, result = owner._control(self.command, name, json.loads(body or b"{}"))
            except (TypeError, ValueError, KeyError) as err:
                status, result = 400, {"error": repr(err)}
            if "down_for" in result:
                owner._down_for(result["down_for"], spare=self.connection)
            self.close_connection = True
            self.send(Response(status, json.dumps(result).encode(), "application/json"))

        def send(self, response: Response) -> None:
            """Status line, headers and body in one write."""
            try:
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(response.body)))
                for name, value in response.headers:
                    self.send_header(name, value)
                body = b"" if self.command == "HEAD" else response.body
                head = getattr(self, "_headers_buffer", None)  # what end_headers would flush
                if head is None:  # an HTTP/0.9 request: no headers at all
                    self.wfile.write(body)
                else:
                    head += [b"\r\n", body]
                    self.flush_headers()
            except OSError:
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = dispatch

    return Handler


class FakeControl:
    """Drives a fake's control API over HTTP, from any process."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.url, self.timeout = url.rstrip("/"), timeout

    def call(self, name: str, payload: Optional[dict] = None, method: str = "POST") -> Any:
        data = None if method == "GET" else json.dumps(payload or {}).encode()
        request = urllib.request.Request(f"{self.url}{CONTROL_PREFIX}{name}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:
            return json.loads(answer.read())

    def counts(self) -> dict[str, int]:
        return self.call("counts", method="GET")["counts"]

    def request_log(self) -> list[dict]:
        return self.call("log", method="GET")["log"]

    def fail_next(self, n: int = 1, status: int = 503, **where: Optional[str]) -> None:
        self.call("faults", {"kind": "fail", "n": n, "status": status, **where})

    def drop_next(self, n: int = 1, **where: Optional[str]) -> None:
        self.call("faults", {"kind": "drop", "n": n, **where})

    def hang_next(self, n: int = 1, seconds: float = 10.0, apply: bool = True,
                  **where: Optional[str]) -> None:
        self.call("faults", {"kind": "hang", "n": n, "seconds": seconds, "apply": apply, **where})

    def outage(self, seconds: float, mode: str = "fail", status: int = 502, hang_seconds: float = 10.0,
               **where: Optional[str]) -> None:
        self.call("outage", {"seconds": seconds, "mode": mode, "status": status, "hang_seconds": hang_seconds,
                             **where})

    def latency(self, ms: float) -> None:
        self.call("latency", {"ms": ms})

    def down(self, seconds: float) -> None:
        self.call("down", {"seconds": seconds})

    def reset(self) -> None:
        self.call("reset")

    def reset_counts(self) -> None:
        self.call("reset_counts")
