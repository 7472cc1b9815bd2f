"""What a queued job says: which scenes, what happened, and its retry bookkeeping — never metadata.

The worker reads each scene fresh from Stash when the job runs, so a job only has to say which
scenes to look at. That also makes jobs safe to merge: several events for one scene collapse
into one job (`coalesce`), and fresh single-scene jobs that are due together can run as one
batch with one Stash request (`combine`).

Rows are JSON (never pickle: a tampered file must not run code) and are validated when read;
`Job.decode` raises ValueError for anything that is not a well-formed job.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, List, Optional, Sequence

from sync_queue.rows import EVENTS, MAX_REASON, checked_scene_ids, encode, job_data

MAX_ERROR_TEXT = 500


@dataclass
class Job:
    scene_ids: List[int]
    event: str
    reason: str = ""
    force: bool = False  # rewrite in Plex even if the scene looks unchanged
    enqueued_at: float = 0.0
    attempts: int = 0  # failures charged so far
    not_before: float = 0.0  # epoch seconds; 0 = due now
    first_failed_at: Optional[float] = None
    last_error: str = ""
    last_error_kind: str = ""  # common.errors kind of the last failure, e.g. "not_in_plex"
    scene_id: Optional[int] = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        self.scene_id = self.scene_ids[0] if len(self.scene_ids) == 1 else None

    def to_dict(self) -> dict:
        data = job_data(self.scene_ids, self.event, self.reason, force=self.force,
                        enqueued_at=self.enqueued_at, attempts=self.attempts, not_before=self.not_before)
        if self.first_failed_at is not None:
            data["first_failed_at"] = self.first_failed_at
        if self.last_error:
            data["last_error"] = self.last_error[:MAX_ERROR_TEXT]
        if self.last_error_kind:
            data["last_error_kind"] = self.last_error_kind
        return data

    def encode(self) -> bytes:
        return encode(self.to_dict())

    @classmethod
    def from_dict(cls, data: Any) -> "Job":
        if not isinstance(data, dict):
            raise ValueError(f"a job must be a JSON object, got {type(data).__name__}")
        raw_ids = data.get("scene_ids")
        if raw_ids is None and "scene_id" in data:
            raw_ids = [data["scene_id"]]
        if not isinstance(raw_ids, list) or not raw_ids:
            raise ValueError("a job needs a non-empty scene_ids list")
        event = data.get("event")
        if event not in EVENTS:
            raise ValueError(f"unknown job event {event!r}")
        first_failed = data.get("first_failed_at")
        return cls(
            scene_ids=checked_scene_ids(raw_ids),
            event=event,
            reason=_text(data.get("reason", ""), MAX_REASON),
            force=data.get("force", False) is True,
            enqueued_at=_number(data.get("enqueued_at", 0.0), "enqueued_at"),
            attempts=_count(data.get("attempts", 0)),
            not_before=_number(data.get("not_before", 0.0), "not_before"),
            first_failed_at=None if first_failed is None else _number(first_failed, "first_failed_at"),
            last_error=_text(data.get("last_error", ""), MAX_ERROR_TEXT),
            last_error_kind=_text(data.get("last_error_kind", ""), 40),
        )

    @classmethod
    def decode(cls, raw: Any) -> "Job":
        import json

        if isinstance(raw, (bytes, bytearray, memoryview)):
            try:
                raw = bytes(raw).decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError("job data is not UTF-8") from None
        if not isinstance(raw, str):
            raise ValueError(f"job data must be JSON text, got {type(raw).__name__}")
        try:
            data = json.loads(raw)
        except ValueError:
            raise ValueError("job data is not valid JSON") from None
        return cls.from_dict(data)

    def for_scenes(self, scene_ids: Sequence[int]) -> "Job":
        """The same job narrowed to some of its scenes (a failure split off from a batch)."""
        return replace(self, scene_ids=list(scene_ids))


def _text(value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text in job, got {type(value).__name__}")
    return value[:limit]


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"job field {name} must be a finite number, got {value!r}")
    return float(value)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"job attempts must be a non-negative integer, got {value!r}")
    return value


def merged_event(events: Sequence[str]) -> str:
    """One event standing for several on the same scene, oldest first.

    A destroy that came last wins (the scene is gone); otherwise a create among them is kept
    (it may ask Plex to scan), then update, then sync.
    """
    if events[-1] == "destroy":
        return "destroy"
    for event in ("create", "update", "sync"):
        if event in events:
            return event
    return events[-1]


def _joined_reasons(reasons: Iterable[str]) -> str:
    distinct: List[str] = []
    for reason in reasons:
        if reason and reason not in distinct:
            distinct.append(reason)
    return "; ".join(distinct)[:MAX_REASON]


def coalesce(jobs: Sequence[Job]) -> Job:
    """Several waiting jobs for the same scene(s), oldest first, as one job that is due now.

    A fresh event restarts the retry budget: the merged job takes the fewest attempts among
    its parts, so a user's new edit is not dead-lettered for an old job's failures.
    """
    if len(jobs) == 1:
        return replace(jobs[0], not_before=0.0)
    least = min(jobs, key=lambda job: job.attempts)
    return Job(
        scene_ids=list(jobs[0].scene_ids),
        event=merged_event([job.event for job in jobs]),
        reason=_joined_reasons(job.reason for job in jobs),
        force=any(job.force for job in jobs),
        enqueued_at=min(job.enqueued_at for job in jobs),
        attempts=least.attempts,
        not_before=0.0,
        first_failed_at=least.first_failed_at,
        last_error=jobs[-1].last_error,
    )


def combine(jobs: Sequence[Job]) -> Job:
    """Fresh jobs for different scenes, with the same event and force, as one batch job."""
    if len(jobs) == 1:
        return jobs[0]
    first = jobs[0]
    return Job(
        scene_ids=[scene_id for job in jobs for scene_id in job.scene_ids],
        event=first.event,
        reason=_joined_reasons(job.reason for job in jobs),
        force=first.force,
        enqueued_at=min(job.enqueued_at for job in jobs),
        attempts=min(job.attempts for job in jobs),
    )
