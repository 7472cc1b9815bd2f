"""Every task mode's answer as Stash shows it (output text, error line, log), against the fakes over HTTP."""
from __future__ import annotations

import pytest

from tests.integration.e2e import Fakes, start_fakes


def _synced(fakes: Fakes) -> Fakes:
    """After one sync: some scenes dead-lettered (ambiguous), some waiting for Plex; no drainer left."""
    run = fakes.run_task("sync_all")
    assert run.error is None, run.stderr[-2000:]
    fakes.stop_drainer()  # nothing runs the scheduled retries while the tests look
    fakes.ambiguous = fakes.world.ambiguous_ids
    assert fakes.ambiguous and fakes.world.missing_ids
    return fakes


@pytest.fixture(scope="module")
def seen(tmp_path_factory):
    """One synced world shared by the tests that only look."""
    fakes = start_fakes(tmp_path_factory.mktemp("seen"), scenes=120, seed=11)
    try:
        yield _synced(fakes)
    finally:
        fakes.close()


@pytest.fixture
def synced(fakes_factory):
    """A synced world of its own, for tests that change the queue."""
    return _synced(fakes_factory(scenes=120, seed=11))


def test_status_on_an_empty_data_dir(fakes_factory):
    fakes = fakes_factory(scenes=10)
    run = fakes.run_task("status")
    assert run.returncode == 0 and run.error is None
    assert run.output.splitlines()[0] == "PlexSync status"
    for text in ("waiting: 0 scenes due now", "scheduled retries: 0 scenes", "in progress: 0 scenes",
                 "dead letters: 0", "last successful sync: never", "drainer: not running",
                 "circuit breaker closed", "configuration: no error reported"):
        assert text in run.output, text
    assert "PlexSync status" in run.logs("i")  # the result is in Stash's log too
    assert run.progress == []


def test_status_after_a_sync(seen):
    run = seen.run_task("status")
    assert run.error is None
    missing = len(seen.world.missing_ids | seen.world.pending_ids)
    assert f"scheduled retries: {missing} scenes, next " in run.output
    assert f"dead letters: {len(seen.ambiguous)}" in run.output
    assert "last successful sync: 20" in run.output and "scenes known in Plex" in run.output


def test_dlq_list_retry_purge_and_clear(synced):
    listed = synced.run_task("dlq_list")
    assert listed.error is None
    lines = listed.output.splitlines()
    assert lines[0] == f"Failed jobs: {len(synced.ambiguous)}"
    assert all(f"scene {scene_id} matches 2 Plex files" in listed.output for scene_id in synced.ambiguous)
    assert "(permanent, 1 attempt, last 20" in lines[1]
    ids = [int(line.split()[0][1:]) for line in lines[1:]]
    assert ids == sorted(ids, reverse=True)  # newest first

    limited = synced.run_task("dlq_list", limit=1)
    assert limited.output.count("\n  #") == 1 and "older ones" in limited.output

    kept = synced.run_task("dlq_purge")
    assert kept.error is None and f"0 failed jobs older than 30 days deleted; {len(synced.ambiguous)} newer ones kept" \
        in kept.output

    retried = synced.run_task("dlq_retry")
    assert retried.error is None
    assert f"{len(synced.ambiguous)} failed jobs put back in the queue" in retried.output
    assert "background drainer is working on them" in retried.output
    synced.wait_drained()  # they fail again: still ambiguous
    assert {letter.scene_id for letter in synced.dead_letters()} == synced.ambiguous

    purged = synced.run_task("dlq_purge", days=0)
    assert f"{len(synced.ambiguous)} failed jobs older than 0 days deleted" in purged.output
    assert synced.dead_letters() == []
    synced.run_task("dlq_retry")
    assert "0 failed jobs put back" in synced.run_task("dlq_retry").output
    cleared = synced.run_task("dlq_clear")
    assert cleared.error is None and "0 failed jobs deleted" in cleared.output
    assert "no failed jobs" in synced.run_task("dlq_list").output


def test_dlq_clear_deletes_every_entry(synced):
    run = synced.run_task("dlq_clear")
    assert run.error is None and f"{len(synced.ambiguous)} failed jobs deleted" in run.output
    assert synced.dead_letters() == []


def test_process_queue_with_nothing_due(seen):
    run = seen.run_task("process_queue")
    assert run.error is None
    assert "nothing is due now" in run.output and "wait for a scheduled retry" in run.output
    assert "next retry 20" in run.output


def test_health_passes_and_shows_each_sampled_scene(seen):
    run = seen.run_task("health")
    assert run.returncode == 0 and run.error is None, run.stderr[-2000:]
    for name in ("Stash", "settings", "Plex", "Plex token", "Plex libraries"):
        assert f"PASS {name}: " in run.output, name
    assert "'Stash Movies' (movie: /media/videos/movies)" in run.output
    sample = [line for line in run.output.splitlines() if line.startswith("      scene ")]
    assert len(sample) == 10
    assert any("→ Plex item" in line and "(path match)" in line for line in sample)


def test_health_warns_about_file_name_matches_and_suggests_a_path_map(fakes_factory):
    fakes = fakes_factory(scenes=30)
    fakes.configure(path_map=None)
    run = fakes.run_task("health", sample=5)
    assert run.returncode == 0 and run.error is None
    assert "WARN matching: 5 of 5 sampled scenes found in Plex, 5 by file name only" in run.output
    assert "set path_map to '/data=>/media'" in run.output


def test_health_fails_when_no_sampled_scene_is_in_plex(fakes_factory):
    fakes = fakes_factory(scenes=30)
    fakes.configure(plex_library="Stash Series")  # a library that holds none of these scenes
    run = fakes.run_task("health", sample=5)
    assert run.returncode == 0
    assert run.error == "health check: 1 check failed; matching: 0 of 5 sampled scenes found in Plex; nothing matched"
    log = "\n".join(run.logs())
    assert "Plex's libraries are in /media/videos/Series: set path_map" in log
    assert log.count("→ not in Plex") == 5


def test_health_when_plex_is_down(fakes_factory):
    fakes = fakes_factory(scenes=10)
    fakes.plex.down()
    run = fakes.run_task("health")
    assert run.error.startswith("health check: 1 check failed; Plex: Plex is unreachable")
    log = "\n".join(run.logs())
    assert "PASS Stash" in log and "PASS settings" in log
    assert "SKIP Plex token: needs Plex to answer" in log


def test_match_report_counts_and_names_examples(seen):
    world = seen.world
    run = seen.run_task("match_report")
    assert run.returncode == 0 and run.error is None, run.stderr[-2000:]
    missing = len(world.missing_ids | world.pending_ids)
    found = len(world.matchable_ids - seen.ambiguous)
    assert (f"{len(world.scene_ids)} scenes: {found} found in Plex, {missing} not in Plex, "
            f"{len(seen.ambiguous)} ambiguous") in run.output
    assert run.output.count("not in Plex: scene ") == min(10, missing)
    assert run.output.count("ambiguous: scene ") == len(seen.ambiguous)
    assert "dead-lettered under strict matching" in run.output
    assert run.progress and run.progress[-1] == 1.0


def test_match_report_uses_the_warm_index(seen):
    seen.plex.reset_counts()
    run = seen.run_task("match_report")
    assert run.error is None
    counts = seen.plex.counts()
    # connect (GET /, sections) and at most one "newest items" read per library; no request per scene
    assert sum(counts.values()) <= 2 + 2 * len(seen.world.plex_sections), counts
    assert not any(key.startswith("GET /library/metadata") for key in counts)
