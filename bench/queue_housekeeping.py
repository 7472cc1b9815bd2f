"""Pushes many jobs through the queue and shows the database does not grow with them.

    .venv/bin/python bench/queue_housekeeping.py [--jobs 100000] [--round 10000] [--max-batch 1]

Each round enqueues `--round` single-scene jobs the way hooks do (fast enqueue, one
transaction per 1,000 rows), then a SyncWorker with a no-op processor drains them (each job:
one "in progress" transaction and one outcome transaction). After each round the WAL is
checkpointed, as the drainer does when it goes idle, and the file sizes are printed. With
`--max-batch 1` every row is its own job (the worst case for row churn).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sync_queue.rows import enqueue  # noqa: E402
from sync_queue.stores import open_stores  # noqa: E402
from worker.options import WorkerOptions  # noqa: E402
from worker.protocol import JobResult, ProcessorBase, ReadyProcessor  # noqa: E402
from worker.sync_worker import SyncWorker  # noqa: E402


class NoOpProcessor(ProcessorBase):
    def process(self, job):
        return JobResult()

    def close(self):
        pass


def push_round(data_dir: Path, stores, worker: SyncWorker, first_id: int, count: int) -> float:
    """Enqueue `count` jobs and drain them; returns seconds spent draining."""
    for start in range(first_id, first_id + count, 1000):
        enqueue(data_dir, list(range(start, min(start + 1000, first_id + count))), "update", "bench")
    began = time.perf_counter()
    now = time.time()
    while True:
        worker.step(now)
        if not len(worker.index) and stores.jobs.waiting_count() == 0:
            break
    return time.perf_counter() - began


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--round", type=int, default=10_000)
    parser.add_argument("--max-batch", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temp:
        data_dir = Path(temp)
        stores = open_stores(data_dir, for_drainer=True)
        worker = SyncWorker(stores.jobs, lambda: ReadyProcessor(NoOpProcessor()), options=WorkerOptions(
            settle_seconds=0.0, max_settle_seconds=0.0, max_batch=args.max_batch))
        stores.db.checkpoint()
        sizes = stores.db.file_sizes()
        print(f"before: {0:>7} jobs  db {sizes['db']:>9,} B  wal {sizes['-wal']:>9,} B")
        done, drain_seconds = 0, 0.0
        while done < args.jobs:
            count = min(args.round, args.jobs - done)
            drain_seconds += push_round(data_dir, stores, worker, done + 1, count)
            done += count
            stores.db.checkpoint()
            sizes = stores.db.file_sizes()
            print(f"after:  {done:>7} jobs  db {sizes['db']:>9,} B  wal {sizes['-wal']:>9,} B"
                  f"  processed leases {worker.processed:>7}")
        print(f"drained {done:,} jobs in {drain_seconds:.1f} s: {done / drain_seconds:,.0f} jobs/s"
              f" (max_batch={args.max_batch}, {worker.processed:,} processor calls)")
        stores.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
