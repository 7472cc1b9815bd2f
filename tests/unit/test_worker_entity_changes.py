"""SyncWorker turns entity changes into scene jobs a page at a time, behind fresh edits."""
import random

import pytest

from common.errors import STASH, ConfigurationError, PermanentError, StashUnreachable
from sync_queue.jobs import Job
from sync_queue.rows import enqueue_entity_change
from sync_queue.stores import open_stores
from worker.options import WorkerOptions
from worker.protocol import JobResult, ProcessorBase, ReadyProcessor
from worker.sync_worker import SyncWorker

T0 = 1_000_000.0


class EntityProcessor(ProcessorBase):
    """Scenes 1..n carry every entity; records each job and each page asked for (Stash's answer
    reported to the breakers, as every processor does)."""

    def __init__(self, scenes=10):
        self.scenes = scenes
        self.jobs = []
        self.pages = []
        self.errors = []

    def scene_ids_for(self, kind, entity_id, after_id, limit):
        self.pages.append((kind, entity_id, after_id, limit))
        if self.errors:
            error = self.errors.pop(0)
            self.breakers.report(STASH, error)
            raise error
        self.breakers.report(STASH)
        return [i for i in range(1, self.scenes + 1) if i > after_id][:limit]

    def process(self, job):
        self.jobs.append(job)
        return JobResult()


@pytest.fixture
def stores(tmp_path):
    opened = open_stores(tmp_path, for_drainer=True)
    yield opened
    opened.close()


def make_worker(stores, processor, **options):
    defaults = dict(settle_seconds=2.0, poll_seconds=1000.0, max_batch=2, change_page=4)
    defaults.update(options)
    worker_options = WorkerOptions(**defaults)
    return SyncWorker(stores.jobs, lambda: ReadyProcessor(processor), status=stores.status, options=worker_options,
                      rng=random.Random(7), changes=stores.changes)


def drain(worker, now, steps=100):
    for _ in range(steps):
        if worker.step(now) > 0:
            return


def test_a_rename_becomes_jobs_for_every_scene_page_by_page(stores, tmp_path):
    processor = EntityProcessor(scenes=10)
    enqueue_entity_change(tmp_path, "tag", 5, "update", ("name",))
    drain(make_worker(stores, processor), T0)
    assert [(p[0], p[1], p[2]) for p in processor.pages] == [("tag", 5, 0), ("tag", 5, 4), ("tag", 5, 8)]
    assert sorted(i for job in processor.jobs for i in job.scene_ids) == list(range(1, 11))
    assert {job.reason for job in processor.jobs} == {"tag 5 renamed"}
    assert not any(job.force for job in processor.jobs)
    assert stores.changes.count() == 0 and stores.jobs.waiting_count() == 0


def test_fresh_edits_go_before_the_next_page(stores, tmp_path):
    processor = EntityProcessor(scenes=100)
    enqueue_entity_change(tmp_path, "tag", 5, "update", ("name",))
    worker = make_worker(stores, processor)
    worker.step(T0)  # first page queued
    stores.jobs.put(Job([500], "update", "edit", enqueued_at=T0))
    order = []
    now = T0
    while not order or order[-1] != [500]:
        worker.step(now)
        order = [job.scene_ids for job in processor.jobs]
        now += 1.0
    pages_before = len(processor.pages)
    assert pages_before == 1  # the edit waited for one page's jobs, not for all 25 pages
    drain(worker, now)
    assert len(processor.pages) == 26


def test_no_page_is_resolved_while_a_job_is_about_to_be_due(stores, tmp_path):
    processor = EntityProcessor(scenes=3)
    stores.jobs.put(Job([7], "update", "edit", enqueued_at=T0))
    enqueue_entity_change(tmp_path, "performer", 2, "update", ("name",))
    worker = make_worker(stores, processor)
    assert worker.step(T0 + 1.0) == pytest.approx(1.0)  # the edit is due in one second: sleep until then
    assert processor.pages == []
    drain(worker, T0 + 2.0)
    assert processor.jobs[0].scene_ids == [7] and processor.pages


def test_stash_down_postpones_the_change_without_losing_it(stores, tmp_path):
    processor = EntityProcessor(scenes=3)
    processor.errors.append(StashUnreachable("Stash is not answering"))
    enqueue_entity_change(tmp_path, "studio", 2, "update", ("name",))
    worker = make_worker(stores, processor)
    worker.step(T0)
    assert worker.breakers.stash.is_open and stores.changes.count() == 1
    assert worker.should_exit(T0 + 10_000) is None
    drain(worker, T0 + 3600)
    assert sorted(i for job in processor.jobs for i in job.scene_ids) == [1, 2, 3]
    assert stores.changes.count() == 0


def test_a_permanent_error_drops_the_change_and_a_configuration_error_pauses(stores, tmp_path):
    processor = EntityProcessor(scenes=3)
    processor.errors.extend([ConfigurationError("stash_url is not a URL"), PermanentError("no such filter")])
    enqueue_entity_change(tmp_path, "group", 9, "update", ("name",))
    worker = make_worker(stores, processor, pause_seconds=30.0)
    worker.step(T0)
    assert stores.changes.count() == 1 and stores.changes.pending()[0].attempts == 0  # paused, not charged
    drain(worker, T0 + 31)
    assert stores.changes.count() == 0 and processor.jobs == []


def test_the_worker_stays_while_a_change_waits(stores, tmp_path):
    processor = EntityProcessor(scenes=0)
    worker = make_worker(stores, processor, idle_exit_seconds=5.0)
    worker.step(T0)
    enqueue_entity_change(tmp_path, "tag", 1, "destroy")
    assert worker.should_exit(T0 + 10) is None
    drain(worker, T0 + 10)
    assert processor.pages == [("*", 0, 0, 4)]
    assert worker.should_exit(T0 + 20) == "idle"
