"""JobQueue: bulk rows, status counts, and the drainer-only operations on real SQLite files."""
import pytest

from sync_queue.dead_letters import DeadLetterEntry
from sync_queue.jobs import Job
from sync_queue.rows import enqueue
from sync_queue.stores import open_stores


def test_put_batch_splits_into_rows_of_500_and_drops_repeats(stores):
    ids = list(range(1, 1202)) + [5, 6]
    assert stores.jobs.put_batch(ids, "sync", "sync all", force=True) == 3
    jobs, unreadable = stores.jobs.read_new(0)
    assert not unreadable
    assert [len(job.scene_ids) for _, job in jobs] == [500, 500, 201]
    assert all(job.force and job.event == "sync" for _, job in jobs)
    assert sum((job.scene_ids for _, job in jobs), []) == list(range(1, 1202))


def test_put_batch_rejects_bad_input_before_writing(stores):
    with pytest.raises(ValueError):
        stores.jobs.put_batch([1, "2"], "sync", "x")
    with pytest.raises(ValueError):
        stores.jobs.put_batch([1], "resync", "x")
    assert stores.jobs.waiting_count() == 0


def test_counts_pending_scheduled_and_in_progress(stores, tmp_path):
    enqueue(tmp_path, [1, 2], "update", "edit")
    stores.jobs.put(Job([3], "update", "retry", attempts=1, not_before=2000.0))
    stores.jobs.put(Job([4], "update", "retry", attempts=1, not_before=1500.0))
    jobs, _ = stores.jobs.read_new(0)
    stores.jobs.mark_in_progress([jobs[0][0]])
    counts = stores.jobs.counts(now=1000.0)
    assert (counts.pending, counts.scheduled, counts.in_progress, counts.next_due_at) == (1, 2, 1, 1500.0)
    assert counts.total == 4 and stores.jobs.waiting_count() == 3


def test_resume_puts_in_progress_rows_back(stores, tmp_path):
    enqueue(tmp_path, [1, 2, 3], "update", "edit")
    rowids = [rowid for rowid, _ in stores.jobs.read_new(0)[0]]
    stores.jobs.mark_in_progress(rowids[:2])
    assert stores.jobs.read_new(0)[0][0][0] == rowids[2]
    assert stores.jobs.resume_in_progress() == 2
    assert [rowid for rowid, _ in stores.jobs.read_new(0)[0]] == rowids


def test_record_outcome_is_one_transaction(stores, tmp_path):
    enqueue(tmp_path, [1], "update", "edit")
    (rowid, job), = stores.jobs.read_new(0)[0]
    letter = DeadLetterEntry(1, "{}", "PermanentError", "permanent", "why", 1, 5.0, 5.0)
    broken = Job([2], "not-an-event")  # fails to encode inside the transaction
    with pytest.raises(ValueError):
        stores.jobs.record_outcome([rowid], [broken], [letter])
    assert stores.jobs.waiting_count() == 1 and stores.dead_letters.count() == 0
    stores.jobs.record_outcome([rowid], [Job([2], "update", "split")], [letter])
    assert [job.scene_ids for _, job in stores.jobs.read_new(0)[0]] == [[2]]
    assert stores.dead_letters.count() == 1


def test_unreadable_rows_are_reported_not_raised(stores):
    with stores.db.transaction() as connection:
        connection.execute("INSERT INTO ack_queue_jobs (data, timestamp, status) VALUES (?, 0, 0)", (b"garbage",))
    jobs, unreadable = stores.jobs.read_new(0)
    assert jobs == [] and unreadable[0].text == "garbage" and "JSON" in unreadable[0].error


def test_opening_the_queue_elsewhere_never_resets_rows_in_progress(stores, tmp_path):
    enqueue(tmp_path, [1], "update", "edit")
    stores.jobs.mark_in_progress([stores.jobs.read_new(0)[0][0][0]])
    with open_stores(tmp_path) as other:  # a task or hook process opening the same queue
        assert other.jobs.counts().in_progress == 1
    assert stores.jobs.counts().in_progress == 1
