"""Entity changes on a real SQLite file: the hook's insert, coalescing, paging and a kill mid-way."""
from sync_queue.entity_changes import EVERY_SCENE
from sync_queue.jobqueue import job_rows
from sync_queue.rows import enqueue_entity_change
from sync_queue.stores import open_stores


def test_a_hook_row_is_taken_with_what_it_names(stores, tmp_path):
    enqueue_entity_change(tmp_path, "tag", 12, "update", ("name",))
    change = stores.changes.take(now=1e12)
    assert (change.kind, change.entity_id, change.change, change.fields, change.after_id) == \
        ("tag", 12, "update", ("name",), 0)
    assert change.what == "tag 12 renamed"


def test_the_hook_creates_the_table_in_an_older_database(tmp_path):
    with open_stores(tmp_path) as stores:
        with stores.db.transaction() as connection:
            connection.execute("DROP TABLE entity_changes")
    enqueue_entity_change(tmp_path, "performer", 4, "destroy")
    with open_stores(tmp_path) as stores:
        assert [c.what for c in stores.changes.pending()] == ["performer 4 deleted"]


def test_changes_to_one_entity_coalesce_into_the_oldest_row_which_starts_over(stores, tmp_path):
    enqueue_entity_change(tmp_path, "tag", 5, "update", ("name",))
    first = stores.changes.take(now=1e12)
    stores.changes.advance(first, [10, 20], [], finished=False)
    enqueue_entity_change(tmp_path, "studio", 2, "update", ("name",))
    enqueue_entity_change(tmp_path, "tag", 5, "update", ("parent_ids",))
    change = stores.changes.take(now=1e12)
    assert (change.id, change.after_id, change.fields) == (first.id, 0, ("name", "parent_ids"))
    assert [(c.kind, c.entity_id) for c in stores.changes.pending()] == [("tag", 5), ("studio", 2)]


def test_every_delete_becomes_one_check_of_every_scene(stores, tmp_path):
    enqueue_entity_change(tmp_path, "tag", 5, "destroy")
    enqueue_entity_change(tmp_path, "performer", 8, "destroy")
    enqueue_entity_change(tmp_path, "tag", 6, "update", ("name",))
    change = stores.changes.take(now=1e12)
    assert (change.kind, change.entity_id, change.change) == (EVERY_SCENE, 0, "destroy")
    assert [(c.kind, c.entity_id) for c in stores.changes.pending()] == [(EVERY_SCENE, 0), ("tag", 6)]


def test_a_page_and_its_jobs_land_together_and_the_last_page_removes_the_change(stores, tmp_path):
    enqueue_entity_change(tmp_path, "tag", 5, "update", ("name",))
    change = stores.changes.take(now=1e12)
    stores.changes.advance(change, [3, 4], job_rows([3, 4], "sync", change.what, False, 100.0), finished=False)
    assert stores.changes.take(now=1e12).after_id == 4
    jobs, _ = stores.jobs.read_new(0)
    assert [(job.scene_ids, job.event, job.reason) for _, job in jobs] == [([3, 4], "sync", "tag 5 renamed")]
    stores.changes.advance(stores.changes.take(now=1e12), [9], job_rows([9], "sync", "x", False, 100.0),
                           finished=True)
    assert stores.changes.count() == 0 and stores.jobs.waiting_count() == 2


def test_a_kill_before_the_commit_repeats_the_page_and_loses_nothing(tmp_path):
    enqueue_entity_change(tmp_path, "tag", 5, "update", ("name",))
    with open_stores(tmp_path, for_drainer=True) as stores:
        change = stores.changes.take(now=1e12)
        try:
            with stores.db.transaction() as connection:
                connection.execute("UPDATE entity_changes SET after_id = 99 WHERE id = ?", (change.id,))
                raise KeyboardInterrupt  # the process dies mid-transaction
        except KeyboardInterrupt:
            pass
    with open_stores(tmp_path, for_drainer=True) as stores:
        again = stores.changes.take(now=1e12)
        assert (again.id, again.after_id) == (change.id, 0) and stores.jobs.waiting_count() == 0


def test_a_postponed_change_is_not_due_until_its_time(stores, tmp_path):
    enqueue_entity_change(tmp_path, "group", 3, "update", ("name",))
    change = stores.changes.take(now=1000.0)
    stores.changes.postpone(change, 1060.0, "Stash is not answering")
    assert stores.changes.take(now=1059.0) is None
    later = stores.changes.take(now=1060.0)
    assert (later.attempts, later.last_error) == (1, "Stash is not answering")
    assert stores.changes.next_due() == 1060.0
    stores.changes.drop(later)
    assert stores.changes.count() == 0 and stores.changes.next_due() is None
