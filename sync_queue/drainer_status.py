"""What the drainer is doing, for a `status` task that runs in another process.

A small key/value table: the drainer's pid and heartbeat, whether it is paused and why (the
last configuration error with its time), the circuit breaker's state, and when a job last
succeeded. Values are JSON. Only the drainer writes them; anyone may read `snapshot()`. The one
row others write is a request: `request_retry` asks a paused drainer to read the settings again.
"""
from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any, Dict, Mapping, Optional

from sync_queue.db import Database

PID, STARTED_AT, HEARTBEAT_AT, STOPPED_AT = "pid", "started_at", "heartbeat_at", "stopped_at"
BREAKER, CONFIG_ERROR, LAST_SUCCESS_AT = "breaker", "config_error", "last_success_at"
STASH_BREAKER, WAITING = "stash_breaker", "waiting"  # Stash's breaker; scenes queued when a breaker changed
RETRY_REQUESTED_AT = "retry_requested_at"  # a task asks a paused drainer to read the settings again now


class DrainerStatus:
    def __init__(self, db: Database) -> None:
        self.db = db

    def set_many(self, values: Dict[str, Any], now: Optional[float] = None) -> None:
        now = time.time() if now is None else now
        with self.db.transaction() as connection:
            connection.executemany(
                "INSERT OR REPLACE INTO drainer_status (key, value, updated_at) VALUES (?, ?, ?)",
                [(key, json.dumps(value), now) for key, value in values.items()])

    def set(self, key: str, value: Any, now: Optional[float] = None) -> None:
        self.set_many({key: value}, now)

    def get(self, key: str, default: Any = None) -> Any:
        row = self.db.query_one("SELECT value FROM drainer_status WHERE key = ?", (key,))
        return json.loads(row[0]) if row else default

    def snapshot(self) -> Dict[str, Any]:
        """Every key: pid, started_at, heartbeat_at, stopped_at (None while running), breaker and
        stash_breaker ({"state", "failures", "opened_at", "next_probe_at", "probes", "openings",
        "last_error"}), waiting, config_error ({"message", "at"} or None), last_success_at."""
        return {key: json.loads(value) for key, value in self.db.query("SELECT key, value FROM drainer_status")}

    def record_started(self, pid: int, now: float) -> None:
        self.set_many({PID: pid, STARTED_AT: now, HEARTBEAT_AT: now, STOPPED_AT: None}, now)

    def record_stopped(self, now: float) -> None:
        self.set_many({STOPPED_AT: now, HEARTBEAT_AT: now}, now)

    def record_config_error(self, message: Optional[str], now: float) -> None:
        self.set(CONFIG_ERROR, {"message": message, "at": now} if message else None, now)

    def request_retry(self, now: float) -> None:
        """Ask a drainer paused on a configuration error to build its processor again now (the
        settings may have been fixed) instead of at the end of its pause. Any process may ask."""
        self.set(RETRY_REQUESTED_AT, now, now)

    def retry_requested_since(self, since: float) -> bool:
        at = self.get(RETRY_REQUESTED_AT)
        return isinstance(at, (int, float)) and at >= since


def down_line(name: str, breaker: Mapping[str, object], waiting: Optional[int]) -> str:
    """"Plex has not been answering since 14:02 (5 probes); 1,500 scenes waiting"."""
    since = breaker.get("opened_at")
    at = datetime.fromtimestamp(float(since)).strftime("%H:%M") if isinstance(since, (int, float)) else "?"
    probes = int(breaker.get("probes") or 0)  # type: ignore[call-overload]
    line = f"{name} has not been answering since {at} ({probes} probe{'' if probes == 1 else 's'})"
    if waiting is not None:
        line += f"; {waiting:,} scene{'' if waiting == 1 else 's'} waiting"
    return line
