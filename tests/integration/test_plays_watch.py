"""Watch mode through real processes: `python PlexSync.py watch` listens to the fake Plex's
notification websocket; a play stopped in Plex is in Stash within 5 s, and a minute without the
websocket (shrunk by PLEXSYNC_TIME_SCALE) loses no play."""
from __future__ import annotations

import subprocess
import sys

from devkit.fakes.stash_plays import plays_of
from tests.helpers.procs import wait_until
from tests.integration.e2e import PLEXSYNC, Fakes

SCALE = 0.05  # a minute is 3 s


def processes_listening(fakes: Fakes) -> list:
    """Watch processes of this data dir (their command line ends with `watch`)."""
    from devkit.processes import processes_for

    found = []
    for pid in processes_for(fakes.data_dir):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if cmdline.read().split(b"\0")[-2:-1] == [b"watch"]:
                    found.append(pid)
        except OSError:
            pass
    return found


def test_a_stopped_play_reaches_stash_in_seconds_and_a_dropped_websocket_loses_nothing(fakes_factory):
    fakes: Fakes = fakes_factory(scenes=30)
    run = fakes.run_task("sync_all")
    assert run.error is None, run.stderr
    fakes.wait_drained()
    synced = fakes.synced_scene_ids()
    world = fakes.world
    first, second, third = sorted(s for s in world.matchable_ids - world.episode_ids - world.multi_file_ids
                                  if s in synced)[:3]
    plays = fakes.plex.plays
    stash_plays = plays_of(fakes.stash.store)
    proc = subprocess.Popen([sys.executable, str(PLEXSYNC), "watch", "--verbose"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(fakes.work_dir),
                            env=fakes.cli_env(PLEXSYNC_TIME_SCALE=str(SCALE)))
    fakes._children.append(proc)
    try:
        wait_until(lambda: plays.websocket_count() == 1, timeout=60, message="watch mode to listen")
        plays.play_to_end(1, fakes.rating_keys[first][0])
        wait_until(lambda: len(stash_plays.history(first)) == 1, timeout=5, interval=0.05,
                   message="the stopped play to reach Stash")

        plays.advance_clock(100)
        plays.drop_websockets(refuse_seconds=60 * SCALE)
        plays.play_to_end(1, fakes.rating_keys[second][0])  # nobody listens: no notification arrives
        plays.advance_clock(100)
        plays.play_part(1, fakes.rating_keys[third][0], 0.5)
        wait_until(lambda: len(stash_plays.history(second)) == 1 and stash_plays.resume.get(third) == 900.0,
                   timeout=60, message="the backfill after the websocket came back")
        wait_until(lambda: plays.websocket_count() == 1, timeout=30, message="the listener to be back")
        assert stash_plays.history(first) == [row["viewedAt"] for row in plays.history_rows()
                                              if row["ratingKey"] == fakes.rating_keys[first][0]]
    finally:
        proc.terminate()
        proc.wait(30)
    assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""


def test_watch_plays_has_the_drainer_start_one_listener(fakes_factory):
    fakes: Fakes = fakes_factory(scenes=30)
    fakes.configure(watch_plays=True)
    run = fakes.run_task("sync_all")  # its drainer starts the listener, once
    assert run.error is None, run.stderr
    fakes.wait_drained()
    plays = fakes.plex.plays
    wait_until(lambda: plays.websocket_count() == 1, timeout=60, message="the listener the drainer started")
    scene = sorted(s for s in fakes.world.matchable_ids - fakes.world.episode_ids - fakes.world.multi_file_ids
                   if s in fakes.synced_scene_ids())[0]
    plays.play_to_end(1, fakes.rating_keys[scene][0])
    stash_plays = plays_of(fakes.stash.store)
    wait_until(lambda: len(stash_plays.history(scene)) == 1, timeout=5, interval=0.05,
               message="the stopped play to reach Stash")
    again = fakes.run_task("sync_all")  # another drainer run: still one listener
    assert again.error is None, again.stderr
    fakes.wait_drained()
    wait_until(lambda: plays.websocket_count() == 1, timeout=30, message="one listener")
    assert len(processes_listening(fakes)) == 1
