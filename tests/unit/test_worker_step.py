"""SyncWorker driven step by step with the time passed in, a scripted processor and a real SQLite file."""
import random

import pytest

from common.errors import (
    PLEX,
    ConfigurationError,
    NotInPlexYet,
    PermanentError,
    PlexUnreachable,
    SceneGone,
    TransientError,
)
from sync_queue.jobs import Job
from sync_queue.stores import open_stores
from worker.options import WorkerOptions
from worker.protocol import JobResult, ProcessorBase, ReadyProcessor
from worker.sync_worker import SyncWorker

T0 = 1_000_000.0


class ScriptedProcessor(ProcessorBase):
    """Succeeds unless told otherwise: `fail(scene, *errors)` fails that scene once per error,
    `raise_next(*errors)` fails whole jobs. Reports each scene (or the whole job) to the breakers
    as Plex's answer, as every processor does."""

    def __init__(self):
        self.calls = []
        self.per_scene = {}
        self.whole = []
        self.closed = 0

    def fail(self, scene_id, *errors):
        self.per_scene.setdefault(scene_id, []).extend(errors)

    def raise_next(self, *errors):
        self.whole.extend(errors)

    def process(self, job):
        self.calls.append(job)
        if self.whole:
            error = self.whole.pop(0)
            self.breakers.report(PLEX, error)
            raise error
        failures = {}
        for scene_id in job.scene_ids:
            pending = self.per_scene.get(scene_id)
            if pending:
                failures[scene_id] = pending.pop(0)
            self.breakers.report(PLEX, failures.get(scene_id), scene_id)
        return JobResult(failures)

    def close(self):
        self.closed += 1

    def scenes(self):
        return [job.scene_ids for job in self.calls]


@pytest.fixture
def stores(tmp_path):
    opened = open_stores(tmp_path, for_drainer=True)
    yield opened
    opened.close()


@pytest.fixture
def processor():
    return ScriptedProcessor()


def make_worker(stores, processor, factory=None, **options):
    defaults = dict(settle_seconds=2.0, poll_seconds=1000.0, max_batch=1)
    defaults.update(options)
    worker_options = WorkerOptions(**defaults)
    factory = factory or (lambda: ReadyProcessor(processor, max_retries=worker_options.max_retries))
    return SyncWorker(stores.jobs, factory, status=stores.status, options=worker_options, rng=random.Random(7))


def put(stores, scene_id, at, event="update", reason="edit", **fields):
    ids = scene_id if isinstance(scene_id, list) else [scene_id]
    return stores.jobs.put(Job(ids, event, reason, enqueued_at=at, **fields))


def drive(worker, now, until, limit=10_000):
    """Advance simulated time by what step() asks to sleep; returns the time reached."""
    for _ in range(limit):
        if now >= until:
            return now
        now += worker.step(now)  # 0 after a job: step again at the same instant
    raise AssertionError("worker did not settle")


def waiting_jobs(stores):
    return [job for _, job in stores.jobs.read_new(0)[0]]


# ---- coalescing and scheduling ------------------------------------------------------------------


def test_a_burst_of_twenty_events_is_processed_once(stores, processor):
    for n in range(20):
        put(stores, 5, T0 + n * 0.1, event="create" if n == 0 else "update")
    worker = make_worker(stores, processor)
    assert worker.step(T0 + 2.0) == pytest.approx(1.9)  # sleeps until 2 s after the last event
    assert processor.calls == []
    worker.step(T0 + 3.9)
    assert processor.scenes() == [[5]] and processor.calls[0].event == "create"
    assert stores.jobs.waiting_count() == 0 and worker.step(T0 + 10) == 1000.0


def test_settle_is_capped_for_a_scene_edited_without_pause(stores, processor):
    worker = make_worker(stores, processor, max_settle_seconds=30.0)
    for n in range(45):
        put(stores, 5, T0 + n)
        worker.step(T0 + n + 0.5)
    assert processor.scenes() == [[5]]
    assert 30.0 <= worker._last_activity - T0 <= 31.0  # noqa: SLF001 - when it ran


def test_a_scheduled_retry_does_not_delay_a_fresh_job(stores, processor):
    processor.fail(1, TransientError("Plex answered 503"))
    put(stores, 1, T0)
    worker = make_worker(stores, processor, backoff_base_seconds=600.0, backoff_cap_seconds=600.0)
    worker.step(T0 + 2)
    put(stores, 2, T0 + 3)
    assert drive(worker, T0 + 3, T0 + 5.5) >= T0 + 5.5
    assert processor.scenes() == [[1], [2]]
    (retry,) = waiting_jobs(stores)
    assert retry.scene_ids == [1] and retry.attempts == 1 and retry.not_before > T0 + 5.5
    counts = stores.jobs.counts(now=T0 + 6)
    assert (counts.pending, counts.scheduled, counts.next_due_at) == (0, 1, retry.not_before)
    # it sleeps until that retry is due instead of polling, and then runs it
    assert worker.step(T0 + 6) == pytest.approx(retry.not_before - (T0 + 6))
    worker.step(retry.not_before)
    assert processor.scenes() == [[1], [2], [1]] and stores.jobs.waiting_count() == 0


def test_fresh_events_due_together_run_as_one_batch(stores, processor):
    for scene_id in range(1, 11):
        put(stores, scene_id, T0)
    put(stores, 11, T0, event="destroy")
    worker = make_worker(stores, processor, max_batch=50)
    worker.step(T0 + 2)
    worker.step(T0 + 2)
    assert processor.scenes() == [list(range(1, 11)), [11]]
    assert [job.event for job in processor.calls] == ["update", "destroy"]


# ---- batches and failure classes ----------------------------------------------------------------


def test_a_failing_scene_is_split_off_its_batch(stores, processor):
    stores.jobs.put_batch(list(range(1, 501)), "sync", "sync all", now=T0)
    processor.fail(3, PermanentError("scene 3 matches two Plex items: /a.mp4, /b.mp4"))
    processor.fail(4, TransientError("Plex answered 503"))
    processor.fail(5, SceneGone("scene 5 no longer exists in Stash"))
    worker = make_worker(stores, processor, backoff_base_seconds=1.0, backoff_cap_seconds=1.0)
    worker.step(T0 + 2)
    assert len(processor.calls) == 1 and len(processor.calls[0].scene_ids) == 500
    (split,) = waiting_jobs(stores)
    assert (split.scene_ids, split.attempts, split.event) == ([4], 1, "sync")
    (letter,) = stores.dead_letters.list()
    assert letter.scene_id == 3 and "two Plex items" in letter.message and letter.job["scene_ids"] == [3]
    drive(worker, T0 + 2, T0 + 10)
    assert processor.scenes()[1:] == [[4]] and stores.jobs.waiting_count() == 0


def test_transient_failures_back_off_then_dead_letter(stores, processor):
    processor.raise_next(*[TransientError("read timed out")] * 10)
    put(stores, 8, T0)
    worker = make_worker(stores, processor, max_retries=3, backoff_base_seconds=10.0, backoff_cap_seconds=40.0)
    ceilings = [10.0, 20.0, 40.0]
    now = T0 + 2
    for ceiling in ceilings:
        worker.step(now)
        (job,) = waiting_jobs(stores)
        assert 1.0 <= job.not_before - now <= ceiling
        now = job.not_before
    worker.step(now)
    assert len(processor.calls) == 4 and stores.jobs.waiting_count() == 0
    (letter,) = stores.dead_letters.list()
    assert (letter.error_kind, letter.attempts, letter.message) == ("transient", 4, "read timed out")
    assert letter.first_failed_at == T0 + 2 and letter.last_failed_at == now


def test_not_in_plex_retries_on_the_slow_schedule(stores, processor):
    processor.fail(6, *[NotInPlexYet("no Plex item has /videos/a.mp4")] * 6)
    put(stores, 6, T0)
    worker = make_worker(stores, processor)
    now, delays = T0 + 2, []
    for _ in range(5):
        worker.step(now)
        (job,) = waiting_jobs(stores)
        delays.append(job.not_before - now)
        now = job.not_before
    for delay, nominal in zip(delays, [60, 300, 900, 3600, 21600]):
        assert nominal * 0.9 <= delay <= nominal * 1.1
    worker.step(now)
    assert stores.dead_letters.list()[0].error_kind == "not_in_plex"


def test_permanent_failure_dead_letters_at_once_redacted_and_retry_brings_it_back(stores, processor):
    processor.fail(9, PermanentError("Plex refused the edit (400) for s3cr3t-token at /x?X-Plex-Token=abcd1234"))
    put(stores, 9, T0)
    worker = make_worker(stores, processor, factory=lambda: ReadyProcessor(processor, secrets=("s3cr3t-token",)))
    worker.step(T0 + 2)
    (letter,) = stores.dead_letters.list()
    assert letter.attempts == 1 and letter.error_class == "PermanentError"
    assert "s3cr3t" not in letter.message and "abcd1234" not in letter.message and "(400)" in letter.message
    assert stores.dead_letters.retry(letter.id, now=T0 + 10) == 1
    drive(worker, T0 + 10, T0 + 13)
    assert processor.scenes() == [[9], [9]] and stores.dead_letters.count() == 0


def test_unexpected_exceptions_are_retried_like_transient_ones(stores, processor):
    processor.raise_next(KeyError("rating_key"))
    put(stores, 2, T0)
    worker = make_worker(stores, processor)
    worker.step(T0 + 2)
    (job,) = waiting_jobs(stores)
    assert job.attempts == 1 and job.last_error == "unexpected KeyError: 'rating_key'"


def test_processor_max_retries_setting_wins(stores, processor):
    processor.raise_next(TransientError("reset"))
    put(stores, 2, T0)
    make_worker(stores, processor, factory=lambda: ReadyProcessor(processor, max_retries=0), max_retries=5).step(T0 + 2)
    assert stores.dead_letters.count() == 1


# ---- configuration pause and circuit breaker ----------------------------------------------------


def test_configuration_error_pauses_without_charging(stores, processor):
    processor.raise_next(ConfigurationError("Plex rejected the token (401): fix plex_token in Settings"))
    built = []

    def factory():
        built.append(1)
        return ReadyProcessor(processor)

    for scene_id in (1, 2):
        put(stores, scene_id, T0)
    worker = make_worker(stores, processor, factory=factory, pause_seconds=30.0)
    worker.step(T0 + 2)
    assert stores.status.get("config_error")["message"].startswith("Plex rejected the token")
    assert processor.closed == 1 and all(job.attempts == 0 for job in waiting_jobs(stores))
    assert drive(worker, T0 + 2, T0 + 31) >= T0 + 31
    assert len(processor.calls) == 1  # nothing ran while paused
    drive(worker, T0 + 32, T0 + 40)
    assert len(built) == 2 and sorted(s for call in processor.calls[1:] for s in call.scene_ids) == [1, 2]
    assert stores.status.get("config_error") is None and stores.jobs.waiting_count() == 0


def test_a_task_asking_for_the_settings_again_ends_the_pause_now(stores, processor):
    processor.raise_next(ConfigurationError("Plex rejected the token (401): fix plex_token in Settings"))
    put(stores, 1, T0)
    worker = make_worker(stores, processor, pause_seconds=30.0)
    worker.step(T0 + 2)
    assert worker.step(T0 + 5) > 0 and len(processor.calls) == 1  # paused
    stores.status.request_retry(T0 + 1)  # asked before this pause began: not for this pause
    assert worker.step(T0 + 6) > 0 and len(processor.calls) == 1
    stores.status.request_retry(T0 + 7)  # a task: "the settings may be fixed, read them again"
    drive(worker, T0 + 7, T0 + 8)
    assert processor.scenes() == [[1], [1]] and stores.jobs.waiting_count() == 0
    assert stores.status.get("config_error") is None


def test_a_factory_that_cannot_start_pauses_and_is_called_again(stores, processor):
    attempts = []

    def factory():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConfigurationError("Stash is unreachable at http://localhost:9999")
        return ReadyProcessor(processor)

    put(stores, 1, T0)
    worker = make_worker(stores, processor, factory=factory, pause_seconds=10.0)
    drive(worker, T0 + 2, T0 + 30)
    assert len(attempts) == 3 and processor.scenes() == [[1]]
    assert worker.should_exit(T0 + 30) is None


def test_breaker_stops_traffic_and_charges_nothing_while_open(stores, processor):
    processor.raise_next(*[PlexUnreachable("connection refused")] * 4)
    for scene_id in range(1, 6):
        put(stores, scene_id, T0)
    worker = make_worker(stores, processor, breaker_threshold=3, backoff_base_seconds=1000.0,
                         backoff_cap_seconds=1000.0)
    for _ in range(3):
        worker.step(T0 + 2)
    assert worker.breakers.plex.is_open and len(processor.calls) == 3
    charged = sorted(job.attempts for job in waiting_jobs(stores))
    assert charged == [0, 0, 0, 0, 0]  # Plex-wide failures are never charged (issue 10)
    probe_at = worker.breakers.plex.next_probe_at
    assert worker.step(T0 + 2) == pytest.approx(probe_at - (T0 + 2))
    assert len(processor.calls) == 3  # no traffic before the probe
    worker.step(probe_at)
    assert len(processor.calls) == 4 and worker.breakers.plex.next_probe_at > probe_at  # failed probe backs off
    assert sorted(job.attempts for job in waiting_jobs(stores)) == [0, 0, 0, 0, 0]
    assert stores.status.get("breaker")["state"] == "open"
    drive(worker, worker.breakers.plex.next_probe_at, worker.breakers.plex.next_probe_at + 1)  # this probe succeeds
    assert not worker.breakers.plex.is_open and stores.status.get("breaker")["state"] == "closed"
    assert 6 <= len(processor.calls) and stores.jobs.waiting_count() == 0  # nothing was charged, all ran


# ---- rows, crashes, idling ----------------------------------------------------------------------


def test_an_unreadable_row_goes_to_dead_letters_and_work_goes_on(stores, processor):
    with stores.db.transaction() as connection:
        connection.execute("INSERT INTO ack_queue_jobs (data, timestamp, status) VALUES (?, 0, 0)",
                           (b"\x80\x04pickled",))
    put(stores, 1, T0)
    worker = make_worker(stores, processor)
    worker.step(T0 + 2)
    assert processor.scenes() == [[1]]
    (letter,) = stores.dead_letters.list()
    assert letter.scene_id is None and letter.error_class == "UnreadableJob"


def test_rows_left_in_progress_by_a_dead_worker_run_again(stores, processor):
    put(stores, 1, T0)
    put(stores, 2, T0)
    first = make_worker(stores, processor)
    first.step(T0)  # reads both rows; then takes one and "dies" before recording its outcome
    taken = first.index.take(T0 + 2)
    stores.jobs.mark_in_progress(taken.rowids)
    assert stores.jobs.resume_in_progress() == 1
    second = make_worker(stores, processor)
    drive(second, T0 + 2, T0 + 3)
    assert sorted(scene for call in processor.calls for scene in call.scene_ids) == [1, 2]


def test_idle_exit_waits_for_scheduled_retries(stores, processor):
    processor.fail(1, TransientError("503"))
    put(stores, 1, T0)
    worker = make_worker(stores, processor, idle_exit_seconds=60.0, backoff_base_seconds=500.0,
                         backoff_cap_seconds=500.0)
    worker.step(T0 + 2)
    assert worker.should_exit(T0 + 400) is None  # a retry is scheduled: stay
    drive(worker, T0 + 2, T0 + 600)
    assert stores.jobs.waiting_count() == 0
    assert worker.should_exit(worker._last_activity + 59) is None  # noqa: SLF001
    assert worker.should_exit(worker._last_activity + 60) == "idle"  # noqa: SLF001


def test_paused_too_long_exits(stores, processor):
    def factory():
        raise ConfigurationError("plex_url is not set")

    put(stores, 1, T0)
    worker = make_worker(stores, processor, factory=factory, pause_seconds=10.0, paused_exit_seconds=100.0)
    drive(worker, T0, T0 + 99)
    assert worker.should_exit(T0 + 99) is None and worker.should_exit(T0 + 100) == "paused"
    assert stores.jobs.waiting_count() == 1


def test_a_run_that_could_not_reach_a_server_waits_for_it_then_builds_even_with_nothing_queued(stores, processor):
    """Building does the run's own work first (the plays catch-up): a server down, even half way
    through that, keeps an empty drainer probing until the build succeeds, for `paused_exit_seconds`."""
    attempts = []

    def factory():
        attempts.append(1)
        if len(attempts) < 4:
            raise PlexUnreachable("502 Bad Gateway, half way through the plays import")
        return ReadyProcessor(processor)

    worker = make_worker(stores, processor, factory=factory, idle_exit_seconds=60.0, paused_exit_seconds=3600.0,
                         probe_base_seconds=30.0, probe_cap_seconds=60.0)
    now = drive(worker, T0, T0 + 61)
    assert worker.slot.processor is None and worker.should_exit(now) is None  # an empty queue, yet it waits
    drive(worker, now, T0 + 600)
    assert len(attempts) == 4 and worker.slot.processor is not None
    assert worker.should_exit(worker._last_activity + 60) == "idle"  # noqa: SLF001


def test_a_server_down_past_the_limit_ends_an_empty_run_but_never_one_with_jobs(stores, processor):
    def factory():
        raise PlexUnreachable("Plex answered 503 Maintenance")

    worker = make_worker(stores, processor, factory=factory, paused_exit_seconds=100.0, probe_cap_seconds=10.0)
    drive(worker, T0, T0 + 99)
    assert worker.should_exit(T0 + 99) is None and worker.should_exit(T0 + 100) == "idle"
    put(stores, 1, T0 + 100)
    drive(worker, T0 + 100, T0 + 500)
    assert worker.should_exit(T0 + 500) is None  # a queued job waits for Plex however long it takes


def test_run_in_a_thread_drains_and_exits_when_idle(stores, processor):
    for scene_id in range(1, 21):
        put(stores, scene_id, 0.0)
    worker = make_worker(stores, processor, settle_seconds=0.0, idle_exit_seconds=0.2, poll_seconds=0.02,
                         max_batch=5)
    worker.start()
    assert worker.join(timeout=20)
    assert worker.exit_reason == "idle" and processor.closed == 1
    assert sorted(scene for call in processor.calls for scene in call.scene_ids) == list(range(1, 21))
    assert all(len(call.scene_ids) <= 5 for call in processor.calls)
    assert stores.status.get("last_success_at") is not None


def test_a_row_dated_in_the_future_cannot_stall_the_drainer(stores, processor):
    put(stores, 1, T0 + 10 * 86400.0)  # the hook's clock was days ahead
    put(stores, 2, T0, attempts=1, not_before=T0 + 10 ** 9)  # a tampered retry time
    worker = make_worker(stores, processor)
    worker.step(T0)
    assert worker.index.next_due() <= T0 + 86400.0
    drive(worker, T0, T0 + 2 * 86400.0)
    assert sorted(processor.scenes()) == [[1], [2]]
