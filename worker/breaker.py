"""Stops all traffic to a server (Plex or Stash) while it is down, and finds out when it is back.

One breaker per server. Which failures count is the table in `common.errors`: a Plex-wide (or
Stash-wide) failure counts at once; a Plex 500 counts only once 500s have come from
`spread` different items in a row. When the breaker opens, nothing but one cheap probe at a
time may reach the server, about `probe_base` seconds after opening, doubling to `probe_cap`,
each delay jittered; the first probe that succeeds closes it and work resumes at full speed.
Slow answers are answers: only failures count, so a latency spike never opens it.

Contract for the worker and any pool of threads working for it (every method is thread-safe):
    breaker.open_for_traffic()          -> may a job request go out now? (False while open)
    breaker.record_success()            -> the server answered a job request (closes, resets runs)
    breaker.record_failure(now, error, subject)
                                        -> count a failure of a job request; True when the breaker
                                           is open afterwards (the caller stops its batch)
    breaker.probe_due(now); breaker.record_probe(ok, now, error)
                                        -> only the worker probes, one probe at a time
    breaker.state()                     -> its BreakerState, for the drainer status

`Breakers` holds the two by scope ("plex", "stash"). It is the one way every processor reports a
request (`report(server, error, subject)`): which breaker a failure counts for, and whether it
counts at all, is the policy's answer (`worker.policy.about`), never the call site's.
"""
from __future__ import annotations

import random
import threading
import time
from typing import Callable, Dict, List, Optional, Set

from common.errors import CONFIG, ITEM, PLEX, SPREAD_ITEMS, STASH, PlexServerError
from sync_queue.drainer_status import BreakerState
from worker.policy import about


class CircuitBreaker:
    def __init__(self, threshold: int = 1, probe_base: float = 1.0, probe_cap: float = 60.0,
                 rng: Optional[random.Random] = None, spread: int = SPREAD_ITEMS) -> None:
        self.threshold = max(1, threshold)
        self.spread = max(1, spread)
        self.probe_base = probe_base
        self.probe_cap = probe_cap
        self.rng = rng or random.Random()
        self.failures = 0  # server-wide failures in a row
        self.opened_at: Optional[float] = None
        self.next_probe_at: Optional[float] = None
        self.openings = 0  # how often it opened in this process
        self.last_error = ""
        self._probe_failures = 0
        self._items_failing: Set[object] = set()  # items with a 500 since the last success
        self._lock = threading.RLock()

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    @property
    def probes(self) -> int:
        """Probes that failed since the breaker opened."""
        return self._probe_failures

    def open_for_traffic(self) -> bool:
        with self._lock:
            return self.opened_at is None

    def probe_due(self, now: float) -> bool:
        with self._lock:
            return self.next_probe_at is not None and now >= self.next_probe_at

    def record_failure(self, now: float, error: Optional[BaseException] = None, subject: object = None) -> bool:
        """Count a failure of a request; True when the breaker is open afterwards.

        `error` None or server-wide: counts towards `threshold`. A `PlexServerError` counts
        only as the 500 of `subject`: `spread` different subjects in a row open the breaker.
        """
        with self._lock:
            if error is not None:
                self.last_error = str(error)
            if isinstance(error, PlexServerError) and not self.is_open:
                self._items_failing.add(subject)
                if len(self._items_failing) >= self.spread:
                    self._open(now)
                return self.is_open
            self.failures += 1
            if self.is_open:
                if self.next_probe_at is not None and now < self.next_probe_at:
                    return True  # a request in flight when it opened, not a probe: it changes no delay
                self._probe_failures += 1
            elif self.failures >= self.threshold:
                self._open(now)
                return True
            else:
                return False
            self._schedule(now)
            return True

    def record_probe(self, ok: bool, now: float, error: Optional[BaseException] = None) -> bool:
        """The outcome of a probe; True when this closed the breaker."""
        if ok:
            return self.record_success()
        self.record_failure(now, error)
        return False

    def record_success(self) -> bool:
        """The server answered: close. True when this closed an open breaker."""
        with self._lock:
            was_open = self.is_open
            self.failures = 0
            self.opened_at = self.next_probe_at = None
            self._probe_failures = 0
            self._items_failing.clear()
            return was_open

    def _open(self, now: float) -> None:
        self.opened_at = now
        self.openings += 1
        self._probe_failures = 0
        self._items_failing.clear()
        self._schedule(now)

    def _schedule(self, now: float) -> None:
        delay = min(self.probe_cap, self.probe_base * 2 ** min(self._probe_failures, 30))
        self.next_probe_at = now + delay / 2 + self.rng.uniform(0.0, delay / 2)

    def state(self) -> BreakerState:
        with self._lock:
            return BreakerState("open" if self.is_open else "closed", self.failures, self.opened_at,
                                self.next_probe_at, self._probe_failures, self.openings,
                                self.last_error if self.is_open else "")


class Breakers:
    """Plex's and Stash's breakers by scope: processors report to them, the worker reads them."""

    def __init__(self, plex: CircuitBreaker, stash: CircuitBreaker, clock: Callable[[], float] = time.time) -> None:
        self.plex = plex
        self.stash = stash
        self.clock = clock
        self.by_scope: Dict[str, CircuitBreaker] = {PLEX: plex, STASH: stash}

    def report(self, server: str, error: Optional[BaseException] = None, subject: object = None) -> bool:
        """How one request to `server` ("plex" or "stash") went; True when the failure concerns
        more than `subject` (a server is down, the settings are wrong, 500s spread): stop the batch.

        A server-wide failure counts for the breaker of the server it is about; a Plex 500 counts
        as the 500 of `subject`; an item's failure is an answer, so it closes `server`'s run of
        failures like a success; a configuration failure says nothing about a server."""
        if error is None:
            self.by_scope[server].record_success()
            return False
        decided = about(error)
        if decided.breaker is not None:
            opened = self.by_scope[decided.breaker].record_failure(self.clock(), error, subject)
            return opened or decided.scope != ITEM
        if decided.scope == CONFIG:
            return True
        self.by_scope[server].record_success()  # the server answered (an item's 404 or 400 too)
        return False

    def is_open(self) -> Dict[str, bool]:
        return {scope: breaker.is_open for scope, breaker in self.by_scope.items()}

    def open_scopes(self) -> List[str]:
        return [scope for scope, breaker in self.by_scope.items() if breaker.is_open]

    def next_probe_at(self) -> Optional[float]:
        due = [b.next_probe_at for b in self.by_scope.values() if b.next_probe_at is not None]
        return min(due) if due else None

