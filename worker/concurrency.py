"""How many scenes of a batch are written to Plex at once, and the gate a Plex-wide failure closes.

Plex is one server over one SQLite database: a few requests in flight hide the network's answer
time, many only queue up inside Plex. `AdaptiveLimit` is additive increase, multiplicative
decrease (as TCP): it starts at the configured ceiling, halves on a Plex-wide failure or when
answer times climb well above the best seen, and grows back by one after a window of successes,
never above the ceiling. `PlexGate` is the small interface the scene workers consult: is Plex
open for traffic, and record a success or a Plex-wide failure. A failure seen by one worker
closes the gate, so the others start no new scene. Stdlib only.
"""
from __future__ import annotations

import threading
from typing import Optional, Protocol

SLOW_FACTOR = 3.0  # answer times this many times the best seen count as "climbing"
SLOW_FLOOR_SECONDS = 0.2  # ...and only above this: loopback jitter is not congestion
SMOOTHING = 0.2  # weight of the newest answer time in the running average


class PlexGate(Protocol):
    def is_open(self) -> bool: ...

    def record_success(self, seconds: float) -> None: ...

    def record_plex_wide_failure(self, error: BaseException) -> None: ...


class AdaptiveLimit:
    """The number of scenes that may be in flight now: 1..ceiling, AIMD. Thread-safe."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, int(ceiling))
        self.limit = self.ceiling
        self._lock = threading.Lock()
        self._streak = 0  # successes since the last change
        self._average: Optional[float] = None
        self._best: Optional[float] = None

    def record_success(self, seconds: float) -> None:
        with self._lock:
            self._average = seconds if self._average is None else (
                (1 - SMOOTHING) * self._average + SMOOTHING * seconds)
            self._best = self._average if self._best is None else min(self._best, self._average)
            if self._average > max(SLOW_FLOOR_SECONDS, SLOW_FACTOR * self._best) and self._streak >= self.limit:
                self._decrease()
                return
            self._streak += 1
            if self._streak >= self.limit and self.limit < self.ceiling:
                self.limit += 1
                self._streak = 0

    def record_failure(self) -> None:
        with self._lock:
            self._decrease()

    def _decrease(self) -> None:
        self.limit = max(1, self.limit // 2)
        self._streak = 0


class BatchGate:
    """The PlexGate of one batch: open until a worker reports a Plex-wide failure."""

    def __init__(self, limit: AdaptiveLimit) -> None:
        self.limit = limit
        self.failure: Optional[BaseException] = None
        self._closed = threading.Event()

    def is_open(self) -> bool:
        return not self._closed.is_set()

    def record_success(self, seconds: float) -> None:
        self.limit.record_success(seconds)

    def record_plex_wide_failure(self, error: BaseException) -> None:
        if not self._closed.is_set():
            self.failure = error
            self._closed.set()
            self.limit.record_failure()
