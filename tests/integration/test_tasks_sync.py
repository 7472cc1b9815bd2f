"""The sync tasks end to end: PlexSync.py run as Stash runs it, the drainer it starts, both fakes over HTTP.

What a user sees (the output, the progress bar, the error line) and what Plex ends up holding
are both asserted; the fakes' request counters show that a second sync writes nothing.
"""
from __future__ import annotations

import os
import re
import signal

import pytest

from plex.fields import clean_line, file_stem
from tests.integration.e2e import Fakes, wait_until

POSIX_ONLY = pytest.mark.skipif(os.name == "nt", reason="POSIX-only: SIGKILL does not exist on Windows")
SUMMARY = re.compile(r"([\d,]+) scenes? queued: ([\d,]+) written to Plex, ([\d,]+) unchanged, ([\d,]+) failed "
                     r"\(dead letters\), ([\d,]+) not in Plex yet, ([\d,]+) retrying")


def summary(output: str) -> dict:
    found = SUMMARY.search(output)
    assert found, output
    names = ("queued", "written", "unchanged", "failed", "not_in_plex", "retrying")
    return {name: int(value.replace(",", "")) for name, value in zip(names, found.groups())}


def separate_items(fakes: Fakes) -> set:
    """Multi-file scenes Plex shows as two items: each goes to its primary (first) file's item."""
    world = fakes.world
    return (world.multi_file_ids - world.versioned_ids) & world.matchable_ids


def assert_plex_says_what_stash_says(fakes: Fakes, scene_ids) -> None:
    rows = {row.id: row for row in fakes.world.stash_data.scenes}
    tags = fakes.world.stash_data.tags
    tag_names = {tag.id: tag.name for tag in tags}
    for scene_id in scene_ids:
        row = rows[scene_id]
        item = fakes.plex.item(fakes.rating_keys[scene_id][0])
        expected_title = clean_line(row.title) or clean_line(file_stem(row.files[0].path))
        assert item["title"] == expected_title, scene_id
        if scene_id in fakes.world.episode_ids:  # Plex episodes have no genres: tags go nowhere
            assert item["type"] == "episode"
            continue
        assert sorted(item["genres"]) == sorted({tag_names[t] for t in row.tag_ids}), scene_id


def test_sync_all_syncs_every_matchable_scene_and_a_second_run_writes_nothing(fakes_factory):
    fakes = fakes_factory(scenes=2000, seed=7)
    world = fakes.world
    assert separate_items(fakes)  # the world has scenes whose two files are two Plex items
    synced = world.matchable_ids
    ambiguous = world.ambiguous_ids
    not_in_plex = world.missing_ids | world.pending_ids

    run = fakes.run_task("sync_all")
    assert run.returncode == 0 and run.error is None, run.stderr[-2000:]
    assert run.progress and run.progress[-1] == 1.0
    assert run.progress == sorted(run.progress)  # the bar never moves back
    assert not run.logs("e", "?")
    counts = summary(run.output)
    assert counts == {"queued": 2000, "written": len(synced), "unchanged": 0, "failed": len(ambiguous),
                      "not_in_plex": len(not_in_plex), "retrying": 0}
    assert "not in Plex yet: scene" in run.output and "failed: scene" in run.output
    for secret in (fakes.plex.token, fakes.stash.session_cookie):
        assert secret not in run.stdout + run.stderr

    assert fakes.synced_scene_ids() == synced
    assert_plex_says_what_stash_says(fakes, synced)
    letters = {letter.scene_id: letter for letter in fakes.dead_letters()}
    assert set(letters) == ambiguous
    rows = {row.id: row for row in world.stash_data.scenes}
    for scene_id, letter in letters.items():
        assert letter.error_kind == "permanent"
        base = rows[scene_id].files[0].path.rsplit("/", 1)[-1]
        for copy in ("copies-a", "copies-b"):  # both candidates are named
            assert f"/{copy}/{base}" in letter.message
    with fakes.stores() as stores:
        waiting = {s for job in stores.jobs.scheduled_jobs() for s in job.scene_ids}
    assert waiting == not_in_plex  # retried later, not dead-lettered

    writes = fakes.plex_writes()
    again = fakes.run_task("sync_all")
    assert again.error is None, again.stderr[-2000:]
    assert fakes.plex_writes() == writes  # no PUT, no POST: every scene was unchanged
    second = summary(again.output)
    assert second["written"] == 0 and second["unchanged"] == len(synced)
    assert second["failed"] == len(ambiguous) and second["not_in_plex"] == len(not_in_plex)


def test_sync_recent_queues_only_scenes_updated_in_the_last_day(fakes_factory):
    fakes = fakes_factory(scenes=80, seed=3)
    scene_id = min(fakes.world.matchable_ids - separate_items(fakes))
    nothing = fakes.run_task("sync_recent")
    assert nothing.error is None and "no scene was updated in the last 24 hours" in nothing.output
    assert fakes.queue_rows() == 0

    fakes.stash.edit_scene(scene_id, title="Edited a minute ago")
    run = fakes.run_task("sync_recent")
    assert run.error is None, run.stderr[-2000:]
    assert summary(run.output)["queued"] == 1 and summary(run.output)["written"] == 1
    assert fakes.plex.item(fakes.rating_keys[scene_id][0])["title"] == "Edited a minute ago"
    assert fakes.synced_scene_ids() == {scene_id}


def test_force_rewrites_unchanged_scenes(fakes_factory):
    fakes = fakes_factory(scenes=60, seed=4)
    synced = fakes.world.matchable_ids
    assert fakes.run_task("sync_all").error is None
    writes = fakes.plex_writes()
    forced = fakes.run_task("sync_all_force")
    assert forced.error is None, forced.stderr[-2000:]
    assert summary(forced.output)["written"] == len(synced)
    assert fakes.plex_writes() - writes >= len(synced)  # at least one PUT per scene


def test_missing_plex_url_is_named_and_nothing_is_queued(fakes_factory):
    fakes = fakes_factory(scenes=20)
    fakes.configure(plex_url=None)
    for mode in ("sync_all", "sync_recent", "process_queue", "match_report"):
        run = fakes.run_task(mode)
        assert run.returncode == 0
        assert run.error == "plex_url is not set: Settings → Plugins → PlexSync", (mode, run.error)
        assert run.logs("e") == [run.error]
    assert fakes.queue_rows() == 0


def test_invalid_setting_is_named(fakes_factory):
    fakes = fakes_factory(scenes=20)
    fakes.configure(max_retries="many")
    run = fakes.run_task("sync_all")
    assert run.returncode == 0 and run.error.startswith("max_retries must be a number, got 'many'")
    assert fakes.queue_rows() == 0


def test_wrong_plex_token_pauses_with_jobs_queued_then_a_fix_resumes(fakes_factory):
    fakes = fakes_factory(scenes=40, seed=5)
    fakes.configure(plex_token="not-the-token")

    health = fakes.run_task("health")
    assert health.returncode == 0 and "Plex token" in health.error and "rejected the token" in health.error
    log = "\n".join(health.logs())
    assert "PASS Plex: Plex answers" in log and "FAIL Plex token: Plex rejected the token" in log

    run = fakes.run_task("sync_all")
    assert run.returncode == 0
    assert run.error.startswith("Plex rejected the token: check plex_token in Settings → Plugins → PlexSync")
    assert "jobs are kept" in run.error
    assert fakes.unfinished_rows() > 0 and fakes.dead_letters() == []  # queued, not dead-lettered
    status = fakes.run_task("status")
    assert "configuration: paused since" in status.output and "rejected the token" in status.output

    fakes.configure()  # the user fixes the token; the paused drainer is restarted to read it at once
    fixed = fakes.run_task("process_queue")
    assert fixed.error is None, fixed.stderr[-2000:]
    assert fakes.synced_scene_ids() == fakes.world.matchable_ids
    assert fakes.dead_letters() and all(letter.error_kind == "permanent" for letter in fakes.dead_letters())


@POSIX_ONLY
def test_a_sync_task_killed_mid_way_loses_nothing(fakes_factory):
    fakes = fakes_factory(scenes=300, seed=6, plex_latency_ms=3)
    synced = fakes.world.matchable_ids
    task = fakes.start_plugin(fakes.task_stdin("sync_all"))
    wait_until(lambda: len(fakes.synced_scene_ids()) >= 20, timeout=120, interval=0.05,
               message="the drainer to write the first scenes")
    os.kill(task.pid, signal.SIGKILL)  # what Stash does when the user cancels the task
    task.wait(30)
    assert task.returncode == -signal.SIGKILL
    assert len(fakes.synced_scene_ids()) < len(synced)  # the kill landed mid-sync
    wait_until(lambda: fakes.synced_scene_ids() == synced, timeout=180, interval=0.1,
               message="the detached drainer to finish every scene")
    fakes.wait_drained()
    assert_plex_says_what_stash_says(fakes, synced)
    assert {letter.scene_id for letter in fakes.dead_letters()} == fakes.world.ambiguous_ids
