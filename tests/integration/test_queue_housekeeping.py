"""Processed jobs leave nothing behind: the database file does not grow with jobs ever processed.

bench/queue_housekeeping.py does the same with 100,000 jobs and prints the figures.
"""
import time

from sync_queue.rows import enqueue
from sync_queue.stores import open_stores
from worker.options import WorkerOptions
from worker.protocol import JobResult, ProcessorBase, ReadyProcessor
from worker.sync_worker import SyncWorker


class NoOp(ProcessorBase):
    def process(self, job):
        return JobResult()

    def close(self):
        pass


def test_five_thousand_jobs_through_a_file_that_stops_growing(tmp_path):
    stores = open_stores(tmp_path, for_drainer=True)
    worker = SyncWorker(stores.jobs, lambda: ReadyProcessor(NoOp()), options=WorkerOptions(settle_seconds=0.0, max_batch=1))
    sizes = []
    try:
        for round_number in range(5):
            first = round_number * 1000 + 1
            enqueue(tmp_path, list(range(first, first + 1000)), "update", "housekeeping")
            now = time.time() + 1.0
            for _ in range(5000):
                worker.step(now)
                if not len(worker.index):
                    break
            assert stores.jobs.waiting_count() == 0 and stores.jobs.counts().in_progress == 0
            stores.db.checkpoint()
            sizes.append(stores.db.file_sizes())
    finally:
        stores.close()
    assert worker.processed == 5000
    assert stores.db.path.stat().st_size == sizes[-1]["db"]
    assert all(size["-wal"] == 0 for size in sizes)
    assert max(size["db"] for size in sizes[1:]) <= sizes[0]["db"] + 8192, sizes  # the first round's pages are reused
