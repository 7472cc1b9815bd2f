"""Dead letters: list newest first, count, retry one or all, clear, purge only old entries."""

from sync_queue.dead_letters import DeadLetterEntry
from sync_queue.jobs import Job

DAY = 86400.0
NOW = 1_000_000_000.0


def letter(scene_id, at, message="scene matches two Plex items", event="update"):
    job = Job([scene_id], event, "edit", attempts=1).encode().decode()
    return DeadLetterEntry(scene_id, job, "PermanentError", "permanent", message, 1, at, at)


def test_list_is_newest_first_and_paged(stores):
    for scene_id, age_days in [(1, 3), (2, 1), (3, 2)]:
        stores.dead_letters.add(letter(scene_id, NOW - age_days * DAY))
    assert [entry.scene_id for entry in stores.dead_letters.list()] == [2, 3, 1]
    assert [entry.scene_id for entry in stores.dead_letters.list(page=2, per_page=2)] == [1]
    assert stores.dead_letters.count() == 3
    first = stores.dead_letters.list()[0]
    assert first.job["scene_ids"] == [2] and first.error_class == "PermanentError" and first.attempts == 1


def test_a_scene_has_one_entry_that_keeps_its_first_failure(stores):
    stores.dead_letters.add(letter(7, NOW - DAY, "first"))
    stores.dead_letters.add(letter(7, NOW, "second"))
    (entry,) = stores.dead_letters.list()
    assert (entry.message, entry.first_failed_at, entry.last_failed_at) == ("second", NOW - DAY, NOW)


def test_retry_one_moves_it_back_as_a_fresh_job(stores):
    stores.dead_letters.add(letter(1, NOW, event="create"))
    stores.dead_letters.add(letter(2, NOW))
    target = next(entry for entry in stores.dead_letters.list() if entry.scene_id == 1)
    assert stores.dead_letters.retry(target.id, now=NOW) == 1
    (rowid, job), = stores.jobs.read_new(0)[0]
    assert (job.scene_ids, job.event, job.attempts, job.not_before, job.enqueued_at) == ([1], "create", 0, 0.0, NOW)
    assert [entry.scene_id for entry in stores.dead_letters.list()] == [2]


def test_retry_all_and_clear(stores):
    for scene_id in (1, 2, 3):
        stores.dead_letters.add(letter(scene_id, NOW))
    assert stores.dead_letters.retry(None) == 3
    assert stores.dead_letters.count() == 0 and stores.jobs.waiting_count() == 3
    stores.dead_letters.add(letter(4, NOW))
    assert stores.dead_letters.clear() == 1 and stores.dead_letters.count() == 0


def test_an_unreadable_entry_without_scene_stays(stores):
    stores.dead_letters.add(DeadLetterEntry(None, "garbage", "UnreadableJob", "permanent", "bad row", 0, NOW, NOW))
    assert stores.dead_letters.retry(None) == 0 and stores.dead_letters.count() == 1


def test_purge_removes_only_old_entries(stores):
    stores.dead_letters.add(letter(1, NOW - 40 * DAY))
    stores.dead_letters.add(letter(2, NOW - 10 * DAY))
    stores.dead_letters.add(letter(3, NOW))
    assert stores.dead_letters.purge(30, now=NOW) == 1
    assert sorted(entry.scene_id for entry in stores.dead_letters.list()) == [2, 3]
    assert stores.dead_letters.purge(7, now=NOW) == 1
    assert [entry.scene_id for entry in stores.dead_letters.list()] == [3]
