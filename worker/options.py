"""Every delay and limit of the drainer in one place, and the clock scale tests and benches set.

`scaled(f)` shrinks every delay at once, so tests play long outages in seconds; `from_env` reads
PLEXSYNC_TIME_SCALE for the drainer started as a process.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Mapping, Tuple

from worker.policy import NOT_IN_PLEX_SCHEDULE

TIME_SCALE_ENV = "PLEXSYNC_TIME_SCALE"


@dataclass
class WorkerOptions:
    max_retries: int = 5  # until a processor is built: then the retry limit it comes with
    settle_seconds: float = 2.0
    max_settle_seconds: float = 30.0
    idle_exit_seconds: float = 60.0
    pause_seconds: float = 30.0  # how long a configuration error pauses before trying again
    paused_exit_seconds: float = 3600.0  # exit after being paused this long; the next hook restarts
    poll_seconds: float = 1.0  # longest sleep: new rows from other processes are seen this fast
    heartbeat_seconds: float = 15.0
    max_batch: int = 50
    change_page: int = 200  # scenes of a renamed tag (performer, ...) queued per step
    breaker_threshold: int = 1  # Plex-wide (or Stash-wide) failures in a row that open a breaker
    probe_base_seconds: float = 1.0  # first probe after a breaker opens; doubles on each failure
    probe_cap_seconds: float = 60.0
    backoff_base_seconds: float = 10.0
    backoff_cap_seconds: float = 900.0
    min_retry_seconds: float = 1.0
    not_in_plex_schedule: Tuple[float, ...] = NOT_IN_PLEX_SCHEDULE

    def scaled(self, factor: float) -> "WorkerOptions":
        """Every delay multiplied by `factor` (tests play a 3-minute outage in a few seconds)."""
        changed = {f.name: getattr(self, f.name) * factor for f in fields(self)
                   if f.name.endswith("_seconds")}
        changed["not_in_plex_schedule"] = tuple(delay * factor for delay in self.not_in_plex_schedule)
        return replace(self, **changed)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "WorkerOptions":
        """The defaults, scaled by PLEXSYNC_TIME_SCALE when set (a number > 0; for tests and benches)."""
        factor = time_scale(env)
        return cls().scaled(factor) if factor != 1.0 else cls()

    @property
    def max_ahead(self) -> float:
        """No row may keep the drainer waiting longer than any delay the policy itself can set."""
        return max(86400.0, 2 * max(self.not_in_plex_schedule, default=0.0), 2 * self.backoff_cap_seconds)


def time_scale(env: Mapping[str, str] = os.environ) -> float:
    """PLEXSYNC_TIME_SCALE: the factor every wait is multiplied by (a number > 0; anything else is 1)."""
    try:
        factor = float(env.get(TIME_SCALE_ENV, "") or 1.0)
    except ValueError:
        return 1.0
    return factor if factor > 0 else 1.0
