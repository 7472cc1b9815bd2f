"""Stash's byte boundary, on Linux: UTF-8 in and out whatever the interpreter's stream encoding.

Stash writes stdin as raw UTF-8 and reads stdout as UTF-8, and sets no PYTHONIOENCODING. Windows
CPython before 3.15 uses cp1252 for pipes; `PYTHONIOENCODING=cp1252` gives Linux CPython the same
streams (`ascii` stricter ones; a C locale is what a container without one has). Under each, a plugin installed in a
folder with non-ASCII letters and a space keeps its queue in that folder's `data/`, a non-ASCII
title reaches Plex, task answers with "→" arrive whole, and the CLI's piped `--json` is UTF-8.
tests/windows/ runs the same stories under Windows CPython itself.
"""
from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator

import pytest

from common.log import StashLogHandler
from devkit.processes import processes_for, stop_processes
from tests.helpers.install import install_plugin
from tests.integration.e2e import PLEXSYNC, Fakes, PluginRun, plugin_env, start_fakes, wait_until

NON_ASCII_HOME = "Stash Jérôme Ádám 東京"  # letters outside cp1252 too, and a space
TITLE = "Ádám & Björk → 東京"
STREAM_ENCODINGS = {
    "cp1252": {"PYTHONIOENCODING": "cp1252", "PYTHONUTF8": "0"},  # Windows CPython's pipes
    "ascii": {"PYTHONIOENCODING": "ascii", "PYTHONUTF8": "0"},
    "C locale": {"LANG": "C", "LC_ALL": "", "LC_CTYPE": ""},  # a container without a locale
}
STASH_LINE_LIMIT = 64 * 1024  # bufio.Scanner's default token size


@pytest.fixture
def plugin_dir(tmp_path) -> Path:
    """The plugin zip unpacked as Stash does, under a folder whose name is not ASCII (a fresh queue each test)."""
    return install_plugin(tmp_path / NON_ASCII_HOME)


@pytest.fixture
def fakes(plugin_dir, tmp_path) -> Iterator[Fakes]:
    fakes = start_fakes(tmp_path / "world", scenes=20, seed=3)
    fakes.plugin_dir = plugin_dir
    fakes.data_dir = plugin_dir / "data"
    try:
        yield fakes
    finally:
        stop_processes(processes_for(fakes.data_dir), timeout=30)
        fakes.close()


def stash_env(fakes: Fakes, encoding: str) -> Dict[str, str]:
    env = plugin_env(fakes.data_dir, **STREAM_ENCODINGS[encoding])
    env.pop("PLEXSYNC_DATA_DIR")  # an installed plugin finds <plugin folder>/data by itself
    return env


def run_installed(fakes: Fakes, stdin: str, env: Dict[str, str], *argv: str) -> PluginRun:
    done = subprocess.run([sys.executable, str(fakes.plugin_dir / "PlexSync.py"), *argv],
                          input=stdin.encode("utf-8"), capture_output=True, cwd=str(fakes.work_dir), env=env,
                          timeout=300)
    # strict: what Stash reads must be UTF-8 (Go would turn anything else into U+FFFD)
    return PluginRun(done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8"))


@pytest.mark.parametrize("encoding", sorted(STREAM_ENCODINGS))
def test_a_non_ascii_plugin_folder_keeps_its_queue_and_a_non_ascii_edit_reaches_plex(fakes, encoding):
    world = fakes.world
    scene_id = sorted(world.matchable_ids - world.multi_file_ids - world.episode_ids)[0]
    fakes.stash.edit_scene(scene_id, title=TITLE)
    env = stash_env(fakes, encoding)
    hook = run_installed(fakes, fakes.hook_stdin("Scene.Update.Post", scene_id, {"id": str(scene_id), "title": TITLE},
                                                 ["id", "title"]), env)
    assert hook.result == {"output": f"queued scene {scene_id} (update)", "error": None}, hook.stderr
    assert (fakes.plugin_dir / "data" / "queue.db").exists()
    assert sorted(path.name for path in fakes.plugin_dir.parent.iterdir()) == ["PlexSync"], "a second plugin folder"
    rating_key = fakes.rating_keys[scene_id][0]
    wait_until(lambda: fakes.plex.item(rating_key)["title"] == TITLE, timeout=120,
               message="the drainer started from the non-ASCII folder to write the title")

    explain = run_installed(fakes, fakes.task_stdin("explain", scene_id=scene_id), env)
    assert explain.error is None, explain.stderr
    assert TITLE in explain.output
    health = run_installed(fakes, fakes.task_stdin("health"), env)
    assert health.error is None and "→" in health.output, health.stderr


@pytest.mark.parametrize("encoding", ["ascii", "cp1252"])
def test_piped_cli_json_is_utf8(fakes, encoding):
    world = fakes.world
    scene_id = sorted(world.matchable_ids - world.multi_file_ids - world.episode_ids)[1]
    fakes.stash.edit_scene(scene_id, title=TITLE)
    env = stash_env(fakes, encoding)
    env["PLEXSYNC_STASH_URL"] = fakes.stash.url
    done = subprocess.run([sys.executable, str(fakes.plugin_dir / "PlexSync.py"), "explain", str(scene_id), "--json"],
                          stdin=subprocess.DEVNULL, capture_output=True, cwd=str(fakes.work_dir), env=env, timeout=300)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    assert TITLE in done.stdout.decode("utf-8")
    json.loads(done.stdout.decode("utf-8"))


def test_stdin_that_is_not_utf8_gets_one_clean_error(tmp_path):
    env = plugin_env(tmp_path / "data", **STREAM_ENCODINGS["cp1252"])
    done = subprocess.run([sys.executable, str(PLEXSYNC)], input=b'{"server_connection": {"Dir": "J\xe9r\xf4me"}}',
                          capture_output=True, cwd=str(tmp_path), env=env, timeout=60)
    result = json.loads(done.stdout.decode("utf-8"))
    assert done.returncode == 0 and result["output"] is None
    assert result["error"] == "stdin is not UTF-8 (byte 0xe9 cannot be decoded): expected Stash's plugin input"
    assert not (tmp_path / "data").exists()


def test_every_stderr_line_stays_under_stashs_line_limit():
    """Stash's stderr reader stops at a line over 64 KiB; widest case: 4-byte characters and surrogates."""
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", write_through=True)
    logger = logging.getLogger("plexsync.test-line-limit")
    logger.addHandler(StashLogHandler(stream))
    logger.propagate = False
    try:
        logger.error("%s", "東" * 70_000 + "\n" + "\U0001f600" * 70_000 + "\n" + "\udcff" * 70_000)
    finally:
        logger.handlers.clear()
    lines = raw.getvalue().split(b"\n")[:-1]
    assert len(lines) == 3
    assert max(len(line) for line in lines) < STASH_LINE_LIMIT
    assert all(line.startswith(b"\x01e\x02") for line in lines)
