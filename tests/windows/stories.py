"""Helpers of the Windows stories: the plugin installed from its zip and run by the fake Stash's
plugin host under Windows CPython (Wine), against the fake servers in this Linux process.

What differs from Windows here is Wine, and only the quirks of ../shared/WINDOWS.md (handled in
devkit/wine.py). The queue database is never opened from Linux while Windows processes may hold
it: what a story checks, it reads from the fake Plex, or asks the plugin (the `status` task).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict

import requests

from devkit.fakes.plugin_host import PluginHost, PluginRun
from devkit.wine import Wine, windows_path
from tests.helpers.install import install_plugin
from tests.integration.e2e import Fakes, start_fakes, wait_until
from tools import windows_python
from worker.lock import DrainerLock, lock_path

NON_ASCII_HOME = "Stash Jérôme Ádám 東京"  # letters outside cp1252, and a space
TIME_SCALE = "0.05"  # the drainer's delays (settle, idle exit, backoff) shrunk 20 times
DRAINER = "PlexSync.py worker"
SCENE_UPDATE = "mutation SceneUpdate($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }"
BULK_UPDATE = "mutation BulkSceneUpdate($input: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $input) { id } }"


def stash_environment() -> Dict[str, str]:
    """Stash's environment: this one, minus what would hide the byte-boundary bug or leak settings."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("PLEXSYNC_") and name not in ("PYTHONIOENCODING", "PYTHONUTF8", "PYTHONPATH")}
    env["PLEXSYNC_TIME_SCALE"] = TIME_SCALE
    return env


@dataclass
class WindowsStash:
    """Fake Stash and Plex, the plugin installed under a non-ASCII folder, run by Windows CPython."""

    wine: Wine
    fakes: Fakes
    host: PluginHost
    plugin_dir: Path
    python: Path

    def keep_only_matchable(self) -> None:
        """Drop the scenes Plex lacks or has twice: their scheduled retries would keep a drainer alive
        between stories (tests/integration covers them)."""
        for scene_id in set(self.fakes.world.scene_ids) - self.fakes.world.matchable_ids:
            self.fakes.stash.remove_scene(scene_id)

    def run_task(self, mode: str, **args: object) -> PluginRun:
        """The task with this mode, as Stash's Tasks page runs it, to its end."""
        return self.host.run_task(self.host.task_named(mode), dict(args))

    def windows_python(self, code: str) -> subprocess.CompletedProcess:
        """Run a line of Python in the same Windows CPython (e.g. to end a process the Windows way)."""
        done = self.wine.run([str(self.python / "python.exe"), "-c", code], b"", self.fakes.work_dir,
                             stash_environment())
        return subprocess.CompletedProcess([], done.returncode, done.stdout, done.stderr)

    def drainer_windows_pid(self) -> int:
        """The drainer's pid as Windows knows it (from its lock file): only a Windows process may use it."""
        pid = DrainerLock(lock_path(self.plugin_dir / "data")).holder_pid()
        assert pid is not None, "no drainer holds the lock"
        return pid

    def wait_drainer_gone(self) -> None:
        self.wine.wait_gone(DRAINER, timeout=180)

    def status(self) -> str:
        run = self.run_task("status")
        assert run.error is None, run.log
        return str(run.output)

    def waiting(self) -> int:
        found = re.search(r"waiting: ([\d,]+) scene", self.status())
        assert found, self.status()
        return int(found.group(1).replace(",", ""))

    def drainer_log(self) -> str:
        path = self.plugin_dir / "data" / "drainer.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def wait_title(self, scene_id: int, title: str, timeout: float = 180) -> None:
        rating_key = self.fakes.rating_keys[scene_id][0]
        wait_until(lambda: self.fakes.plex.item(rating_key)["title"] == title, timeout=timeout, interval=0.1,
                   message=f"scene {scene_id}'s title {title!r} to reach Plex")

    def close(self) -> None:
        try:
            self.wait_drainer_gone()
        finally:
            self.fakes.close()


def open_windows_stash(wine: Wine, root: Path, minor: str = windows_python.NEWEST, scenes: int = 60,
                       seed: int = 11, **fake_options: object) -> WindowsStash:
    python = windows_python.prepare(minor)
    plugin_dir = install_plugin(root / NON_ASCII_HOME)
    fakes = start_fakes(root / "world", scenes=scenes, seed=seed, **fake_options)  # type: ignore[arg-type]
    fakes.plugin_dir = plugin_dir
    fakes.data_dir = plugin_dir / "data"

    def runner(command, stdin, cwd, env):
        done = wine.run(command, stdin, cwd, env)
        return done.returncode, done.stdout, done.stderr

    host = PluginHost(fakes.stash, plugin_dir, interpreter=(str(python / "python.exe"),), cwd=fakes.work_dir,
                      base_env=stash_environment(), plugin_path=windows_path, runner=runner).attach()
    return WindowsStash(wine, fakes, host, plugin_dir, python)


def graphql(fakes: Fakes, query: str, variables: Dict[str, object]) -> Dict[str, object]:
    """A mutation as Stash's UI sends it; it answers after the hooks it fired have run (Stash's way)."""
    response = requests.post(f"{fakes.stash.url}/graphql", json={"query": query, "variables": variables},
                             cookies={"session": fakes.stash.session_cookie}, timeout=600)
    response.raise_for_status()
    body = response.json()
    assert not body.get("errors"), body
    return body["data"]


def start_task(windows: WindowsStash, mode: str) -> subprocess.Popen:
    """A task started as Stash starts it, returned at once (to cancel it: Stash kills the direct child)."""
    host = windows.host
    process = windows.wine.popen(host.command(), host.cwd, host.env())
    stdin = json.dumps({"server_connection": host.server_connection(), "args": {"mode": mode}}, ensure_ascii=False)
    assert process.stdin is not None
    process.stdin.write(stdin.encode("utf-8"))
    process.stdin.close()
    return process


def hook_document(windows: WindowsStash, scene_id: int, title: str) -> bytes:
    """Stash's stdin for a Scene.Update.Post hook of a title edit (raw UTF-8, as Go writes it)."""
    context = {"id": scene_id, "type": "Scene.Update.Post", "input": {"id": str(scene_id), "title": title},
               "inputFields": ["id", "title"]}
    return json.dumps({"server_connection": windows.host.server_connection(), "args": {"hookContext": context}},
                      ensure_ascii=False).encode("utf-8")
