"""What the drainer is doing, for a `status` task that runs in another process.

A small key/value table: the drainer's pid and heartbeat, whether it is paused and why (the
last configuration error with its time), the circuit breakers' states, and when a job last
succeeded. Values are JSON. Only the drainer writes them; anyone may `read()` them, typed, as a
`DrainerState` (with `BreakerState.down_line` its one formatting). The one row others write is
a request: `request_retry` asks a paused drainer to read the settings again.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, Mapping, Optional

from common.errors import MAINTENANCE
from sync_queue.db import Database

PID, STARTED_AT, HEARTBEAT_AT, STOPPED_AT = "pid", "started_at", "heartbeat_at", "stopped_at"
BREAKER, CONFIG_ERROR, LAST_SUCCESS_AT = "breaker", "config_error", "last_success_at"
STASH_BREAKER, WAITING = "stash_breaker", "waiting"  # Stash's breaker; scenes queued when a breaker changed
RETRY_REQUESTED_AT = "retry_requested_at"  # a task asks a paused drainer to read the settings again now


@dataclass(frozen=True)
class BreakerState:
    """One circuit breaker as the drainer last recorded it (worker.breaker.CircuitBreaker.state)."""

    state: str = "closed"
    failures: int = 0  # server-wide failures in a row
    opened_at: Optional[float] = None
    next_probe_at: Optional[float] = None
    probes: int = 0  # failed probes since it opened
    openings: int = 0
    last_error: str = ""

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    @property
    def in_maintenance(self) -> bool:
        """Opened by Plex's 503 Maintenance page (database migrations after an update, P10)."""
        return MAINTENANCE in self.last_error

    @classmethod
    def from_json(cls, value: object) -> "BreakerState":
        data = value if isinstance(value, dict) else {}
        return cls(str(data.get("state") or "closed"), int(_number(data.get("failures")) or 0),
                   _number(data.get("opened_at")), _number(data.get("next_probe_at")),
                   int(_number(data.get("probes")) or 0), int(_number(data.get("openings")) or 0),
                   str(data.get("last_error") or ""))

    def to_json(self) -> Dict[str, object]:
        return {"state": self.state, "failures": self.failures, "opened_at": self.opened_at,
                "next_probe_at": self.next_probe_at, "probes": self.probes, "openings": self.openings,
                "last_error": self.last_error}

    def down_line(self, name: str, waiting: Optional[int]) -> str:
        """"Plex has not been answering since 14:02 (5 probes); 1,500 scenes waiting", led by
        "Plex is upgrading its database (it answers 503 Maintenance): " during a maintenance."""
        at = datetime.fromtimestamp(self.opened_at).strftime("%H:%M") if self.opened_at is not None else "?"
        line = f"{name} has not been answering since {at} ({self.probes} probe{'' if self.probes == 1 else 's'})"
        if waiting is not None:
            line += f"; {waiting:,} scene{'' if waiting == 1 else 's'} waiting"
        return f"{MAINTENANCE} (it answers 503 Maintenance): {line}" if self.in_maintenance else line


@dataclass(frozen=True)
class PauseRecord:
    """The configuration error a drainer paused on, and when."""

    message: str
    at: float


@dataclass(frozen=True)
class DrainerState:
    """Everything the drainer last recorded (None: never recorded)."""

    pid: Optional[int] = None
    started_at: Optional[float] = None
    heartbeat_at: Optional[float] = None
    stopped_at: Optional[float] = None  # None while running
    plex: BreakerState = field(default_factory=BreakerState)
    stash: BreakerState = field(default_factory=BreakerState)
    waiting: Optional[int] = None  # scenes waiting when a breaker last changed
    config_error: Optional[PauseRecord] = None
    last_success_at: Optional[float] = None

    @classmethod
    def from_json(cls, values: Mapping[str, object]) -> "DrainerState":
        error = values.get(CONFIG_ERROR)
        pause = None
        if isinstance(error, dict) and error.get("message"):
            pause = PauseRecord(str(error["message"]), _number(error.get("at")) or 0.0)
        pid, waiting = _number(values.get(PID)), _number(values.get(WAITING))
        return cls(int(pid) if pid is not None else None, _number(values.get(STARTED_AT)),
                   _number(values.get(HEARTBEAT_AT)), _number(values.get(STOPPED_AT)),
                   BreakerState.from_json(values.get(BREAKER)), BreakerState.from_json(values.get(STASH_BREAKER)),
                   int(waiting) if waiting is not None else None, pause, _number(values.get(LAST_SUCCESS_AT)))


def _number(value: object) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


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

    def read(self) -> DrainerState:
        """What the drainer last recorded, typed."""
        return DrainerState.from_json(
            {key: json.loads(value) for key, value in self.db.query("SELECT key, value FROM drainer_status")})

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

