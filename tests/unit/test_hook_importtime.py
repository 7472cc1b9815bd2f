"""The hook path loads the standard library only: what `python -X importtime PlexSync.py` imports.

Stash runs PlexSync.py for every saved scene and waits for it, once per scene of a bulk edit;
one third-party import on that path (persist-queue ~100 ms, plexapi, requests) is paid every
time. These tests run the real entry script with a real hook document on stdin and read the
interpreter's own import log, so a stray import anywhere on the path fails here, not in a
user's bulk edit. bench/hook_latency.py prints what the path costs.
"""
import json
import os
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from worker.lock import DrainerLock, lock_path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = ("persistqueue", "plexapi", "requests", "urllib3", "stashapi", "graphql")
# Not needed for one enqueue while a drainer runs: each costs milliseconds on every hook.
NOT_ON_THE_ENQUEUE_PATH = ("subprocess", "pathlib", "dataclasses", "typing", "urllib", "inspect")
STDLIB_ONLY = ("entry.streams", "entry.protocol", "entry.plugin", "hooks.handler", "hooks.events", "hooks.snapshot",
               "sync_queue.rows", "worker.launcher")


def hook_stdin(scene_id, hook_input, input_fields, hook_type="Scene.Update.Post"):
    connection = {"Scheme": "http", "Host": "0.0.0.0", "Port": 9999, "Dir": "/stash",
                  "PluginDir": str(REPO),
                  "SessionCookie": {"Name": "session", "Value": "cookie-value", "Path": "", "Domain": "",
                                    "Expires": "0001-01-01T00:00:00Z", "MaxAge": 0, "Secure": False,
                                    "HttpOnly": False, "SameSite": 0, "Raw": "", "Unparsed": None}}
    context = {"id": scene_id, "type": hook_type, "input": hook_input, "inputFields": input_fields}
    return json.dumps({"server_connection": connection, "args": {"hookContext": context}})


def run_hook_importtime(data_dir, stdin_text, cwd):
    env = {name: value for name, value in os.environ.items() if not name.startswith("PLEXSYNC_")}
    env.pop("PYTHONPATH", None)  # as under Stash: PlexSync.py finds its own packages
    env["PLEXSYNC_DATA_DIR"] = str(data_dir)
    done = subprocess.run([sys.executable, "-X", "importtime", str(REPO / "PlexSync.py")], input=stdin_text,
                          capture_output=True, text=True, env=env, cwd=str(cwd), timeout=60)
    return done, imported(done.stderr)


def imported(stderr):
    """Module names from -X importtime lines ("import time: self | cumulative | name")."""
    names = []
    for line in stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                names.append(name)
    return names


def forbidden_in(names):
    return sorted({name for name in names if name.split(".")[0] in FORBIDDEN})


def one_result(stdout):
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    document = json.loads(lines[0])
    assert set(document) == {"output", "error"}
    return document


def test_a_hook_that_changes_nothing_synced_imports_no_third_party_module(tmp_path):
    data_dir = tmp_path / "data"
    stdin_text = hook_stdin(5, {"id": "5", "o_counter": 3}, ["id", "o_counter"])
    done, names = run_hook_importtime(data_dir, stdin_text, tmp_path)
    assert done.returncode == 0
    assert one_result(done.stdout) == {"output": "nothing PlexSync syncs changed", "error": None}
    assert "hooks.handler" in names  # the log is read: the hook path really ran
    assert forbidden_in(names) == []
    assert not (data_dir / "queue.db").exists()


def test_a_hook_that_enqueues_imports_no_third_party_module(tmp_path):
    """The full enqueue path; a held lock stands in for a running drainer, so none is started."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    lock = DrainerLock(lock_path(data_dir))
    assert lock.acquire()
    try:
        stdin_text = hook_stdin(7, {"id": "7", "title": "New", "tag_ids": ["1"]}, ["id", "title", "tag_ids"])
        first, first_names = run_hook_importtime(data_dir, stdin_text, tmp_path)  # saves the connection
        done, names = run_hook_importtime(data_dir, stdin_text, tmp_path)  # the common case: it is saved
    finally:
        lock.release()
    assert first.returncode == 0 and "stash.connection" in first_names
    assert done.returncode == 0, done.stderr[-2000:]
    assert one_result(done.stdout) == {"output": "queued scene 7 (update)", "error": None}
    assert {"sync_queue.rows", "worker.launcher", "sqlite3"} <= set(names)
    assert forbidden_in(names) == []
    assert "subprocess" not in names  # no drainer was started, so the launcher did not need it
    assert sorted({name for name in names if name.split(".")[0] in NOT_ON_THE_ENQUEUE_PATH}) == []
    connection = sqlite3.connect(str(data_dir / "queue.db"))
    try:
        data = [row for row, in connection.execute("SELECT data FROM ack_queue_jobs ORDER BY _id")]
    finally:
        connection.close()
    assert [json.loads(row)["scene_ids"] for row in data] == [[7], [7]]


def test_a_malformed_hook_imports_no_third_party_module(tmp_path):
    done, names = run_hook_importtime(tmp_path / "data", "{not json", tmp_path)
    assert done.returncode == 0
    assert one_result(done.stdout)["error"].startswith("stdin is not JSON")
    assert forbidden_in(names) == []


def _origins(module_names):
    """{module: file or None} of what `import <module_names>` adds in a fresh interpreter.

    Modules loaded before the import (site's own, e.g. setuptools' `_distutils_hack`) are not counted.
    """
    code = ("import importlib, json, sys\n"
            "before = set(sys.modules)\n"
            f"sys.path.insert(0, {str(REPO)!r})\n"
            f"for name in {list(module_names)!r}:\n"
            "    importlib.import_module(name)\n"
            "print(json.dumps({n: getattr(m, '__file__', None) for n, m in list(sys.modules.items())\n"
            "                  if n not in before}))\n")
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=str(REPO),
                          env=env, timeout=60, check=True)
    return json.loads(done.stdout)


def _third_party(origins):
    """Modules that are neither the standard library nor this project's own packages."""
    stdlib_dirs = {os.path.realpath(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib")}
    repo = os.path.realpath(REPO)
    outside = []
    for name, path in origins.items():
        if name == "__main__" or path is None:  # builtins, frozen modules, namespace packages
            continue
        real = os.path.realpath(path)
        if "site-packages" in real.split(os.sep) or "dist-packages" in real.split(os.sep):
            outside.append(name)
        elif real.startswith(repo + os.sep):
            if os.sep + ".venv" + os.sep in real[len(repo):]:
                outside.append(name)
        elif not any(real.startswith(d + os.sep) for d in stdlib_dirs):
            outside.append(name)
    return sorted(outside)


@pytest.mark.parametrize("module", STDLIB_ONLY)
def test_hook_path_modules_import_only_the_standard_library(module):
    assert _third_party(_origins([module])) == []


def test_every_common_module_imports_only_the_standard_library():
    names = sorted(f"common.{path.stem}" for path in (REPO / "common").glob("*.py") if path.stem != "__init__")
    origins = _origins(["common", *names])
    assert set(names) <= set(origins)
    assert _third_party(origins) == []
