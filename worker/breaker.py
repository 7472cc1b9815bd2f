"""Stops Plex traffic while Plex refuses connections, and finds out when it is back.

After `threshold` connection failures in a row the breaker opens: the worker sends nothing but
one probe at a time (the next due job), with a growing, jittered delay between probes, and
charges no job an attempt for a connection failure. Any outcome other than a connection
failure (Plex answered) closes it and work resumes.
"""
from __future__ import annotations

import random
from typing import Optional


class CircuitBreaker:
    def __init__(self, threshold: int = 3, probe_base: float = 5.0, probe_cap: float = 300.0,
                 rng: Optional[random.Random] = None) -> None:
        self.threshold = max(1, threshold)
        self.probe_base = probe_base
        self.probe_cap = probe_cap
        self.rng = rng or random.Random()
        self.failures = 0  # connection failures in a row
        self.opened_at: Optional[float] = None
        self.next_probe_at: Optional[float] = None
        self._probe_failures = 0

    @property
    def is_open(self) -> bool:
        return self.opened_at is not None

    def allows(self, now: float) -> bool:
        """Closed, or open and a probe is due."""
        return self.next_probe_at is None or now >= self.next_probe_at

    def record_failure(self, now: float) -> bool:
        """Count a connection failure; True when the breaker is open afterwards (it just opened
        or a probe failed), meaning the job must not be charged."""
        self.failures += 1
        if self.is_open:
            self._probe_failures += 1
        elif self.failures >= self.threshold:
            self.opened_at = now
            self._probe_failures = 0
        else:
            return False
        delay = min(self.probe_cap, self.probe_base * 2 ** min(self._probe_failures, 30))
        self.next_probe_at = now + delay / 2 + self.rng.uniform(0.0, delay / 2)
        return True

    def record_success(self) -> bool:
        """Plex answered: close. True when this closed an open breaker."""
        was_open = self.is_open
        self.failures = 0
        self.opened_at = self.next_probe_at = None
        self._probe_failures = 0
        return was_open

    def snapshot(self) -> dict:
        return {"state": "open" if self.is_open else "closed", "failures": self.failures,
                "opened_at": self.opened_at, "next_probe_at": self.next_probe_at}
