"""Plays in Plex reach Stash exactly once, through the real CLI process, plexapi and the fakes:
a movie and an episode finished by the owner and two other accounts, a SIGKILL of the drainer
between the Stash write and PlexSync's record, a 5-minute outage of every Plex route that begins
in the middle of a drainer's import (on the drainer's shrunk clock, PLEXSYNC_TIME_SCALE, ending
by itself), re-runs, resume points."""
from __future__ import annotations

import json
import signal
import subprocess
import sys

from devkit.fakes.stash_plays import plays_of
from tests.helpers.procs import wait_until
from tests.integration.e2e import PLEXSYNC, Fakes

HISTORY = "GET /status/sessions/history/all"
KID, GUEST = 2, 3
SCALE = 0.02  # the drainer's clock: 5 minutes in 6 s
MINUTE = 60 * SCALE


def _setup(fakes_factory) -> tuple:
    fakes: Fakes = fakes_factory(scenes=40)
    fakes.plex.plays.add_account(KID, "kid", "kid-token")
    fakes.plex.plays.add_account(GUEST, "guest", "guest-token")
    fakes.configure(plays_accounts="1, kid")
    run = fakes.run_task("sync_all")
    assert run.error is None, run.stderr
    fakes.wait_drained()
    synced = fakes.synced_scene_ids()
    world = fakes.world
    movies = sorted(s for s in world.matchable_ids - world.episode_ids - world.multi_file_ids if s in synced)
    episodes = sorted(s for s in world.matchable_ids & world.episode_ids if s in synced)
    return fakes, movies, episodes


def _import(fakes: Fakes, *argv: str, **env: str) -> dict:
    done = fakes.run_cli("plays", "import", "--json", *argv, env=fakes.cli_env(**env))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _drainer(fakes: Fakes, scale: float = 0.05, **env: str) -> subprocess.Popen:
    """`python PlexSync.py worker`: the drainer in the foreground (it stays while retries are scheduled)."""
    proc = subprocess.Popen([sys.executable, str(PLEXSYNC), "worker"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(fakes.work_dir),
                            env=fakes.cli_env(PLEXSYNC_TIME_SCALE=str(scale), **env))
    fakes._children.append(proc)
    return proc


def _last_import(fakes: Fakes) -> float:
    """When the last plays import finished (0: never)."""
    with fakes.stores() as stores:
        if not stores.db.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'plays_meta'"):
            return 0.0
        row = stores.db.query_one("SELECT value FROM plays_meta WHERE key = 'last_import'")
        return float(json.loads(row[0])["at"]) if row else 0.0


def _expected(fakes: Fakes, scene: int) -> list:
    rk = fakes.rating_keys[scene][0]
    return sorted((row["viewedAt"] for row in fakes.plex.plays.history_rows()
                   if row["ratingKey"] == rk and row["accountID"] in (1, KID)), reverse=True)


def test_views_become_plays_exactly_once_through_a_kill_and_an_outage(fakes_factory):
    fakes, movies, episodes = _setup(fakes_factory)
    fakes.stop_drainer()
    movie, episode = movies[0], episodes[0]
    plays = fakes.plex.plays
    rk_movie, rk_episode = fakes.rating_keys[movie][0], fakes.rating_keys[episode][0]
    for account, rk in ((1, rk_movie), (KID, rk_episode), (GUEST, rk_movie), (1, rk_episode), (KID, rk_movie)):
        plays.play_to_end(account, rk, client=f"tv-{account}")
        plays.advance_clock(100)

    preview = _import(fakes, "--dry-run")
    assert preview["plays_added"] == 4 and preview["other_accounts"] == 1
    stash_plays = plays_of(fakes.stash.store)
    assert stash_plays.mutation_count == 0  # the preview wrote nothing

    # the drainer, killed between its Stash write and its record of it
    fakes.configure(plays_accounts="1, kid", import_plays=True)
    killed = _drainer(fakes, PLEXSYNC_PLAYS_FAULT="kill-after-stash-write")
    assert killed.wait(60) == -signal.SIGKILL
    assert stash_plays.history(movie) == _expected(fakes, movie)  # written, but never recorded

    # the next drainer run meets a 5-minute outage of every Plex route (on its shrunk clock, ending by
    # itself) in the middle of its import: it begins once Plex has answered the history request
    plays.play_to_end(1, rk_movie, client="tv-1")  # a second view by the owner while PlexSync was down
    plays.advance_clock(100)
    fakes.plex.reset_counts()
    fakes.plex.outage_after(HISTORY, 5 * MINUTE)
    previous = _last_import(fakes)
    drainer = _drainer(fakes, scale=SCALE)
    wait_until(lambda: fakes.plex.count("outage") > 0, timeout=60, message="the outage, begun by the import")
    plays.play_to_end(KID, rk_episode, client="tv-2")  # a view finished during the outage
    plays.advance_clock(100)
    assert _last_import(fakes) == previous
    assert stash_plays.history(movie) == _expected(fakes, movie)  # the import's first half landed
    failed = fakes.run_cli("plays", "import", env=fakes.cli_env())  # a run by hand now: one clear line
    assert failed.returncode == 1 and "Plex" in failed.stderr and len(failed.stderr.strip().splitlines()) == 1
    wait_until(lambda: _last_import(fakes) > previous, timeout=5 * MINUTE + 90, interval=0.2,
               message="the drainer's plays import after the outage")
    drainer.terminate()
    assert drainer.wait(60) == 0
    log = fakes.plex.request_log()
    first_history = next(i for i, entry in enumerate(log) if entry["route"] == HISTORY)
    assert log[first_history]["status"] == 200 and log[first_history + 1]["status"] == 502  # cut in the middle

    first = _import(fakes)
    again = _import(fakes)
    for scene in (movie, episode):
        assert stash_plays.history(scene) == _expected(fakes, scene)
    assert len(stash_plays.history(movie)) == 3 and len(stash_plays.history(episode)) == 3
    assert first["plays_added"] == 0 and again["plays_added"] == 0

    fakes.plex.reset_counts()
    writes = stash_plays.mutation_count
    nothing_new = _import(fakes)
    assert fakes.plex.count(HISTORY) == 1 and stash_plays.mutation_count == writes
    assert nothing_new["new_views"] == 0

    explained = fakes.run_cli("explain", str(movie), env=fakes.cli_env())
    assert explained.returncode == 0, explained.stderr
    assert "plays in Plex: 4" in explained.stdout and "plays in Stash: 3" in explained.stdout
    assert "plays PlexSync brought from Plex: 3" in explained.stdout


def test_a_stash_outage_between_reading_and_writing_plays_is_waited_out_and_adds_each_play_once(fakes_factory):
    fakes, movies, _ = _setup(fakes_factory)
    fakes.stop_drainer()
    scenes = movies[12:14]
    for scene in scenes:
        fakes.plex.plays.play_to_end(1, fakes.rating_keys[scene][0])
        fakes.plex.plays.advance_clock(60)
    fakes.configure(plays_accounts="", import_plays=True)
    fakes.stash.reset_counts()
    # 5 minutes of 502 from Stash, from the moment it has answered the import's read of play history
    fakes.stash.outage_after("POST /graphql PlexSyncScenePlays", 5 * MINUTE)
    previous = _last_import(fakes)
    drainer = _drainer(fakes, scale=SCALE)
    wait_until(lambda: _last_import(fakes) > previous, timeout=5 * MINUTE + 90, interval=0.2,
               message="the drainer's plays import after Stash's outage")
    drainer.terminate()
    assert drainer.wait(60) == 0
    sent = fakes.stash.count("POST /graphql PlexSyncAddPlays")  # refused ones too
    landed = [entry for entry in fakes.stash.graphql_log() if entry["operation"] == "PlexSyncAddPlays"]
    assert fakes.stash.count("outage") > 0 and sent >= 2 and len(landed) == 1  # refused, then written once
    stash_plays = plays_of(fakes.stash.store)
    for scene in scenes:
        assert len(stash_plays.history(scene)) == 1 and stash_plays.history(scene) == _expected(fakes, scene)


def test_a_proxy_refusing_only_the_history_path_never_holds_the_metadata_queue_back(fakes_factory):
    fakes, movies, _ = _setup(fakes_factory)
    fakes.stop_drainer()
    letters = len(fakes.dead_letters())  # the sync's own (scenes matching two Plex items)
    fakes.configure(plays_accounts="", import_plays=True)
    fakes.plex.reset_counts()
    fakes.plex.fail_next(1000, status=504, route="/status/sessions/history/all")  # nginx timing out on it
    scene = movies[15]
    fakes.edit_in_stash(scene, title="Edited while history fails")  # its hook starts a drainer
    wait_until(lambda: fakes.plex.item(fakes.rating_keys[scene][0])["title"] == "Edited while history fails",
               timeout=60, message="the edit to reach Plex")
    fakes.wait_drained()
    # the import and one more try, each failure followed by a probe of Plex, which answers: not an outage
    assert fakes.plex.count(HISTORY) == 2 and fakes.plex.count("GET /identity") == 2
    assert _last_import(fakes) == 0.0
    log = (fakes.data_dir / "drainer.log").read_text(encoding="utf-8")
    assert "plays from Plex not imported this time" in log and len(fakes.dead_letters()) == letters


def test_half_watched_sets_the_resume_point_and_finishing_clears_it(fakes_factory):
    fakes, movies, _ = _setup(fakes_factory)
    movie = movies[1]
    rk = fakes.rating_keys[movie][0]
    fakes.plex.plays.play_part(1, rk, 0.5)
    fakes.plex.plays.play_part(KID, rk, 0.8)  # another account's resume point is its own
    fakes.plex.plays.advance_clock(60)
    report = _import(fakes)
    stash_plays = plays_of(fakes.stash.store)
    assert report["resume_set"] == 1 and stash_plays.resume[movie] == 900.0
    assert stash_plays.history(movie) == [] and stash_plays.duration.get(movie, 0.0) == 0.0
    assert _import(fakes)["resume_set"] == 0  # nothing new: nothing written again

    fakes.plex.plays.play_to_end(1, rk)
    fakes.plex.plays.advance_clock(60)
    report = _import(fakes)
    assert report["plays_added"] == 1 and report["resume_cleared"] == 1
    assert stash_plays.resume[movie] == 0.0 and stash_plays.history(movie) == _expected(fakes, movie)
    assert stash_plays.duration.get(movie, 0.0) == 0.0  # never a play duration


def test_marked_watched_gives_one_play_and_unmatched_views_are_named(fakes_factory):
    fakes, movies, _ = _setup(fakes_factory)
    movie = movies[2]
    rk = fakes.rating_keys[movie][0]
    fakes.plex.plays.scrobble(1, rk)  # no history row
    stray = fakes.plex.add_movie(1, ["/elsewhere/stray.mp4"], "Stray Movie")
    fakes.plex.plays.play_to_end(1, stray)
    fakes.plex.plays.advance_clock(60)
    report = _import(fakes)
    stash_plays = plays_of(fakes.stash.store)
    marked_at = fakes.plex.plays.state(1, rk)["lastViewedAt"]
    assert report["marked_watched"] == 1 and stash_plays.history(movie) == [marked_at]
    assert report["unmatched"] == 1 and report["unmatched_titles"] == ["Stray Movie"]
    assert _import(fakes)["plays_added"] == 0
    status = fakes.run_cli("status", env=fakes.cli_env())
    assert "plays waiting for a match: 1 ('Stray Movie')" in status.stdout


def test_views_in_libraries_plexsync_does_not_sync_are_left_out_and_their_state_is_not_read(fakes_factory):
    fakes, movies, _ = _setup(fakes_factory)
    fakes.plex.add_section(3, "Family Films", "movie", ["/media/family"])  # shared with the family
    film = fakes.plex.add_movie(3, ["/media/family/film.mp4"], "Family Film")
    fakes.configure(plays_accounts="", plex_library="Stash Movies, Stash Series")
    movie = movies[16]
    for rk in (film, fakes.rating_keys[movie][0]):
        fakes.plex.plays.play_to_end(1, rk)
        fakes.plex.plays.advance_clock(60)
    fakes.plex.reset_counts()
    report = _import(fakes)
    assert report["plays_added"] == 1 and len(plays_of(fakes.stash.store).history(movie)) == 1
    assert report["other_libraries"] == 1 and report["unmatched"] == 0  # not waiting for a match, not named
    listed = {entry["path"] for entry in fakes.plex.request_log() if entry["route"] == "GET /library/sections/{id}/all"}
    assert listed == {"/library/sections/1/all", "/library/sections/2/all"}  # the owner's state of synced ones
    status = fakes.run_cli("status", env=fakes.cli_env())
    assert "Family Film" not in status.stdout and "plays waiting for a match: 0" in status.stdout


def test_the_drainer_catches_up_first_and_a_sigkill_after_the_stash_write_adds_nothing_twice(fakes_factory):
    fakes, movies, episodes = _setup(fakes_factory)
    fakes.stop_drainer()
    movie, episode = movies[3], episodes[1]
    plays = fakes.plex.plays
    for account, scene in ((1, movie), (KID, episode), (GUEST, episode)):
        plays.play_to_end(account, fakes.rating_keys[scene][0], client=f"tv-{account}")
        plays.advance_clock(100)
    fakes.configure(plays_accounts="1, kid", import_plays=True)
    killed = _drainer(fakes, PLEXSYNC_PLAYS_FAULT="kill-after-stash-write")
    assert killed.wait(60) == -signal.SIGKILL
    stash_plays = plays_of(fakes.stash.store)
    assert stash_plays.history(movie) == _expected(fakes, movie)  # written, never recorded
    for _ in range(2):  # each drainer run catches up before its queue; then it is stopped
        previous = _last_import(fakes)
        drainer = _drainer(fakes)
        wait_until(lambda: _last_import(fakes) > previous, timeout=60, message="the drainer's plays import")
        drainer.terminate()
        assert drainer.wait(60) == 0
    for scene in (movie, episode):
        assert stash_plays.history(scene) == _expected(fakes, scene)
    assert len(stash_plays.history(episode)) == 1  # the guest's view is not a chosen account's

    # nothing new: a drainer run asks Plex's history once, on the connection it holds for its queue,
    # and writes nothing to Stash (the owner's item state was read less than 15 scaled minutes ago)
    fakes.plex.reset_counts()
    writes, previous = stash_plays.mutation_count, _last_import(fakes)
    drainer = _drainer(fakes)
    wait_until(lambda: _last_import(fakes) > previous, timeout=60, message="the drainer's plays import")
    drainer.terminate()
    assert drainer.wait(60) == 0
    queue = ("GET /", "GET /library/sections")  # the queue's connection and its index of libraries
    plays_requests = {k: v for k, v in fakes.plex.counts().items() if k not in queue}
    assert plays_requests == {HISTORY: 1}, plays_requests
    assert stash_plays.mutation_count == writes


def test_both_ways_three_rounds_change_nothing_after_the_first(fakes_factory):
    fakes, movies, _ = _setup(fakes_factory)
    fakes.configure(plays_accounts="", plays_to_plex=True)
    a, b, c, d = movies[4:8]
    rk = {scene: fakes.rating_keys[scene][0] for scene in (a, b, c, d)}
    stash_plays, plex_plays = plays_of(fakes.stash.store), fakes.plex.plays
    stash_plays.add_play(a, ["2024-05-01T10:00:00Z"])  # played in Stash's own player
    stash_plays.save_activity(c, resume_time=300.0)  # stopped half way in Stash
    plex_plays.play_to_end(1, rk[b])  # finished in Plex
    plex_plays.play_part(1, rk[d], 0.25)  # stopped in Plex
    plex_plays.advance_clock(60)

    first = _import(fakes)
    assert first["plays_added"] == 1 and first["resume_set"] == 1
    assert first["exported"] == {"marked_played": 1, "resume_sent": 1, "dry_run": False}
    assert plex_plays.state(1, rk[a])["viewCount"] == 1 and plex_plays.state(1, rk[c])["viewOffset"] == 300000
    assert stash_plays.resume[d] == 450.0 and len(stash_plays.history(b)) == 1

    def world() -> tuple:
        return ({s: (stash_plays.history(s), stash_plays.resume.get(s), stash_plays.duration.get(s))
                 for s in (a, b, c, d)}, {s: plex_plays.state(1, rk[s]) for s in (a, b, c, d)},
                len(plex_plays.history_rows()))

    settled, writes = world(), stash_plays.mutation_count
    for _ in range(2):
        plex_plays.advance_clock(60)
        fakes.plex.reset_counts()
        again = _import(fakes)
        assert again["plays_added"] == 0 and again["resume_set"] == 0 and again["resume_cleared"] == 0
        assert again["exported"] == {"marked_played": 0, "resume_sent": 0, "dry_run": False}
        assert world() == settled and stash_plays.mutation_count == writes
        assert not any(key.startswith(("GET /:/scrobble", "GET /:/progress", "PUT ")) for key in fakes.plex.counts())


def test_overlapping_imports_a_view_reported_twice_and_multi_file_scenes_add_each_play_once(fakes_factory):
    fakes, movies, episodes = _setup(fakes_factory)
    plays = fakes.plex.plays
    versioned = sorted(fakes.world.versioned_ids & fakes.synced_scene_ids())  # two files, one Plex item
    assert versioned
    scenes = movies[8:12] + episodes[2:4] + versioned
    for scene in scenes:
        plays.play_to_end(1, fakes.rating_keys[scene][0])
        plays.advance_clock(30)
    with plays.lock:
        plays.history.append(dict(plays.history[0]))  # the same history row served twice
    runs = [subprocess.Popen([sys.executable, str(PLEXSYNC), "plays", "import"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(fakes.work_dir),
                             env=fakes.cli_env()) for _ in range(3)]
    fakes._children.extend(runs)
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
    stash_plays = plays_of(fakes.stash.store)
    for scene in scenes:
        assert len(stash_plays.history(scene)) == 1


def test_ratings_from_plex_reach_stash_and_the_hook_queues_no_echo(fakes_factory):
    fakes, movies, _ = _setup(fakes_factory)
    fakes.configure(plays_accounts="", ratings_from_plex=True)
    scene, other = movies[12], movies[13]
    hooks: list = []
    fakes.stash.store.on_hook(hooks.append)
    fakes.plex.plays.rate(1, fakes.rating_keys[scene][0], 8.0)
    fakes.plex.plays.rate(1, fakes.rating_keys[other][0], 7.5)
    report = _import(fakes)
    assert report["ratings_set"] == 2
    assert fakes.stash.scene(scene).rating100 == 80 and fakes.stash.scene(other).rating100 == 75
    assert len(hooks) == 2  # Stash fires Scene.Update.Post for PlexSync's write, as for any sceneUpdate
    queued = fakes.queue_rows()
    for context in hooks:  # the real hook process, fed what Stash would send it
        run = fakes.run_plugin(json.dumps({"server_connection": fakes.server_connection(),
                                           "args": {"hookContext": context}}))
        assert run.error is None and run.output == "nothing PlexSync syncs changed", run.stderr
    assert fakes.queue_rows() == queued
    assert _import(fakes)["ratings_set"] == 0
