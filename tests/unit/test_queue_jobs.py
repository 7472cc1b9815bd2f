"""Jobs: JSON in and out, validation of what a tampered row could hold, and merge rules."""
import json

import pytest

from sync_queue.jobs import Job, coalesce, combine, merged_event


def test_round_trip_keeps_every_field():
    job = Job([4], "update", "edit", force=True, enqueued_at=10.5, attempts=2, not_before=99.0,
              first_failed_at=20.0, last_error="Plex timed out")
    again = Job.decode(job.encode())
    assert again == job and again.scene_id == 4
    assert json.loads(job.encode())["scene_id"] == 4


def test_batch_rows_have_no_single_scene_id():
    job = Job([1, 2, 3], "sync", "task")
    assert job.scene_id is None and "scene_id" not in job.to_dict()


def test_a_row_with_only_scene_id_is_read():
    assert Job.from_dict({"scene_id": 9, "event": "create"}).scene_ids == [9]


@pytest.mark.parametrize("data", [
    b"\x80\x04pickle", b"not json", b"[1, 2]", b'{"scene_ids": [], "event": "update"}',
    b'{"scene_ids": [1], "event": "rm -rf"}', b'{"scene_ids": ["1"], "event": "update"}',
    b'{"scene_ids": [1], "event": "update", "attempts": -1}',
    b'{"scene_ids": [1], "event": "update", "not_before": "soon"}',
    b'{"scene_ids": [1], "event": "update", "enqueued_at": NaN}',
])
def test_anything_but_a_job_is_refused(data):
    with pytest.raises(ValueError):
        Job.decode(data)


@pytest.mark.parametrize("events, merged", [
    (["update", "update"], "update"),
    (["create", "update"], "create"),
    (["update", "destroy"], "destroy"),
    (["destroy", "create"], "create"),  # Stash can reuse the id of its newest scene
    (["sync", "update"], "update"),
])
def test_merged_event(events, merged):
    assert merged_event(events) == merged


def test_coalesce_takes_the_freshest_budget_and_any_force():
    retrying = Job([5], "update", "old edit", enqueued_at=1.0, attempts=3, not_before=500.0,
                   first_failed_at=2.0, last_error="timeout")
    fresh = Job([5], "update", "new edit", force=True, enqueued_at=50.0)
    merged = coalesce([retrying, fresh])
    assert (merged.attempts, merged.not_before, merged.force, merged.first_failed_at) == (0, 0.0, True, None)
    assert merged.enqueued_at == 1.0 and merged.reason == "old edit; new edit"


def test_combine_joins_scene_ids():
    jobs = [Job([n], "update", "bulk edit", enqueued_at=float(n)) for n in (3, 1, 2)]
    combined = combine(jobs)
    assert combined.scene_ids == [3, 1, 2] and combined.reason == "bulk edit" and combined.enqueued_at == 1.0
