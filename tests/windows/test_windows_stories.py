"""PlexSync under Windows CPython 3.13 (Wine), run by the fake Stash as Stash runs it.

One module, one world, one installed plugin: the stories run in order against the same fake
Stash and Plex, each on scenes of its own. The plugin is unpacked from its zip into a folder
whose path has non-ASCII letters and a space; Stash's stdin carries that folder as a Windows
path, in raw UTF-8, and the Windows CPython's pipes default to cp1252 (../shared/WINDOWS.md).
"""
from __future__ import annotations

import re
import signal
import threading
from typing import Dict, Iterator, List

import pytest

from tests.integration.e2e import wait_until
from tests.integration.test_tasks_sync import assert_plex_says_what_stash_says, separate_items
from tests.windows.conftest import needs_wine
from tests.windows.stories import (
    BULK_UPDATE,
    NON_ASCII_HOME,
    SCENE_UPDATE,
    WindowsStash,
    graphql,
    hook_document,
    open_windows_stash,
    start_task,
)

pytestmark = needs_wine

# Stash on Windows sees drive letters and UNC shares; Plex (here) sees POSIX paths.
WINDOWS_FILES = {r"D:\Videos\Drive Letter Scene.mp4": "/media/videos/movies/win/Drive Letter Scene.mp4",
                 r"\\nas\share\UNC Scene.mp4": "/media/videos/movies/nas/UNC Scene.mp4"}
WINDOWS_PATH_MAP = r"D:\Videos=>/media/videos/movies/win;\\nas\share=>/media/videos/movies/nas"


@pytest.fixture(scope="module")
def windows(wine, tmp_path_factory) -> Iterator[WindowsStash]:
    stash = open_windows_stash(wine, tmp_path_factory.mktemp("windows"))
    try:
        fakes = stash.fakes
        stash.keep_only_matchable()
        configure(stash)
        for stash_path, plex_path in WINDOWS_FILES.items():
            fakes.plex.add_movie(1, [plex_path], "Plex's own title", size=1_000_000)
            fakes.stash.add_scene([stash_path])  # a scan: Scene.Create.Post runs the plugin under Windows
        yield stash
    finally:
        stash.close()


def configure(windows: WindowsStash, **values: object) -> None:
    windows.fakes.configure(path_map=f"{windows.fakes.world.path_map};{WINDOWS_PATH_MAP}", **values)


def in_step_ids(windows: WindowsStash) -> set:
    world = windows.fakes.world
    return set(world.matchable_ids - separate_items(windows.fakes))


def movie_ids(windows: WindowsStash) -> List[int]:
    """Movies (not episodes) with one Plex item each: their genres and actors show every tag and performer."""
    world = windows.fakes.world
    return sorted(in_step_ids(windows) - world.episode_ids - world.multi_file_ids)


def plex_item(windows: WindowsStash, scene_id: int) -> Dict:
    return windows.fakes.plex.item(windows.fakes.rating_keys[scene_id][0])


def cancel(windows: WindowsStash, task) -> None:
    """Stash's cancel: Process.Kill of the direct child, which is TerminateProcess on Windows. Wine's
    TerminateProcess ends the process's Linux side, so SIGKILL on it ends it the same abrupt way."""
    task.send_signal(signal.SIGKILL)
    windows.wine.communicate(task, b"", timeout=60)
    assert task.returncode != 0


def rename(windows: WindowsStash, kind: str, entity_id: int, name: str) -> None:
    """Rename in Stash's database without a hook (the scene edits below are what the stories play)."""
    windows.fakes.stash.store.rename(kind, entity_id, name)


def test_sync_all_status_health_explain_and_dlq_list_from_the_installed_zip(windows):
    fakes = windows.fakes
    run = windows.run_task("sync_all")
    assert run.returncode == 0 and run.error is None, run.log
    assert run.progress and run.progress[-1] == 1.0
    wait_until(lambda: windows.waiting() == 0, timeout=240, interval=0.5, message="sync_all's jobs to be done")
    assert_plex_says_what_stash_says(fakes, in_step_ids(windows))
    assert (windows.plugin_dir / "data" / "queue.db").exists()  # in the non-ASCII folder, not a mojibake twin
    assert sorted(p.name for p in windows.plugin_dir.parents[2].iterdir()) == ["plugins", "published"]
    assert NON_ASCII_HOME in str(windows.plugin_dir)

    status = windows.run_task("status")
    assert status.error is None and str(status.output).startswith("PlexSync status"), status.log
    health = windows.run_task("health")
    assert health.error is None and "→" in str(health.output), health.log
    scene_id = sorted(in_step_ids(windows))[0]
    explain = windows.run_task("explain", scene_id=scene_id)
    assert explain.error is None and f"scene {scene_id}" in str(explain.output), explain.log
    dlq = windows.run_task("dlq_list")
    assert dlq.error is None, dlq.log


def test_a_non_ascii_scene_edit_reaches_plex_through_the_hook_and_the_detached_drainer(windows):
    fakes = windows.fakes
    scene_id = movie_ids(windows)[0]
    performer, tag_a, tag_b = sorted(fakes.stash.store.performers)[0], *sorted(fakes.stash.store.tags)[:2]
    rename(windows, "performer", performer, "Björk")
    rename(windows, "tag", tag_a, "東京")
    rename(windows, "tag", tag_b, "Ádám")
    hooks_before = len(windows.host.hook_runs())
    title = "Ádám és Björk — 東京 → Zürich"
    graphql(fakes, SCENE_UPDATE, {"input": {"id": str(scene_id), "title": title, "performer_ids": [str(performer)],
                                            "tag_ids": [str(tag_a), str(tag_b)]}})
    hook = windows.host.hook_runs()[hooks_before]
    assert (hook.returncode, hook.output, hook.error) == (0, f"queued scene {scene_id} (update)", None), hook.log
    windows.wait_title(scene_id, title)
    item = plex_item(windows, scene_id)
    assert sorted(item["genres"]) == ["Ádám", "東京"]
    assert [actor[0] for actor in item["actors"]] == ["Björk"]


def test_a_non_ascii_tag_rename_reaches_plex_through_the_entity_hook(windows):
    fakes = windows.fakes
    scene_id = movie_ids(windows)[0]
    tag = sorted(fakes.stash.store.tags)[0]  # "東京" since the story above, on that scene
    assert tag in fakes.stash.store.scene(scene_id).tag_ids
    graphql(fakes, "mutation T($input: TagUpdateInput!) { tagUpdate(input: $input) { id } }",
            {"input": {"id": str(tag), "name": "東京 → Ōsaka"}})
    hook = windows.host.hook_runs()[-1]
    assert hook.args["hookContext"]["type"] == "Tag.Update.Post"
    assert (hook.output, hook.error) == (f"queued tag {tag} (update); its scenes follow", None), hook.log
    wait_until(lambda: "東京 → Ōsaka" in plex_item(windows, scene_id)["genres"], timeout=180, interval=0.1,
               message="the renamed tag on the scene's Plex item")


def test_a_bulk_edit_of_20_scenes_runs_20_hooks_in_turn_and_reaches_plex(windows):
    fakes = windows.fakes
    scene_ids = movie_ids(windows)[1:21]
    assert len(scene_ids) == 20
    tag = sorted(fakes.stash.store.tags)[2]
    rename(windows, "tag", tag, "Łódź")
    hooks_before = len(windows.host.hook_runs())
    graphql(fakes, BULK_UPDATE, {"input": {"ids": [str(i) for i in scene_ids],
                                           "tag_ids": {"ids": [str(tag)], "mode": "ADD"}}})
    hooks = windows.host.hook_runs()[hooks_before:]
    assert [hook.args["hookContext"]["id"] for hook in hooks] == scene_ids
    assert all(hook.error is None and hook.output == f"queued scene {hook.args['hookContext']['id']} (update)"
               for hook in hooks), [hook.log for hook in hooks]
    wait_until(lambda: all("Łódź" in plex_item(windows, i)["genres"] for i in scene_ids), timeout=240,
               interval=0.2, message="the bulk edit's tag on all 20 Plex items")


def test_the_drainer_terminated_mid_sync_is_resumed_by_the_next_hook_with_nothing_lost(windows):
    fakes = windows.fakes
    windows.wait_drainer_gone()
    scene_ids = movie_ids(windows)[21:]
    tag = sorted(fakes.stash.store.tags)[3]
    for scene_id in scene_ids:  # the tag onto each scene, with no hook: a sync task finds them
        row = fakes.stash.store.scene(scene_id)
        fakes.stash.store.replace_scene(row._replace(tag_ids=tuple(sorted({*row.tag_ids, tag}))))
    rename(windows, "tag", tag, "Kraków")
    configure(windows, plex_concurrency=1)
    fakes.plex.latency(400)  # one slow Plex request at a time, so the drainer is caught mid-way
    try:
        task = start_task(windows, "sync_all")  # it waits for the drain: the user cancels it first
        wait_until(lambda: any("Kraków" in plex_item(windows, i)["genres"] for i in scene_ids), timeout=180,
                   interval=0.05, message="the drainer to write a first scene")
        cancel(windows, task)
        pid = windows.drainer_windows_pid()
        ended = windows.windows_python(f"import os, signal; os.kill({pid}, signal.SIGTERM)")  # TerminateProcess
        assert ended.returncode == 0, ended.stderr
        windows.wait_drainer_gone()
        done = [i for i in scene_ids if "Kraków" in plex_item(windows, i)["genres"]]
        assert len(done) < len(scene_ids), "the drainer finished before it was terminated"
    finally:
        fakes.plex.latency(0)
        configure(windows)
    next_scene = movie_ids(windows)[0]
    graphql(fakes, SCENE_UPDATE, {"input": {"id": str(next_scene), "details": "the next save"}})
    wait_until(lambda: all("Kraków" in plex_item(windows, i)["genres"] for i in scene_ids), timeout=240,
               interval=0.2, message="the next hook's drainer to finish what the terminated one left")
    assert windows.waiting() == 0
    assert "dead letters: 0" in windows.status() or "dead letter" not in windows.status()


def test_two_hooks_at_once_start_one_drainer(windows):
    """Both hooks may start a drainer; the lock (msvcrt on Windows) lets one work and the other exits.
    Plex is slowed so the working drainer is still busy when the second hook's job and any second
    drainer arrive: the one drainer does both jobs, and nothing else ever works."""
    fakes = windows.fakes
    windows.wait_drainer_gone()
    log_before = len(windows.drainer_log())
    scene_ids = movie_ids(windows)[1:3]
    titles = {scene_id: f"Gleichzeitig {scene_id} — ñ" for scene_id in scene_ids}
    for scene_id, title in titles.items():
        fakes.stash.store.replace_scene(fakes.stash.store.scene(scene_id)._replace(title=title))
    results: Dict[int, object] = {}

    def hook(scene_id: int) -> None:
        results[scene_id] = windows.wine.run(windows.host.command(), hook_document(windows, scene_id, titles[scene_id]),
                                             windows.host.cwd, windows.host.env())

    configure(windows, plex_concurrency=1)
    fakes.plex.latency(1500)
    try:
        threads = [threading.Thread(target=hook, args=(scene_id,)) for scene_id in scene_ids]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
        assert all(results[i].returncode == 0 and b'"error": null' in results[i].stdout for i in scene_ids), results
        for scene_id, title in titles.items():
            windows.wait_title(scene_id, title)
    finally:
        fakes.plex.latency(0)
        configure(windows)
    windows.wait_drainer_gone()
    log = windows.drainer_log()[log_before:]
    assert re.findall(r"drainer worker ended \((\w+)\)", log) == ["idle"], log  # one drainer did the work


def test_path_map_with_a_drive_letter_and_a_unc_prefix(windows):
    fakes = windows.fakes
    for stash_path, plex_path in WINDOWS_FILES.items():
        scene = next(row for row in fakes.stash.scenes() if row.files and row.files[0].path == stash_path)
        title = f"Über {stash_path[:2]} — 東京"
        graphql(fakes, SCENE_UPDATE, {"input": {"id": str(scene.id), "title": title}})
        rating_key = fakes.plex.find_by_file(plex_path)
        wait_until(lambda: fakes.plex.item(rating_key)["title"] == title, timeout=180, interval=0.1,
                   message=f"{stash_path} mapped to {plex_path}")


def test_a_task_cancelled_mid_run_loses_nothing(windows):
    fakes = windows.fakes
    windows.wait_drainer_gone()
    scene_ids = movie_ids(windows)
    tag = sorted(fakes.stash.store.tags)[4]
    for scene_id in scene_ids:
        row = fakes.stash.store.scene(scene_id)
        fakes.stash.store.replace_scene(row._replace(tag_ids=tuple(sorted({*row.tag_ids, tag}))))
    rename(windows, "tag", tag, "Genève")
    configure(windows, plex_concurrency=1)
    fakes.plex.latency(300)
    try:
        task = start_task(windows, "sync_all")
        wait_until(lambda: any("Genève" in plex_item(windows, i)["genres"] for i in scene_ids), timeout=180,
                   interval=0.05, message="the first scene of the sync to reach Plex")
        cancel(windows, task)
        assert not all("Genève" in plex_item(windows, i)["genres"] for i in scene_ids), "cancelled too late"
    finally:
        fakes.plex.latency(0)
        configure(windows)
    wait_until(lambda: all("Genève" in plex_item(windows, i)["genres"] for i in scene_ids), timeout=300,
               interval=0.2, message="the detached drainer to sync every scene the cancelled task queued")
    assert windows.waiting() == 0


def test_plays_in_plex_reach_stash_through_the_import_task_and_an_unmatched_title_is_named(windows):
    from devkit.fakes.stash_plays import plays_of

    fakes = windows.fakes
    scene_id = movie_ids(windows)[-1]
    plays = fakes.plex.plays
    plays.play_to_end(1, fakes.rating_keys[scene_id][0])
    plays.advance_clock(60)
    stray = fakes.plex.add_movie(1, ["/media/videos/movies/elsewhere/Ünmatched.mp4"], "Ünmatched — 東京")
    plays.play_to_end(1, stray)
    plays.advance_clock(60)
    stash_plays = plays_of(fakes.stash.store)

    preview = windows.run_task("plays_preview")
    assert preview.error is None and "Ünmatched — 東京" in str(preview.output), preview.log
    assert stash_plays.history(scene_id) == []
    run = windows.run_task("plays_import")
    assert run.error is None and "Ünmatched — 東京" in str(run.output), run.log
    viewed = [row["viewedAt"] for row in plays.history_rows() if row["ratingKey"] == fakes.rating_keys[scene_id][0]]
    assert stash_plays.history(scene_id) == viewed and len(viewed) == 1
    again = windows.run_task("plays_import")  # the plays lock and the watermark, under Windows
    assert again.error is None and stash_plays.history(scene_id) == viewed, again.log
