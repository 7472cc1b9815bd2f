"""Plex and Stash outages of every shape, played against the real PlexSync.py and its drainer.

The fakes run in this process and fault every request for a while (502, resets, refused
connections, hangs past the read timeout, 500s); PlexSync.py runs as Stash runs it and starts
its detached drainer, whose every delay is shrunk by PLEXSYNC_TIME_SCALE, so a 3-minute outage
takes a few seconds with a proportionally shorter probe schedule: the number of probes is the
same as at full length. The fakes count exactly what reached them during the outage.
bench/outages.py plays the first scenario at full length.
"""
from __future__ import annotations

import json
import re
import time

import pytest

from tests.integration.e2e import Fakes, wait_until
from tests.integration.test_tasks_sync import assert_plex_says_what_stash_says

SCALE = 0.02  # 1 minute plays in 1.2 s; the 1 s first probe after 20 ms, the 60 s cap at 1.2 s
MINUTE = 60 * SCALE
ITEM_READ = "/library/metadata/{ids}"
POSTERS = "/library/metadata/{id}/posters"
DOWN = "Plex has not been answering since"


def scaled_env(fakes: Fakes) -> dict:
    return fakes.env(PLEXSYNC_TIME_SCALE=str(SCALE))


def start_sync(fakes: Fakes, **settings):
    fakes.configure(read_timeout=0.5, connect_timeout=0.5, **settings)
    return fakes.start_plugin(fakes.task_stdin("sync_all"), env=scaled_env(fakes))


def drainer_log(fakes: Fakes) -> str:
    path = fakes.data_dir / "drainer.log"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def settled(fakes: Fakes, expect_synced) -> bool:
    """Every expected scene synced, and only not-in-Plex scenes still wait (slow schedule)."""
    if not set(expect_synced) <= fakes.synced_scene_ids():
        return False
    waiting_for_plex = fakes.world.missing_ids | fakes.world.pending_ids
    with fakes.stores() as stores:
        counts = stores.jobs.counts()
        if counts.pending or counts.in_progress:
            return False
        return all(set(job.scene_ids) <= waiting_for_plex for job in stores.jobs.scheduled_jobs())


def wait_settled(fakes: Fakes, expect_synced, timeout: float = 240.0) -> None:
    wait_until(lambda: settled(fakes, expect_synced), timeout=timeout, interval=0.2,
               message="every matchable scene synced after the outage")


def assert_nothing_charged_and_all_synced(fakes: Fakes) -> None:
    world = fakes.world
    wait_settled(fakes, world.matchable_ids)
    letters = fakes.dead_letters()
    assert {letter.scene_id for letter in letters} == set(world.ambiguous_ids)  # as in a run without faults
    assert all(letter.error_kind == "permanent" for letter in letters)
    assert_plex_says_what_stash_says(fakes, world.matchable_ids)
    with fakes.stores() as stores:  # what still waits, waits for Plex to scan its files
        assert all(job.last_error_kind == "not_in_plex" for job in stores.jobs.scheduled_jobs())


def task_error(proc) -> str:
    """The sync task's error line (it stops waiting, with the one-line reason, while Plex is down)."""
    proc.wait(300)
    out = proc.stdout.read().decode()
    return json.loads(out.strip().splitlines()[-1])["error"] or ""


def probes_logged(fakes: Fakes) -> int:
    return max((int(n) for n in re.findall(r"has not been answering since \S+ \((\d+) probes?\)",
                                           drainer_log(fakes))), default=0)


def outage_then_phases(fakes: Fakes, mode: str, seconds: float, status: int = 502) -> None:
    """Start the outage once some scenes are written, then (after it) 40 500s, then 3 hangs."""
    wait_until(lambda: len(fakes.synced_scene_ids()) >= 20, timeout=120, message="the sync to be under way")
    fakes.plex.reset_counts()
    fakes.plex.outage(seconds, mode=mode, status=status)
    fakes.plex.fail_next(40, status=500, route=ITEM_READ)  # applies once the outage is over
    wait_until(lambda: sum(1 for e in fakes.plex.request_log() if e["status"] == 500) >= 40, timeout=180,
               interval=0.1, message="the 40 answers of 500")
    fakes.plex.hang_next(3, seconds=3.0, apply=False)


@pytest.mark.timeout(400)
def test_a_502_outage_then_500s_then_hangs_cost_nothing(fakes_factory):
    fakes = fakes_factory(scenes=300, seed=5)
    proc = start_sync(fakes)
    outage_then_phases(fakes, "fail", 3 * MINUTE)
    during = fakes.plex.count("outage")
    assert 1 <= during <= 30, during  # probes only: the full-length run allows 30 in 3 minutes
    assert_nothing_charged_and_all_synced(fakes)
    error = task_error(proc)
    assert error == "" or error.startswith(DOWN) and "probe" in error and "scenes waiting" in error, error
    log = drainer_log(fakes)
    assert DOWN in log and "Plex answers again: resuming" in log
    assert "dead letters" not in log.replace("moved to dead letters: scene", "")  # only the ambiguous ones


@pytest.mark.timeout(400)
@pytest.mark.parametrize("mode", ["reset", "refuse"])
def test_resets_or_refused_connections_for_a_minute_cost_nothing(fakes_factory, mode):
    fakes = fakes_factory(scenes=200, seed=6)
    proc = start_sync(fakes)
    wait_until(lambda: len(fakes.synced_scene_ids()) >= 20, timeout=120, message="the sync to be under way")
    fakes.plex.reset_counts()
    started = time.monotonic()
    fakes.plex.outage(MINUTE, mode=mode)
    wait_until(lambda: time.monotonic() - started > MINUTE, timeout=10, message="the outage to end")
    assert fakes.plex.count("outage") <= 30
    assert_nothing_charged_and_all_synced(fakes)
    task_error(proc)
    assert DOWN in drainer_log(fakes) and 1 <= probes_logged(fakes) <= 30


@pytest.mark.timeout(300)
def test_one_item_failing_every_edit_alone_is_dead_lettered_and_the_breaker_stays_closed(fakes_factory):
    fakes = fakes_factory(scenes=120, seed=8)
    world = fakes.world
    bad = min(world.matchable_ids - world.multi_file_ids - world.episode_ids)
    rating_key = fakes.rating_keys[bad][0]
    fakes.plex.fail_next(10**6, status=500, route="/library/sections/{id}/all", method="PUT",
                         where={"id": str(rating_key)})
    proc = start_sync(fakes)
    task_error(proc)
    wait_until(lambda: bad in {letter.scene_id for letter in fakes.dead_letters()}, timeout=200, interval=0.2,
               message="the failing scene in the dead letters")
    wait_settled(fakes, world.matchable_ids - {bad})
    letters = {letter.scene_id: letter for letter in fakes.dead_letters()}
    assert set(letters) == set(world.ambiguous_ids) | {bad}
    # its first 500 was not charged (it might have been Plex-wide); then max_retries (5) retries
    assert letters[bad].error_kind == "server_error" and letters[bad].attempts == 6
    assert "500" in letters[bad].message
    assert DOWN not in drainer_log(fakes)  # the breaker never opened
    assert_plex_says_what_stash_says(fakes, world.matchable_ids - {bad})


@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", ["refuse", "fail"])
def test_stash_down_for_a_minute_mid_sync_charges_nothing(fakes_factory, mode):
    fakes = fakes_factory(scenes=200, seed=9)
    proc = start_sync(fakes)
    wait_until(lambda: len(fakes.synced_scene_ids()) >= 20, timeout=120, message="the sync to be under way")
    fakes.stash.outage(MINUTE, mode=mode, status=502)
    assert_nothing_charged_and_all_synced(fakes)
    task_error(proc)
    assert "Stash has not been answering since" in drainer_log(fakes)
    assert "Stash answers again: resuming" in drainer_log(fakes)


@pytest.mark.timeout(300)
def test_stash_down_when_the_drainer_starts_pauses_and_carries_on(fakes_factory):
    fakes = fakes_factory(scenes=40, seed=3)
    fakes.configure(read_timeout=0.5, connect_timeout=0.5)
    run = fakes.run_plugin(fakes.task_stdin("sync_all"), env=scaled_env(fakes))
    assert run.error is None, run.stderr[-2000:]
    fakes.stop_drainer()
    scene_id = min(fakes.world.matchable_ids - fakes.world.multi_file_ids - fakes.world.episode_ids)
    fakes.stash.edit_scene(scene_id, title="Edited while Stash restarts")
    fakes.stash.outage(MINUTE, mode="fail", status=502)
    hook = fakes.hook_stdin("Scene.Update.Post", scene_id, {"id": str(scene_id), "title": "x"}, ["id", "title"])
    assert fakes.run_plugin(hook, env=scaled_env(fakes)).error is None
    wait_until(lambda: fakes.plex.item(fakes.rating_keys[scene_id][0])["title"] == "Edited while Stash restarts",
               timeout=120, interval=0.1, message="the edit in Plex once Stash is back")
    assert not fakes.dead_letters() or {d.scene_id for d in fakes.dead_letters()} <= set(fakes.world.ambiguous_ids)
    assert "Stash has not been answering since" in drainer_log(fakes)


@pytest.mark.timeout(300)
def test_a_failing_poster_upload_never_holds_back_the_metadata(fakes_factory):
    fakes = fakes_factory(scenes=30, seed=4)
    fakes.plex.fail_next(4, status=500, route=POSTERS, method="POST")
    proc = start_sync(fakes)
    task_error(proc)
    world = fakes.world
    wait_until(lambda: all(fakes.plex.item(fakes.rating_keys[s][0])["posters"] for s in world.matchable_ids),
               timeout=120, interval=0.2, message="every poster in Plex once uploads work again")
    wait_settled(fakes, world.matchable_ids)
    log = fakes.plex.request_log()
    failed = [int(e["path"].split("/")[3]) for e in log if e["route"].endswith("/posters") and e["status"] == 500]
    assert len(failed) == 4
    for rating_key in failed:  # its metadata went out before the failed upload
        edit = next(i for i, e in enumerate(log) if e["method"] == "PUT" and ("id", str(rating_key)) in e["query"])
        upload = next(i for i, e in enumerate(log) if e["path"] == f"/library/metadata/{rating_key}/posters")
        assert edit < upload
    assert_plex_says_what_stash_says(fakes, world.matchable_ids)
    assert {d.scene_id for d in fakes.dead_letters()} == set(world.ambiguous_ids)


@pytest.mark.timeout(300)
def test_a_12_mib_screenshot_writes_the_metadata_and_warns_once(fakes_factory):
    fakes = fakes_factory(scenes=30, seed=4)
    world = fakes.world
    big = min(world.matchable_ids - world.multi_file_ids - world.episode_ids)
    fakes.stash.screenshot_sizes[big] = 12 * 1024 * 1024
    task_error(start_sync(fakes))
    wait_settled(fakes, world.matchable_ids)
    assert_plex_says_what_stash_says(fakes, world.matchable_ids)
    item = fakes.plex.item(fakes.rating_keys[big][0])
    assert item["posters"] == [] and item["arts"] == []
    assert all(e["status"] != 500 for e in fakes.plex.request_log())
    warnings = [line for line in drainer_log(fakes).splitlines() if f"scene {big}: the screenshot is" in line]
    assert len(warnings) == 1 and "over what Plex accepts" in warnings[0]
    assert {d.scene_id for d in fakes.dead_letters()} == set(world.ambiguous_ids)
    fakes.stash.reset_counts()
    task_error(start_sync(fakes))  # nothing changed: the big image is neither fetched nor warned about again
    assert fakes.stash.count("GET /scene/{id}/screenshot") == 0


@pytest.mark.timeout(300)
def test_a_latency_spike_does_not_open_the_breaker(fakes_factory):
    fakes = fakes_factory(scenes=20, seed=2)
    fakes.plex.latency(120)  # slow but correct answers, well inside the read timeout
    fakes.configure(read_timeout=2.0)
    run = fakes.run_plugin(fakes.task_stdin("sync_all"), env=scaled_env(fakes))
    assert run.error is None, run.stderr[-2000:]
    wait_settled(fakes, fakes.world.matchable_ids)
    assert DOWN not in drainer_log(fakes)
