"""The plugin as Stash installs it from a plugin source: the zip, unpacked, run with its own packages.

The zip is built by tools/build_index.py, unpacked the way Stash's package manager does it
(`<plugins>/<source>/<id>/`, each file with the zip's mode), and its packages are installed into
a fresh virtualenv from the zip's own requirements.txt: nothing of this checkout is on the path.
Then Stash's stdin drives a hook and the `status` and `health` tasks against the fake servers.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, Tuple

import pytest

from devkit.processes import processes_for, stop_processes
from tests.helpers.install import install_plugin, venv_python
from tests.integration.e2e import Fakes, PluginRun, plugin_env, start_fakes, wait_until

INSTALL_TIMEOUT = 900.0  # a deadline for pip, not a timing assertion


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Tuple[Path, Path]:
    """(the installed plugin folder, the interpreter that has only the zip's requirements)."""
    root = tmp_path_factory.mktemp("stash-home")
    plugin_dir = install_plugin(root)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=INSTALL_TIMEOUT)
    subprocess.run([str(venv_python(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(plugin_dir / "requirements.txt")], check=True, timeout=INSTALL_TIMEOUT)
    return plugin_dir, venv_python(venv)


@pytest.fixture
def fakes(installed, tmp_path) -> Iterator[Fakes]:
    plugin_dir, _ = installed
    fakes = start_fakes(tmp_path, scenes=40, seed=5)
    fakes.plugin_dir = plugin_dir  # server_connection.PluginDir, as Stash sends it
    fakes.data_dir = plugin_dir / "data"  # where an installed plugin keeps its state by default
    try:
        yield fakes
    finally:
        stop_processes(processes_for(fakes.data_dir), timeout=30)
        fakes.close()


def run_installed(installed: Tuple[Path, Path], fakes: Fakes, stdin: str, *argv: str) -> PluginRun:
    """`python3 {pluginDir}/PlexSync.py` with Stash's stdin, from Stash's working directory."""
    plugin_dir, python = installed
    env: Dict[str, str] = plugin_env(fakes.data_dir)
    env.pop("PLEXSYNC_DATA_DIR")  # the installed plugin finds <plugin>/data on its own
    done = subprocess.run([str(python), str(plugin_dir / "PlexSync.py"), *argv], input=stdin.encode("utf-8"),
                          capture_output=True, cwd=str(fakes.work_dir), env=env, timeout=300)
    return PluginRun(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


def test_the_installed_zip_runs_tasks_and_a_hook_against_stash_and_plex(installed, fakes):
    plugin_dir, python = installed
    check = subprocess.run([str(python), "-c", "import devkit"], capture_output=True, cwd=str(plugin_dir))
    assert check.returncode != 0, "the development kit must not reach an installed plugin"

    status = run_installed(installed, fakes, fakes.task_stdin("status"))
    assert status.returncode == 0 and status.error is None, status.stderr
    assert status.output.startswith("PlexSync status") and "waiting: 0 scenes" in status.output

    world = fakes.world
    scene_id = sorted(world.matchable_ids - world.multi_file_ids - world.episode_ids)[0]
    fakes.stash.edit_scene(scene_id, title="Installed from the plugin source")
    hook = run_installed(installed, fakes, fakes.hook_stdin("Scene.Update.Post", scene_id,
                                                            {"id": str(scene_id), "title": "x"}, ["id", "title"]))
    assert hook.result == {"output": f"queued scene {scene_id} (update)", "error": None}, hook.stderr
    rating_key = fakes.rating_keys[scene_id][0]
    wait_until(lambda: fakes.plex.item(rating_key)["title"] == "Installed from the plugin source", timeout=120,
               message="the drainer started from the installed plugin to write the title")

    health = run_installed(installed, fakes, fakes.task_stdin("health"))
    assert health.returncode == 0 and health.error is None, health.logs()
    assert (plugin_dir / "data" / "queue.db").exists()


def test_the_demo_from_an_installed_zip_says_it_needs_the_source_checkout(installed, tmp_path):
    plugin_dir, python = installed
    done = subprocess.run([str(python), str(plugin_dir / "PlexSync.py"), "demo"], capture_output=True, text=True,
                          cwd=str(tmp_path), timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "source checkout" in done.stderr
