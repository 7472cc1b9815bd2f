"""The wait-for-the-queue loop and the run summary, on a real queue database, a scripted drainer
and a fake clock: no process, no server, no sleeping."""
from __future__ import annotations

import os

import pytest

from common.models import SyncRecord
from entry.wiring import Services
from sync_queue.dead_letters import DeadLetterEntry
from sync_queue.drainer_status import DrainerState
from sync_queue.jobs import Job
from sync_queue.stores import open_stores
from tasks.context import TaskContext
from tasks.drain import QueueWatch, current_problem, paused_on, scene_message, stale_pause, summarize

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Runner:
    """Stands in for the drainer launcher: alive or not, counting starts."""

    def __init__(self, alive: bool = True) -> None:
        self.is_alive = alive
        self.starts = 0
        self.started_at = None
        self.note = None

    def alive(self) -> bool:
        return self.is_alive

    running_elsewhere = alive

    def in_process(self) -> bool:
        return False

    def start(self) -> None:
        self.starts += 1
        self.started_at = T0

    def stop(self) -> None:
        pass


@pytest.fixture
def stores(tmp_path):
    with open_stores(tmp_path / "data") as opened:
        yield opened


def make_ctx(tmp_path, clock, on_sleep=lambda: None, **options):
    """A context whose sleep advances the fake clock and lets the scripted drainer act; and the progress seen."""
    shown = []

    def sleep(seconds):
        clock.now += seconds
        on_sleep()

    return TaskContext(data_dir=tmp_path / "data", plugin_dir=tmp_path, services=Services(tmp_path / "data"),
                       clock=clock, sleep=sleep,
                       progress=lambda fraction, message: shown.append(fraction), **options), shown


def drain_one(stores, clock):
    """What a drainer does per job: write the scenes' records, remove the row."""
    rows = stores.db.query("SELECT _id, data FROM ack_queue_jobs WHERE status < 2 ORDER BY _id LIMIT 1")
    if not rows:
        return
    rowid, data = rows[0]
    for scene_id in Job.decode(data).scene_ids:
        stores.sync_state.put(SyncRecord(scene_id, 1, scene_id, "h", synced_at=clock.now))
    stores.jobs.record_outcome([rowid], now=clock.now)


def test_waits_until_drained_with_monotonic_progress(tmp_path, stores):
    clock = Clock()
    stores.jobs.put_batch(range(1, 1201), "sync", "test", now=T0)
    ctx, progress = make_ctx(tmp_path, clock, on_sleep=lambda: drain_one(stores, clock))
    runner = Runner(alive=True)
    watch = QueueWatch(ctx, stores, T0, runner=runner)
    watch.begin(0)
    outcome = watch.wait()
    assert outcome.drained and outcome.error is None
    assert runner.starts == 0  # one was already running
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) == 4  # 3 rows of 500/500/200


def test_a_configuration_error_of_this_run_ends_the_wait_with_jobs_kept(tmp_path, stores):
    clock = Clock()
    stores.jobs.put_batch([1, 2], "sync", "test", now=T0)

    def pause():
        stores.status.record_started(os.getpid() + 1, T0 + 0.1)
        stores.status.record_config_error("Plex rejected the token: check plex_token", clock.now)

    ctx, _ = make_ctx(tmp_path, clock, on_sleep=pause)
    outcome = QueueWatch(ctx, stores, T0, runner=Runner()).wait()
    assert not outcome.drained
    assert outcome.error.startswith("Plex rejected the token: check plex_token (the queued jobs are kept")
    assert stores.jobs.scene_counts(clock.now).pending == 2


def test_an_error_from_before_this_run_is_not_reported(tmp_path, stores):
    clock = Clock()
    stores.status.record_started(4242, T0 - 100)
    stores.status.record_config_error("old problem", T0 - 50)
    stores.jobs.put_batch([1], "sync", "test", now=T0)
    ctx, _ = make_ctx(tmp_path, clock, on_sleep=lambda: drain_one(stores, clock))
    runner = Runner(alive=False)  # the paused drainer has gone: a new one is started
    outcome = QueueWatch(ctx, stores, T0, runner=runner).wait()
    assert outcome.drained
    assert runner.starts == 1


def test_a_dead_drainer_is_restarted_then_given_up_on(tmp_path, stores):
    clock = Clock()
    stores.jobs.put_batch([1, 2, 3], "sync", "test", now=T0)
    ctx, _ = make_ctx(tmp_path, clock, restart_grace_seconds=5.0, max_restarts=3)
    runner = Runner(alive=False)
    watch = QueueWatch(ctx, stores, T0, runner=runner)
    watch.begin(3)
    outcome = watch.wait()
    assert not outcome.drained and runner.starts == 1 + 3
    assert outcome.error.startswith("the drainer stopped 3 times with 3 scenes left; the jobs stay queued: see ")
    assert outcome.error.endswith("drainer.log")


def test_an_open_breaker_ends_the_wait(tmp_path, stores):
    clock = Clock()
    stores.jobs.put_batch([1], "sync", "test", now=T0)

    def plex_down():
        stores.status.set_many({"heartbeat_at": clock.now, "breaker": {"state": "open", "failures": 3,
                                                                       "opened_at": clock.now}})

    ctx, _ = make_ctx(tmp_path, clock, on_sleep=plex_down)
    outcome = QueueWatch(ctx, stores, T0, runner=Runner()).wait()
    # issue 10: the one line says since when, how many probes and how much waits
    assert outcome.error.startswith("Plex has not been answering since ")
    assert "(0 probes)" in outcome.error and "nothing is charged" in outcome.error


def test_problem_and_pause_rules():
    def state(**values):  # as the drainer writes the status rows
        return DrainerState.from_json(values)

    assert current_problem(state(), T0) is None
    old = {"started_at": T0 - 10, "config_error": {"message": "bad token", "at": T0 - 5}}
    assert current_problem(state(**old), T0) is None and paused_on(state(**old)) == "bad token"
    assert stale_pause(state(**old), T0)
    assert paused_on(state(**dict(old, started_at=T0 - 1))) is None  # a later drainer started fine
    assert paused_on(state(**dict(old, last_success_at=T0 - 1))) is None
    assert not stale_pause(state(**dict(old, config_error={"message": "bad token", "at": T0 + 1})), T0)
    stale_breaker = {"heartbeat_at": T0 - 1, "breaker": {"state": "open", "opened_at": T0 - 60}}
    assert current_problem(state(**stale_breaker), T0) is None


def test_summary_splits_outcomes(stores):
    now = T0 + 100
    for scene_id in (1, 2, 3):
        stores.sync_state.put(SyncRecord(scene_id, 1, scene_id, "h", synced_at=T0 + 10))
    stores.sync_state.put(SyncRecord(9, 1, 9, "h", synced_at=T0 - 10))  # before this run: unchanged now
    stores.dead_letters.add(DeadLetterEntry(4, "{}", "PermanentError", "permanent",
                                            "scene 4 matches 2 Plex files (path match): a, b", 1, T0 + 20, T0 + 20))
    stores.dead_letters.add(DeadLetterEntry(99, "{}", "PermanentError", "permanent", "not ours", 1, T0 + 20, T0 + 20))
    stores.jobs.put(Job([5], "sync", not_before=now + 60, attempts=1,
                        last_error="scene 5 is not in Plex yet (looked for /media/x.mp4)",
                        last_error_kind="not_in_plex"), now=T0)
    stores.jobs.put(Job([6], "sync", not_before=now + 5, attempts=1, last_error="Plex answered 503 while editing",
                        last_error_kind="transient"), now=T0)
    stores.jobs.put(Job([7], "sync", enqueued_at=T0), now=T0)  # still due: the task stopped waiting
    summary = summarize(stores, T0, range(1, 11), now)
    assert (summary.queued, summary.written, summary.dead_lettered, summary.not_in_plex, summary.retrying,
            summary.still_queued, summary.unchanged) == (10, 3, 1, 1, 1, 1, 3)
    assert summary.dead_examples == ["scene 4 matches 2 Plex files (path match): a, b"]
    assert summary.next_retry_at == now + 5
    lines = summary.lines(now)
    assert lines[0] == ("10 scenes queued: 3 written to Plex, 3 unchanged, 1 failed (dead letters), "
                        "1 not in Plex yet, 1 retrying, 1 still queued")
    assert "not in Plex yet: scene 5 is not in Plex yet (looked for /media/x.mp4)" in lines


def test_scene_message_does_not_repeat_the_scene():
    assert scene_message(4, "scene 4 matches 2 Plex files") == "scene 4 matches 2 Plex files"
    assert scene_message(4, "Plex refused editing") == "scene 4: Plex refused editing"
    assert scene_message(None, "queue row 3 is not a readable job") == "queue row 3 is not a readable job"


def test_the_cli_waits_for_a_background_drainer_and_says_its_settings_apply(tmp_path):
    from tasks.drain import _Runner
    from worker.lock import DrainerLock, lock_path

    ctx = TaskContext(data_dir=tmp_path / "data", plugin_dir=tmp_path, services=Services(tmp_path / "data"),
                      foreground=True,
                      overrides={"plex_token": "from-the-cli"})
    with DrainerLock(lock_path(ctx.data_dir)) as lock:  # stands for a drainer a hook started
        assert lock.acquire()
        runner = _Runner(ctx)
        runner.start()
        assert runner.thread is None and runner.alive() and not runner.in_process()
        assert "background drainer was already running" in runner.note and "Stash's settings" in runner.note
