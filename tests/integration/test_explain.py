"""`python PlexSync.py explain SCENE_ID` and the task "Explain a scene", through the real processes
against the fake Stash and fake Plex over loopback: it names the cause (and the fix) for a scene
in each state the test world has, sends only GET requests to Plex, and leaves PlexSync's state
(queue, dead letters, sync state, saved connection, hook snapshot) exactly as it was."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Tuple

import pytest

from hooks.snapshot import snapshot_path
from stash.connection import connection_path
from tests.integration.e2e import PLEXSYNC, Fakes, plugin_env, run_plexsync, start_fakes

SCENES, SEED = 60, 11
FIX_SETTINGS = "Settings → Plugins → PlexSync"


def explain(fakes: Fakes, scene_id: int, *flags: str) -> Dict[str, Any]:
    """`PlexSync.py --json explain ID` as a subprocess; the result object (the run must succeed)."""
    run = fakes.run_cli("--json", "explain", str(scene_id), *flags)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    result = json.loads(run.stdout)
    assert result["ok"] and result["mode"] == "explain" and result["scene_id"] == scene_id
    assert result["lines"][0].startswith("cause: ") and result["lines"][-1].startswith("fix: ")
    return result


def state_of(data_dir: Path) -> Tuple[Any, ...]:
    """Every row of PlexSync's own state, and whether the connection and hook snapshot exist."""
    rows: Tuple[Any, ...] = ([], [], [], [])  # no database yet: every table empty
    if (data_dir / "queue.db").exists():
        connection = sqlite3.connect(str(data_dir / "queue.db"))
        try:
            rows = tuple(connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                         for table in ("ack_queue_jobs", "dead_letters", "sync_state", "drainer_status"))
        finally:
            connection.close()
    return rows + (connection_path(data_dir).exists(), Path(snapshot_path(data_dir)).exists())


def only_gets(fakes: Fakes) -> None:
    methods = {key.split(" ", 1)[0] for key in fakes.plex.counts()}
    assert methods == {"GET"}, fakes.plex.counts()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A world nothing has been synced to yet (so the ambiguous scenes are not dead-lettered)."""
    fakes = start_fakes(tmp_path_factory.mktemp("explain-fresh"), scenes=SCENES, seed=SEED)
    try:
        yield fakes
    finally:
        fakes.close()


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """After one sync: matched scenes written, ambiguous ones dead-lettered, missing ones retrying."""
    fakes = start_fakes(tmp_path_factory.mktemp("explain-synced"), scenes=SCENES, seed=SEED)
    try:
        run = fakes.run_task("sync_all")
        assert run.error is None, run.stderr[-2000:]
        fakes.stop_drainer()  # nothing runs the scheduled retries while the tests look
        yield fakes
    finally:
        fakes.close()


def test_ambiguous_names_the_candidates_and_why_each_was_refused(fresh):
    scene_id = min(fresh.world.ambiguous_ids)
    result = explain(fresh, scene_id)
    assert result["state"] == "ambiguous" and result["match"] == "ambiguous"
    assert "ambiguous: 2 Plex files match it by file name only and strict_matching is on" in result["cause"]
    assert len(result["candidates"]) == 2 and all("/copies-" in path for path in result["candidates"])
    text = "\n".join(result["lines"])
    assert text.count("refused: one of 2 Plex files found by file name only, and strict_matching is on") == 2
    assert "file name only" in text and "full path" in text and "does not apply" in text
    assert "remove the duplicate items in Plex" in result["fix"] and "strict_matching off" in result["fix"]
    assert "path_map rule for /mnt/elsewhere/ambiguous" in result["fix"]


def test_unmapped_path_says_no_rule_applies_and_which_rule_to_add(fresh):
    scene_id = min(fresh.world.unmapped_ids)
    result = explain(fresh, scene_id)
    assert result["state"] == "unmapped" and result["match"] == "missing"
    assert result["cause"].startswith("unmapped path: no path_map rule applies to /mnt/elsewhere/videos/")
    assert "'Stash Movies': /media/videos/movies" in result["cause"]
    assert result["fix"].startswith("add a rule `/mnt/elsewhere/videos=>") and "path_map" in result["fix"]
    assert "no rule applies: looked up in Plex as /mnt/elsewhere/videos/" in "\n".join(result["lines"])


def test_mapped_path_unknown_to_plex_names_the_rule_that_gave_it(fresh):
    scene_id = min(fresh.world.unmapped_ids)
    rules = f"{fresh.world.path_map};/mnt/elsewhere=>/srv/elsewhere"
    result = explain(fresh, scene_id, "--path-map", rules)
    assert result["state"] == "mapped_outside_plex"
    assert "path_map rule `/mnt/elsewhere=>/srv/elsewhere` gives /srv/elsewhere/videos/" in result["cause"]
    assert "correct that rule in path_map" in result["fix"]
    assert "(used)" in "\n".join(result["lines"])


@pytest.mark.parametrize("kind", ["missing", "pending"])
def test_not_in_plex_yet_names_the_path_looked_for_and_the_library(fresh, kind):
    world = fresh.world
    scene_id = min(world.missing_ids - world.unmapped_ids) if kind == "missing" else min(world.pending_ids)
    result = explain(fresh, scene_id)
    assert result["state"] == "not_in_plex"
    assert result["cause"].startswith(f"not in Plex yet: Plex has no file at {result['mapped_paths'][0]}")
    assert result["mapped_paths"][0].startswith(world.plex_root + "/")
    assert "let Plex scan library 'Stash Movies'" in result["fix"] and "trigger_plex_scan" in result["fix"]


def test_a_matched_scene_never_synced_says_how_to_sync_it(fresh):
    scene_id = min(fresh.world.matchable_ids - fresh.world.multi_file_ids)
    result = explain(fresh, scene_id)
    assert result["state"] == "never_synced" and result["match"] == "matched"
    assert result["rating_key"] == fresh.rating_keys[scene_id][0]
    assert "taken: full path" in "\n".join(result["lines"])
    assert result["fix"] == "run the task 'Sync changed scenes' (python PlexSync.py sync)"


def test_without_strict_matching_the_most_alike_copy_is_taken_and_the_other_refused(fresh):
    scene_id = min(fresh.world.ambiguous_ids)
    run = fresh.run_cli("--json", "explain", str(scene_id), env=fresh.cli_env(PLEXSYNC_STRICT_MATCHING="off"))
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["state"] == "never_synced" and result["match"] == "matched"
    assert "strict_matching is off, so the most alike path was taken" in result["cause"]
    text = "\n".join(result["lines"])
    assert "taken: file name only (most alike path taken)" in text
    assert f"as like the scene's as item {result['rating_key']}'s, which won the tie" in text


def test_when_plex_cannot_be_asked_the_stash_side_is_still_shown(fresh):
    scene_id = min(fresh.world.matchable_ids)
    run = fresh.run_cli("--json", "explain", str(scene_id), env=fresh.cli_env(PLEXSYNC_PLEX_TOKEN="stale-token"))
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["state"] == "plex_error"
    assert result["cause"] == f"PlexSync cannot ask Plex about it: Plex rejected the token: check plex_token in {FIX_SETTINGS}"
    assert result["files"] and "Plex item: unknown (Plex could not be asked, see the cause)" in result["lines"]
    assert "stale-token" not in run.stdout + run.stderr


def test_explain_sends_only_gets_and_changes_no_state(fresh):
    world = fresh.world
    scene_ids = [min(world.matchable_ids), min(world.ambiguous_ids), min(world.unmapped_ids), min(world.pending_ids)]
    before = state_of(fresh.data_dir)
    fresh.plex.reset_counts()
    fresh.stash.reset_counts()
    for scene_id in scene_ids:
        explain(fresh, scene_id)
    only_gets(fresh)
    assert fresh.plex.counts().get("GET /library/metadata/{ids}", 0) >= 1  # the matched item was read
    assert state_of(fresh.data_dir) == before
    assert not connection_path(fresh.data_dir).exists()  # reads only: the connection is not saved
    operations = {entry["operation"] for entry in fresh.stash.graphql_log()}
    assert not any("mutation" in entry["query"].split("{", 1)[0] for entry in fresh.stash.graphql_log()), operations


def test_a_synced_scene_is_in_step_with_its_last_write(synced):
    scene_id = min(synced.world.matchable_ids - synced.world.multi_file_ids)
    result = explain(synced, scene_id)
    assert result["state"] == "in_step"
    assert result["cause"].startswith(f"nothing is wrong: Plex item {synced.rating_keys[scene_id][0]} holds what Stash says")
    assert result["last_written_at"] and result["fix"] == "nothing to fix"
    text = "\n".join(result["lines"])
    assert "last written: 20" in text and "fields written: " in text and "Stash has not changed since then" in text


def test_a_dead_lettered_scene_shows_the_error_and_the_way_out(synced):
    scene_id = min(synced.world.ambiguous_ids)
    result = explain(synced, scene_id)
    assert result["state"] == "dead_lettered"
    assert result["cause"].startswith("dead-lettered after 1 attempt (permanent, last 20")
    assert f"scene {scene_id} matches 2 Plex files" in result["cause"] and result["dead_letter"]
    assert "remove the duplicate items in Plex" in result["fix"]
    assert result["fix"].endswith("then run the task 'Retry failed jobs' (python PlexSync.py dlq retry)")
    assert any(line.startswith("dead letter #") for line in result["lines"])


def test_a_missing_scene_after_a_sync_shows_its_scheduled_retry_and_changes_nothing(synced):
    world = synced.world
    scene_id = min(world.missing_ids - world.unmapped_ids)
    before = state_of(synced.data_dir)
    synced.plex.reset_counts()
    result = explain(synced, scene_id)
    assert result["state"] == "not_in_plex" and result["queued_jobs"] == 1
    assert "; a retry is scheduled 20" in result["cause"]
    assert result["fix"].endswith("the queued retry then syncs it")
    text = "\n".join(result["lines"])
    assert "1 failed attempt" in text and f"last error: scene {scene_id} is not in Plex yet" in text
    only_gets(synced)
    assert state_of(synced.data_dir) == before


def test_disabled_sync_names_the_enabled_setting(fakes_factory):
    fakes = fakes_factory(scenes=30, seed=SEED)
    fakes.configure(enabled=False)
    sync = fakes.run_cli("sync")
    assert sync.returncode == 0, sync.stdout + sync.stderr
    scene_id = min(fakes.world.matchable_ids - fakes.world.multi_file_ids)
    fakes.stash.edit_scene(scene_id, title="Edited while sync was off")
    hook = fakes.run_plugin(fakes.hook_stdin("Scene.Update.Post", scene_id, {"id": str(scene_id), "title": "x"},
                                             ["id", "title"]))
    assert hook.output == "PlexSync is disabled (setting 'enabled' is off)"

    result = explain(fakes, scene_id)
    assert result["state"] == "disabled"
    assert result["cause"].startswith(f"Stash has changes that Plex item {fakes.rating_keys[scene_id][0]} does "
                                      "not have yet, and sync as changes happen is off (setting `enabled`)")
    assert result["fix"] == (f"turn on 'Sync changes as they happen' (enabled) in {FIX_SETTINGS}, "
                             "or run the task 'Sync changed scenes' (python PlexSync.py sync)")
    assert "Stash has changes since then" in "\n".join(result["lines"])


def test_a_queued_scene_names_its_job_and_who_works_on_it(fakes_factory):
    from sync_queue.rows import enqueue

    fakes = fakes_factory(scenes=10, seed=SEED)
    scene_id = min(fakes.world.matchable_ids)
    enqueue(fakes.data_dir, [scene_id], "update", "Scene.Update.Post (title)")  # what the hook writes
    result = explain(fakes, scene_id)
    assert result["state"] == "queued" and result["queued_jobs"] == 1
    assert result["cause"] == "queued and not written yet: update job (Scene.Update.Post (title)), due now"
    assert result["fix"] == "run the task 'Process queue now' (python PlexSync.py process-queue)"
    assert fakes.queue_rows() == 1 and not fakes.drainer_running()


# -- the Stash task -----------------------------------------------------------------------------

def test_the_task_explains_the_scene_in_args_or_in_the_setting(fresh):
    scene_id = min(fresh.world.ambiguous_ids)
    run = fresh.run_task("explain", scene_id=str(scene_id))  # Stash's defaultArgs are strings
    assert run.error is None, run.stderr[-2000:]
    assert run.output.splitlines()[0].startswith(f"Explain scene {scene_id} ")
    assert "  cause: ambiguous: 2 Plex files" in run.output and "  fix: remove the duplicate" in run.output
    assert any(text.startswith("  cause: ambiguous") for text in run.logs("i"))  # shown in Stash's log

    try:
        fresh.configure(explain_scene_id=min(fresh.world.unmapped_ids))
        from_setting = fresh.run_task("explain")
    finally:
        fresh.configure()
    assert from_setting.error is None, from_setting.stderr[-2000:]
    assert "  cause: unmapped path: no path_map rule applies" in from_setting.output


def test_the_task_without_a_scene_says_where_to_set_it(fresh):
    run = fresh.run_task("explain")
    assert run.output is None
    assert run.error == (f"no scene to explain: set 'Scene to explain' (explain_scene_id) in {FIX_SETTINGS} and "
                         "run the task again, or run `python PlexSync.py explain SCENE_ID`")


def test_the_task_with_an_unknown_scene_says_so(fresh):
    run = fresh.run_task("explain", scene_id=99999)
    assert run.error == ("Stash has no scene 99999: give the id of an existing scene (the number in the scene's "
                         "address in Stash, /scenes/ID)")
    cli = fresh.run_cli("explain", "99999")
    assert cli.returncode == 1 and cli.stderr.strip().splitlines()[-1] == f"plexsync: {run.error}"


@pytest.mark.parametrize("value", ["abc", 0, -3, 1.5, True, [1], "12 13"])
def test_a_bad_scene_id_is_one_line_before_anything_is_opened(tmp_path, value):
    connection = {"Scheme": "http", "Host": "0.0.0.0", "Port": 9, "SessionCookie": None, "Dir": str(tmp_path),
                  "PluginDir": "/nonexistent/plugins/PlexSync"}
    run = run_plexsync(json.dumps({"server_connection": connection, "args": {"mode": "explain", "scene_id": value}}),
                       tmp_path / "data")
    assert run.returncode == 0
    assert run.error == (f"args.scene_id must be a scene id (the number in the scene's address in Stash, "
                         f"/scenes/ID), got {value!r}")
    assert not (tmp_path / "data" / "queue.db").exists()  # answered before the queue was opened


def test_a_bad_scene_id_on_the_command_line_is_a_usage_error(tmp_path):
    done = subprocess.run([sys.executable, str(PLEXSYNC), "explain", "scene-12"], capture_output=True, text=True,
                          timeout=60, env=plugin_env(tmp_path / "data"), stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].endswith(
        "argument SCENE_ID: SCENE_ID must be a scene id (the number in the scene's address in Stash, /scenes/ID), "
        "got 'scene-12'")
