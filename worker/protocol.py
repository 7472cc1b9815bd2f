"""The contract between the worker and the code that does the syncing (the processor).

The worker knows nothing about Stash or Plex: it hands a `Job` to `processor.process(job)` and
acts on what comes back, so it is tested with a scripted processor. A processor reports
failures of single scenes in `JobResult.failures` (the worker splits those scenes off into jobs
of their own) and raises a `common.errors.SyncError` when the whole job failed (Stash or Plex
unreachable, bad settings). `SceneGone` for a scene means "nothing to sync": it is dropped.

The factory the drainer is given builds a processor together with what the worker needs to know
about the settings it was built from: the retry limit and the secrets to mask in messages. A
factory that raises `PlexUnreachable`/`StashUnreachable` opens that server's breaker; the
worker calls it again when a probe is due.

Two more methods concern the breakers: `probe(scope)` sends one cheap request to "plex" or
"stash" while that breaker is open and returns True (False: this processor cannot probe, so the
next due job is the probe), and `use_breakers(breakers)` hands the processor the worker's
breakers (worker.breaker.Breakers, thread-safe). Every processor reports each request's outcome
to them (`breakers.report(server, error, subject)`); the worker never feeds them from a job's
outcome. `ProcessorBase` keeps the breakers in `self.breakers` and gives the other defaults (no
probe, no entity pages) to processors that need no more, such as the scripted ones in tests.

`scene_ids_for(kind, entity_id, after_id, limit)` turns a renamed, merged or deleted tag,
performer, studio or group into the ids of the scenes that carry it: ascending, above
`after_id`, at most `limit` (kind sync_queue.entity_changes.EVERY_SCENE: every scene). The
default finds none.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Protocol, Tuple

from common.errors import SyncError
from sync_queue.jobs import Job

if TYPE_CHECKING:
    from worker.breaker import Breakers


@dataclass
class JobResult:
    failures: Dict[int, SyncError] = field(default_factory=dict)  # scene id -> why; empty = all done


class Processor(Protocol):
    def process(self, job: Job) -> JobResult: ...

    def probe(self, scope: str) -> bool: ...

    def use_breakers(self, breakers: "Breakers") -> None: ...

    def scene_ids_for(self, kind: str, entity_id: int, after_id: int, limit: int) -> List[int]: ...

    def close(self) -> None: ...


class ProcessorBase:
    """The breaker methods of a processor that neither probes nor reports outcomes itself."""

    breakers: Optional["Breakers"] = None

    def probe(self, scope: str) -> bool:
        return False

    def use_breakers(self, breakers: "Breakers") -> None:
        self.breakers = breakers

    def scene_ids_for(self, kind: str, entity_id: int, after_id: int, limit: int) -> List[int]:
        return []

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class ReadyProcessor:
    """A built processor and the settings the worker applies while it is in use."""

    processor: Processor
    max_retries: int = 5
    secrets: Tuple[str, ...] = ()


# Called when the drainer starts and again after a configuration pause (settings may have been
# fixed meanwhile); it may raise ConfigurationError itself.
ProcessorFactory = Callable[[], ReadyProcessor]
