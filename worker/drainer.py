"""`python PlexSync.py worker`: hold the single-drainer lock, drain the queue, exit when idle.

Only the lock holder puts rows a dead drainer left "in progress" back in the queue, so a second
process can never reset rows a live drainer is working on. Leaving is a small protocol, because
a hook enqueues first and then checks for a drainer: the drainer releases the lock and only then
looks at the queue once more; a job that arrived in between is either seen by that look (the
drainer takes the lock again and carries on) or its hook saw the lock free and started a new
drainer. Either way no job is left waiting without a drainer.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Optional

from common.datadir import ensure_private_dir
from common.log import get_logger
from sync_queue.db import Database
from sync_queue.stores import Stores, open_stores
from worker.lock import DrainerLock, lock_path
from worker.options import WorkerOptions
from worker.protocol import ProcessorFactory
from worker.sync_worker import SyncWorker

log = get_logger("worker")
EXIT_OK, EXIT_ERROR = 0, 1
# A hook's `drainer_running` probe holds the lock for microseconds; a drainer holds it for its
# life. Trying for a moment tells the two apart, so a probe never turns a new drainer away.
PROBE_GRACE_SECONDS = 0.25


def run_drainer(data_dir: "os.PathLike[str] | str", processor_factory: ProcessorFactory, *,
                options: Optional[WorkerOptions] = None, stop_event: Optional[threading.Event] = None,
                database: Optional[Database] = None,
                clock: Callable[[], float] = time.time) -> int:
    """Drain until idle; 0 when done or when another drainer is already running, 1 on an error."""
    data_dir = ensure_private_dir(Path(data_dir))
    lock = DrainerLock(lock_path(data_dir))
    if not lock.acquire_within(PROBE_GRACE_SECONDS):
        pid = lock.holder_pid()
        message = f"another drainer is running (pid {pid})" if pid else "another drainer is running"
        log.info("%s; exiting", message)
        print(f"PlexSync: {message}; exiting", file=sys.stderr, flush=True)
        return EXIT_OK
    stores: Optional[Stores] = None
    try:
        stores = open_stores(data_dir, for_drainer=True, database=database)
        while True:
            reason = _drain_once(stores, processor_factory, options, stop_event, clock)
            stores.status.record_stopped(clock())
            if reason != "idle":
                return EXIT_ERROR if reason == "error" else EXIT_OK
            stores.db.checkpoint()
            lock.release()
            if stores.jobs.waiting_count() == 0 and stores.changes.count() == 0:
                log.info("queue empty; drainer exits")
                return EXIT_OK
            if not lock.acquire_within(0.5):
                log.info("jobs arrived while leaving; a new drainer has them")
                return EXIT_OK
            log.info("jobs arrived while the drainer was leaving; draining again")
    except Exception:
        log.exception("drainer failed; queued jobs stay queued")
        return EXIT_ERROR
    finally:
        if stores is not None:
            stores.close()
        lock.release()


def _drain_once(stores: Stores, processor_factory: ProcessorFactory, options: Optional[WorkerOptions],
                stop_event: Optional[threading.Event], clock: Callable[[], float]) -> Optional[str]:
    stores.status.record_started(os.getpid(), clock())
    resumed = stores.jobs.resume_in_progress()
    if resumed:
        log.info("put %d job row(s) a stopped drainer left in progress back in the queue", resumed)
    worker = SyncWorker(stores.jobs, processor_factory, status=stores.status, options=options, clock=clock,
                        stop_event=stop_event, changes=stores.changes)
    restore = _stop_on_signals(worker)
    try:
        worker.start()
        while not worker.join(0.2):  # short joins keep the main thread free to take signals
            pass
    finally:
        restore()
    log.info("drainer worker ended (%s) after %d job(s)", worker.exit_reason, worker.processed)
    return worker.exit_reason


def _stop_on_signals(worker: SyncWorker) -> Callable[[], None]:
    """SIGTERM/SIGINT finish the current job, then stop. Only the main thread may set handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    names = ("SIGTERM", "SIGINT", "SIGBREAK")
    previous = {}
    for name in names:
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, lambda *_: worker.stop())

    def restore() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    return restore
