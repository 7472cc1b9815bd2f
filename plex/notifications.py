"""Plex's notification websocket (`/:/websockets/notifications`), as a stream of `playing` events.

Plex pushes `{"NotificationContainer": {"type": "playing", "PlaySessionStateNotification":
[{sessionKey, ratingKey, viewOffset, state, ...}]}}` for every client timeline report, with no
user in it (join with /status/sessions). Nothing is replayed: what happened while nobody
listened must come from history. The token travels in the `X-Plex-Token` header, never in the
URL (URLs end up in logs). Uses websocket-client, the library plexapi's AlertListener uses.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator, List, Optional

from common.errors import PlexUnreachable
from common.redact import redact


@dataclass(frozen=True)
class PlayingEvent:
    session_key: str
    rating_key: int
    state: str  # playing | paused | buffering | stopped
    view_offset_ms: int


def parse_message(text: str) -> List[PlayingEvent]:
    """The `playing` events of one websocket message (others: empty)."""
    try:
        container = json.loads(text).get("NotificationContainer") or {}
    except (ValueError, AttributeError):
        return []
    if container.get("type") != "playing":
        return []
    events = []
    for raw in container.get("PlaySessionStateNotification") or ():
        try:
            events.append(PlayingEvent(str(raw.get("sessionKey", "")), int(raw.get("ratingKey")),
                                       str(raw.get("state", "")), int(raw.get("viewOffset") or 0)))
        except (TypeError, ValueError):
            continue
    return events


class NotificationSocket:
    """One connection; `events()` yields batches until the connection drops (then raises PlexUnreachable)."""

    def __init__(self, url: str, token: str, timeout: float = 1.0) -> None:
        self.url, self._token, self.timeout = url, token, timeout
        self._socket: Optional[Any] = None

    def connect(self) -> None:
        import websocket

        try:
            self._socket = websocket.create_connection(self.url, header=[f"X-Plex-Token: {self._token}"],
                                                       timeout=max(self.timeout, 5.0))
            self._socket.settimeout(self.timeout)
        except (OSError, websocket.WebSocketException) as exc:
            raise PlexUnreachable(redact(f"Plex's notifications at {self.url} are not reachable: {exc}",
                                         (self._token,))) from None

    def events(self) -> Iterator[List[PlayingEvent]]:
        """Batches of events; an empty batch every `timeout` seconds of silence (a chance to stop)."""
        import websocket

        if self._socket is None:
            self.connect()
        while True:
            try:
                text = self._socket.recv()  # type: ignore[union-attr]
            except websocket.WebSocketTimeoutException:
                yield []
                continue
            except (OSError, websocket.WebSocketException) as exc:
                self.close()
                raise PlexUnreachable(f"Plex's notification stream dropped: {type(exc).__name__}") from None
            if not text:
                self.close()
                raise PlexUnreachable("Plex closed its notification stream")
            yield parse_message(text if isinstance(text, str) else text.decode("utf-8", "replace"))

    def close(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            try:
                sock.close()
            except Exception:
                pass
