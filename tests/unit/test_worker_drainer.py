"""run_drainer in-process: the lock decides who drains, and leaving never strands a job."""
import threading

from sync_queue.rows import enqueue
from sync_queue.stores import open_stores
from worker.drainer import run_drainer
from worker.launcher import drainer_running
from worker.lock import DrainerLock, lock_path
from worker.options import WorkerOptions
from worker.protocol import JobResult, ProcessorBase, ReadyProcessor

FAST = WorkerOptions(settle_seconds=0.0, idle_exit_seconds=0.1, poll_seconds=0.01)


class Recorder(ProcessorBase):
    def __init__(self, on_process=None):
        self.scenes = []
        self.on_process = on_process

    def process(self, job):
        self.scenes.extend(job.scene_ids)
        if self.on_process:
            self.on_process()
        return JobResult()

    def close(self):
        pass


def test_a_second_drainer_exits_at_once_and_touches_nothing(tmp_path):
    enqueue(tmp_path, [1, 2], "update", "edit")
    with open_stores(tmp_path) as stores:
        rowid = stores.jobs.read_new(0)[0][0][0]
        stores.jobs.mark_in_progress([rowid])  # a live drainer is working on this row
    holder = DrainerLock(lock_path(tmp_path))
    assert holder.acquire()
    try:
        recorder = Recorder()
        assert run_drainer(tmp_path, lambda: ReadyProcessor(recorder), options=FAST) == 0
    finally:
        holder.release()
    assert recorder.scenes == []
    with open_stores(tmp_path) as stores:
        assert stores.jobs.counts().in_progress == 1  # not reset behind the live drainer's back


def test_the_message_names_the_running_drainer(tmp_path, capsys):
    import os

    holder = DrainerLock(lock_path(tmp_path))
    assert holder.acquire()
    try:
        run_drainer(tmp_path, lambda: ReadyProcessor(Recorder()), options=FAST)
    finally:
        holder.release()
    assert f"another drainer is running (pid {os.getpid()})" in capsys.readouterr().err


def test_drains_resumes_and_exits_when_idle(tmp_path):
    enqueue(tmp_path, [1, 2, 3], "update", "edit")
    with open_stores(tmp_path) as stores:
        rowid = stores.jobs.read_new(0)[0][0][0]
        stores.jobs.mark_in_progress([rowid])  # left behind by a drainer that died
    recorder = Recorder()
    assert run_drainer(tmp_path, lambda: ReadyProcessor(recorder), options=FAST) == 0
    assert sorted(recorder.scenes) == [1, 2, 3]
    assert not drainer_running(tmp_path)
    with open_stores(tmp_path) as stores:
        assert stores.jobs.counts().total == 0
        state = stores.status.read()
        assert state.stopped_at >= state.started_at and state.last_success_at


def test_a_job_that_arrives_while_the_drainer_leaves_is_drained(tmp_path, monkeypatch):
    release = DrainerLock.release
    late = []

    def release_after_a_late_hook(lock):
        if lock.held and not late:
            # A hook enqueues now, probes, sees the lock still held, and starts no drainer.
            enqueue(tmp_path, [99], "update", "late hook")
            late.append(drainer_running(tmp_path))
        release(lock)

    monkeypatch.setattr(DrainerLock, "release", release_after_a_late_hook)
    enqueue(tmp_path, [1], "update", "edit")
    recorder = Recorder()
    assert run_drainer(tmp_path, lambda: ReadyProcessor(recorder), options=FAST) == 0
    assert late == [True] and recorder.scenes == [1, 99]


def test_stop_event_finishes_the_current_job_and_returns(tmp_path):
    enqueue(tmp_path, [1, 2, 3], "update", "edit")
    stop = threading.Event()
    recorder = Recorder(on_process=stop.set)
    options = WorkerOptions(settle_seconds=0.0, idle_exit_seconds=60.0, poll_seconds=0.01, max_batch=1)
    assert run_drainer(tmp_path, lambda: ReadyProcessor(recorder), options=options, stop_event=stop) == 0
    assert len(recorder.scenes) == 1
    with open_stores(tmp_path) as stores:
        assert stores.jobs.counts().pending == 2 and stores.jobs.counts().in_progress == 0
