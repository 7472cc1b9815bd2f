"""The delays and limits behind the treatments of `common.errors.TABLE`, decided here and nowhere else.

`decide(error, attempts)` looks the error up in the table and answers with one action:
- retry (item failures): exponential backoff with full jitter, at most `max_retries` times, then
  dead letter; not in Plex yet: about 1 min, 5 min, 15 min, 1 h, 6 h, then dead letter;
- a Plex 500 the job gets for the first time: wait without charging (`repeated` says whether it
  had one before; the breaker decides separately whether 500s are spreading over items);
- dead letter at once (permanent), drop (scene gone), pause (configuration);
- wait (Plex- or Stash-wide): requeue without charging; the breaker holds the traffic.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Tuple

from common.errors import (
    DEAD_LETTER,
    DROP,
    PAUSE,
    RETRY_IF_REPEATED,
    SLOW_RETRY,
    WAIT_FOR_PLEX,
    WAIT_FOR_STASH,
    SyncError,
    failure_of,
)
from common.log import bounded
from common.redact import redact

NOT_IN_PLEX_SCHEDULE = (60.0, 300.0, 900.0, 3600.0, 21600.0)
MAX_MESSAGE = 500


class Action(Enum):
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"
    DROP = "drop"
    PAUSE = "pause"
    WAIT = "wait"  # requeue without charging an attempt


@dataclass(frozen=True)
class Decision:
    action: Action
    delay: float = 0.0  # RETRY: seconds until the job is due again


@dataclass
class RetryPolicy:
    max_retries: int = 5
    backoff_base: float = 10.0
    backoff_cap: float = 900.0
    min_delay: float = 1.0  # full jitter may draw ~0; never retry in a hot loop
    not_in_plex_schedule: Tuple[float, ...] = NOT_IN_PLEX_SCHEDULE
    rng: random.Random = field(default_factory=random.Random)

    def decide(self, error: BaseException, attempts: int, repeated: bool = False) -> Decision:
        """The action for a job that has already been charged `attempts` failures before this one.

        `repeated`: the job's previous failure was of the same kind (matters for Plex's 500)."""
        treatment = failure_of(error).treatment
        if treatment == DROP:
            return Decision(Action.DROP)
        if treatment == PAUSE:
            return Decision(Action.PAUSE)
        if treatment in (WAIT_FOR_PLEX, WAIT_FOR_STASH):
            return Decision(Action.WAIT)
        if treatment == DEAD_LETTER:
            return Decision(Action.DEAD_LETTER)
        failures = attempts + 1
        if treatment == SLOW_RETRY:
            if failures > len(self.not_in_plex_schedule):
                return Decision(Action.DEAD_LETTER)
            base = self.not_in_plex_schedule[failures - 1]
            return Decision(Action.RETRY, base * self.rng.uniform(0.9, 1.1))
        if treatment == RETRY_IF_REPEATED and not repeated:
            return Decision(Action.WAIT, self.backoff(1))
        if failures > self.max_retries:
            return Decision(Action.DEAD_LETTER)
        return Decision(Action.RETRY, self.backoff(failures))

    def backoff(self, failures: int) -> float:
        """Full jitter: uniformly anywhere below an exponentially growing, capped ceiling."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** min(failures - 1, 30))
        return max(self.min_delay, self.rng.uniform(0.0, ceiling))


def error_kind(error: BaseException) -> str:
    return error.kind if isinstance(error, SyncError) else "unexpected"


def user_message(error: BaseException, secrets: Iterable[str] = ()) -> str:
    """One line for logs, job rows and dead letters: secrets masked, length bounded."""
    text = " ".join(str(error).split())
    if not isinstance(error, SyncError):
        text = f"unexpected {type(error).__name__}: {text}" if text else f"unexpected {type(error).__name__}"
    return bounded(redact(text or type(error).__name__, secrets), MAX_MESSAGE)
