"""What a job's run leaves behind: rows to ack, jobs to requeue, dead letters, and a pause.

`outcome_of(lease, failures, policy, now, ...)` is pure apart from its log lines: it applies the
policy's decision to each failed part (the whole job, or each failed scene of a batch on its
own) and answers with what `JobQueue.record_outcome` writes in one transaction. The breakers are
read, never fed: the processor has reported every request to them while it ran.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Collection, Dict, List, Optional, Sequence, Tuple

from common.log import get_logger
from sync_queue.dead_letters import DeadLetterEntry
from sync_queue.jobs import Job
from worker.due_index import Lease
from worker.policy import Action, Decision, RetryPolicy, error_kind, user_message

log = get_logger("worker")


@dataclass
class Outcome:
    ack: List[int]  # the lease's rows: every one is removed, its follow-ups written instead
    requeue: List[Job] = field(default_factory=list)
    dead: List[DeadLetterEntry] = field(default_factory=list)
    pause: Optional[BaseException] = None  # a configuration failure: pause after recording
    succeeded: int = 0  # scenes of the job that did not fail


def outcome_of(lease: Lease, whole: Optional[BaseException], failures: Dict[int, BaseException],
               policy: RetryPolicy, now: float, *, open_breakers: Collection[str] = (),
               secrets: Sequence[str] = ()) -> Outcome:
    """The outcome of `lease`: `whole` failed the whole job, else `failures` are its failed scenes."""
    job = lease.job
    parts = failed_parts(job, whole, failures)
    outcome = Outcome(list(lease.rowids), succeeded=len(job.scene_ids) - sum(len(p.scene_ids) for p, _ in parts))
    for part, error in parts:
        decision = policy.decide(error, part.attempts, repeated=part.last_error_kind == error_kind(error),
                                 open_breakers=open_breakers)
        _apply(outcome, part, error, decision, user_message(error, secrets), now)
    return outcome


def _apply(outcome: Outcome, part: Job, error: BaseException, decision: Decision, message: str, now: float) -> None:
    kind = error_kind(error)
    if decision.action is Action.PAUSE:
        outcome.pause = outcome.pause or error
        outcome.requeue.append(part)
    elif decision.action is Action.WAIT:
        outcome.requeue.append(replace(part, not_before=now + decision.delay, last_error=message,
                                       last_error_kind=kind))
        log.debug("scenes %s: %s; waiting, not charged", ids_shown(part), message)
    elif decision.action is Action.DROP:
        log.info("scenes %s: %s; dropped", ids_shown(part), message)
    elif decision.action is Action.RETRY:
        assert decision.charged
        outcome.requeue.append(replace(part, attempts=part.attempts + 1, not_before=now + decision.delay,
                                       first_failed_at=_first(part, now), last_error=message,
                                       last_error_kind=kind))
        log.info("scenes %s: %s; retry %d in %.0fs", ids_shown(part), message, part.attempts + 1, decision.delay)
    else:
        outcome.dead.extend(_letters(part, error, message, now))
        log.warning("scenes %s moved to dead letters: %s", ids_shown(part), message)


def failed_parts(job: Job, whole: Optional[BaseException],
                 failures: Dict[int, BaseException]) -> List[Tuple[Job, BaseException]]:
    """What failed, as (job, error) pairs: the whole job, or each failed scene of a batch on its own."""
    if whole is not None:
        return [(job, whole)]
    unknown = [scene_id for scene_id in failures if scene_id not in job.scene_ids]
    if unknown:
        log.warning("processor reported scenes %s that were not in the job; ignored", unknown[:10])
    return [(job.for_scenes([scene_id]) if len(job.scene_ids) > 1 else job, error)
            for scene_id, error in failures.items() if scene_id in job.scene_ids]


def _letters(part: Job, error: BaseException, message: str, now: float) -> List[DeadLetterEntry]:
    letters = []
    for scene_id in part.scene_ids:
        single = replace(part.for_scenes([scene_id]), attempts=part.attempts + 1, not_before=0.0,
                         first_failed_at=_first(part, now), last_error=message)
        letters.append(DeadLetterEntry(scene_id, json.dumps(single.to_dict()), type(error).__name__,
                                       error_kind(error), message, single.attempts, _first(part, now), now))
    return letters


def _first(job: Job, now: float) -> float:
    return job.first_failed_at if job.first_failed_at is not None else now


def ids_shown(job: Job) -> str:
    shown = ",".join(str(scene_id) for scene_id in job.scene_ids[:5])
    return shown + (f",… ({len(job.scene_ids)})" if len(job.scene_ids) > 5 else "")
