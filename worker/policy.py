"""Every failure decision of the drainer: the actions, delays and limits behind the treatments of
`common.errors.TABLE`, decided here and nowhere else.

`RetryPolicy.decide(error, attempts, ...)` looks the error up in the table and answers with one
`Decision`: the action, the delay, whether the failure is charged to the job, the failure's scope
(item, plex, stash, configuration, nothing) and the server whose breaker counts it.
- retry (item failures): exponential backoff with full jitter, at most `max_retries` times, then
  dead letter; not in Plex yet: about 1 min, 5 min, 15 min, 1 h, 6 h, then dead letter;
- a Plex 500 the job gets for the first time: wait without charging (`repeated` says whether it
  had one before); while Plex's breaker is open (500s spreading over items) it only waits;
- dead letter at once (permanent), drop (scene gone), pause (configuration);
- wait (Plex- or Stash-wide): requeue without charging; the breaker holds the traffic.
`decide_start` answers for a processor that could not be built, `decide_change` for an entity
change whose scenes could not be listed; `about(error)` is the part of a decision the breakers
need (scope and counting breaker) without any delay drawn.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import Enum
from typing import Collection, Iterable, Optional, Tuple

from common.errors import (
    DEAD_LETTER,
    DROP,
    PAUSE,
    PLEX,
    RETRY_IF_REPEATED,
    SLOW_RETRY,
    STASH,
    WAIT_FOR_PLEX,
    WAIT_FOR_STASH,
    SyncError,
    failure_of,
)
from common.log import bounded
from common.redact import redact

NOT_IN_PLEX_SCHEDULE = (60.0, 300.0, 900.0, 3600.0, 21600.0)
MAX_MESSAGE = 500
# the breaker that counts a treatment's failures (a Plex 500 counts per item: see worker.breaker)
_COUNTED_BY = {WAIT_FOR_PLEX: PLEX, WAIT_FOR_STASH: STASH, RETRY_IF_REPEATED: PLEX}


class Action(Enum):
    RETRY = "retry"
    DEAD_LETTER = "dead_letter"
    DROP = "drop"
    PAUSE = "pause"
    WAIT = "wait"  # requeue without charging an attempt


@dataclass(frozen=True)
class Decision:
    action: Action
    delay: float = 0.0  # RETRY / WAIT: seconds until the job is due again
    scope: str = "item"  # whose failure it is: common.errors ITEM, PLEX, STASH, CONFIG or NOTHING
    breaker: Optional[str] = None  # PLEX or STASH: that server's breaker counts this failure

    @property
    def charged(self) -> bool:
        """Does the failure cost the job one of its attempts?"""
        return self.action in (Action.RETRY, Action.DEAD_LETTER)


def about(error: BaseException) -> Decision:
    """Scope and counting breaker of `error`, without an action (the breakers' question)."""
    row = failure_of(error)
    return Decision(Action.WAIT, scope=row.scope, breaker=_COUNTED_BY.get(row.treatment))


@dataclass
class RetryPolicy:
    max_retries: int = 5
    backoff_base: float = 10.0
    backoff_cap: float = 900.0
    min_delay: float = 1.0  # full jitter may draw ~0; never retry in a hot loop
    not_in_plex_schedule: Tuple[float, ...] = NOT_IN_PLEX_SCHEDULE
    rng: random.Random = field(default_factory=random.Random)

    def decide(self, error: BaseException, attempts: int, repeated: bool = False,
               open_breakers: Collection[str] = ()) -> Decision:
        """The decision for a job that has already been charged `attempts` failures before this one.

        `repeated`: the job's previous failure was of the same kind (matters for Plex's 500);
        `open_breakers`: the servers whose breaker is open now (a failure one of them counts waits)."""
        row = failure_of(error)
        scope, breaker = row.scope, _COUNTED_BY.get(row.treatment)
        treatment = row.treatment
        if treatment == DROP:
            return Decision(Action.DROP, scope=scope)
        if treatment == PAUSE:
            return Decision(Action.PAUSE, scope=scope)
        if treatment in (WAIT_FOR_PLEX, WAIT_FOR_STASH) or breaker in open_breakers:
            return Decision(Action.WAIT, scope=scope, breaker=breaker)
        if treatment == DEAD_LETTER:
            return Decision(Action.DEAD_LETTER, scope=scope)
        failures = attempts + 1
        if treatment == SLOW_RETRY:
            if failures > len(self.not_in_plex_schedule):
                return Decision(Action.DEAD_LETTER, scope=scope)
            base = self.not_in_plex_schedule[failures - 1]
            return Decision(Action.RETRY, base * self.rng.uniform(0.9, 1.1), scope=scope)
        if treatment == RETRY_IF_REPEATED and not repeated:
            return Decision(Action.WAIT, self.backoff(1), scope=scope, breaker=breaker)
        if failures > self.max_retries:
            return Decision(Action.DEAD_LETTER, scope=scope, breaker=breaker)
        return Decision(Action.RETRY, self.backoff(failures), scope=scope, breaker=breaker)

    def decide_start(self, error: BaseException) -> Decision:
        """A processor could not be built: wait for a server that is down (building again is its
        probe), else pause and read the settings again (a bug pauses too: nothing to charge)."""
        decided = about(error)
        if decided.scope in (PLEX, STASH):
            return decided
        return Decision(Action.PAUSE, scope=decided.scope)

    def decide_change(self, error: BaseException, attempts: int) -> Decision:
        """An entity change's scenes could not be listed: pause, try again later (at least
        `min_delay` on), or drop it (its scenes sync on their next change or the next sync task)."""
        decided = self.decide(error, attempts)
        if decided.action in (Action.RETRY, Action.WAIT):
            return Decision(decided.action, max(decided.delay, self.min_delay), decided.scope, decided.breaker)
        if decided.action is Action.DEAD_LETTER:
            return Decision(Action.DROP, scope=decided.scope, breaker=decided.breaker)
        return decided

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
