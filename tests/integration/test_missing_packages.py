"""Stash's Python without PlexSync's packages: the hook still queues, the first task says what to run.

Runs the installed plugin (the built zip, unpacked as Stash does) with a fresh interpreter that
has none of requirements.txt. A stand-in for the PythonDepManager plugin implements its
documented call, `ensure_import("module:distribution>=version", ...)`, by putting this test run's
site-packages on the path, the way the real one puts the folders it installed into.
"""
from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Tuple

import pytest

from devkit.processes import processes_for, stop_processes
from tests.helpers.install import install_plugin, venv_python
from tests.integration.e2e import PluginRun, plugin_env

STAND_IN = '''"""Stand-in for the PythonDepManager plugin: its documented ensure_import(), recorded."""
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent


def ensure_import(*specs):
    with open(HERE / "calls.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps(list(specs)) + "\\n")
    folder = (HERE / "provides.txt").read_text(encoding="utf-8").strip()
    if folder not in sys.path:
        sys.path.insert(0, folder)
'''


def server_connection(plugin_dir: Path) -> dict:
    return {"Scheme": "http", "Host": "127.0.0.1", "Port": 9, "SessionCookie": None, "Dir": str(plugin_dir),
            "PluginDir": str(plugin_dir)}


@pytest.fixture(scope="module")
def bare(tmp_path_factory) -> Tuple[Path, Path]:
    """(an installed plugin folder, an interpreter without any of its packages)."""
    root = tmp_path_factory.mktemp("bare-stash")
    plugin_dir = install_plugin(root)
    venv = root / "bare-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv_python(venv)
    probe = subprocess.run([str(python), "-c", "import requests"], capture_output=True)
    assert probe.returncode != 0, "the bare interpreter must lack PlexSync's packages"
    return plugin_dir, python


def run(bare: Tuple[Path, Path], stdin: str, data_dir: Path, *argv: str) -> PluginRun:
    plugin_dir, python = bare
    done = subprocess.run([str(python), str(plugin_dir / "PlexSync.py"), *argv], input=stdin.encode("utf-8"),
                          capture_output=True, cwd=str(data_dir.parent), env=plugin_env(data_dir), timeout=120)
    return PluginRun(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "data"
    yield path
    stop_processes(processes_for(path), timeout=30)


def test_the_hook_queues_without_any_package(bare, data_dir):
    plugin_dir, _ = bare
    context = {"id": 7, "type": "Scene.Update.Post", "input": {"id": "7", "title": "t"}, "inputFields": ["id", "title"]}
    stdin = json.dumps({"server_connection": server_connection(plugin_dir), "args": {"hookContext": context}})
    hook = run(bare, stdin, data_dir)
    assert hook.result == {"output": "queued scene 7 (update)", "error": None}, hook.stderr
    connection = sqlite3.connect(str(data_dir / "queue.db"))
    try:
        assert connection.execute("SELECT COUNT(*) FROM ack_queue_jobs").fetchone()[0] == 1
    finally:
        connection.close()


def test_the_first_task_names_the_command_that_installs_the_packages(bare, data_dir):
    plugin_dir, python = bare
    stdin = json.dumps({"server_connection": server_connection(plugin_dir), "args": {"mode": "status"}})
    task = run(bare, stdin, data_dir)
    error = task.error
    assert task.returncode == 0 and error is not None and "\n" not in error
    assert f'"{python}" -m pip install -r "{plugin_dir / "requirements.txt"}"' in error
    assert "docker exec" in error and "PythonDepManager" in error and "queued scenes are kept" in error
    for name in ("persist-queue", "plexapi", "stashapp-tools", "requests"):
        assert name in error
    assert task.logs("e") == [error]


def test_with_python_dep_manager_a_task_installs_them_and_the_drainer_finds_them(bare, data_dir):
    plugin_dir, _ = bare
    manager = plugin_dir.parent.parent / "community" / "PythonDepManager"  # another plugin source's folder
    manager.mkdir(parents=True, exist_ok=True)
    (manager / "__init__.py").write_text(STAND_IN, encoding="utf-8")
    (manager / "provides.txt").write_text(sysconfig.get_paths()["purelib"], encoding="utf-8")
    calls = manager / "calls.jsonl"
    try:
        stdin = json.dumps({"server_connection": server_connection(plugin_dir), "args": {"mode": "status"}})
        task = run(bare, stdin, data_dir)
        assert task.error is None and task.output.startswith("PlexSync status"), task.stderr
        (specs,) = [json.loads(line) for line in calls.read_text(encoding="utf-8").splitlines()]
        assert sorted(specs) == ["persistqueue:persist-queue>=1.0", "plexapi:plexapi>=4.15", "requests:requests>=2.28",
                                 "stashapi:stashapp-tools>=0.2.50", "websocket:websocket-client>=1.6"]
        saved = data_dir / "dependency_paths.json"
        assert json.loads(saved.read_text(encoding="utf-8")) == [sysconfig.get_paths()["purelib"]]
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600

        worker = run(bare, "", data_dir, "worker", "--data-dir", str(data_dir))  # what a hook starts
        assert "needs Python packages" not in worker.stderr and "no Stash connection" in worker.stderr
        assert len(calls.read_text(encoding="utf-8").splitlines()) == 1, "the drainer must never install"
    finally:
        for path in (manager / "__init__.py", manager / "provides.txt", calls):
            path.unlink(missing_ok=True)
