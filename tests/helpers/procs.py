"""Shared pieces of the process-level queue tests: deadlines, drainer processes, run records."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional

from devkit.processes import wait_until as poll_until

REPO = Path(__file__).resolve().parents[2]
SCRIPTED_DRAINER = REPO / "tests" / "helpers" / "scripted_drainer.py"
HOOK_ENQUEUE = REPO / "tests" / "helpers" / "hook_enqueue.py"
PLUGIN_STUB = f"""\
import sys
sys.path.insert(0, {str(REPO)!r})
from tests.helpers.scripted_drainer import main
sys.exit(main(sys.argv[1:]))
"""


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, interval: float = 0.02,
               message: str = "condition") -> object:
    """Poll `predicate` until it is truthy; fail the test at the deadline (never a bare sleep)."""
    try:
        return poll_until(predicate, timeout, message, interval)
    except TimeoutError as exc:
        raise AssertionError(str(exc)) from None


def drainer_env(data_dir: Path, record_db: Path, **settings: object) -> Dict[str, str]:
    env = dict(os.environ)
    env["PLEXSYNC_DATA_DIR"] = str(data_dir)
    env["SCRIPTED_RECORD_DB"] = str(record_db)
    env["PYTHONPATH"] = str(REPO)
    for name, value in settings.items():
        env[f"SCRIPTED_{name.upper()}"] = str(value)
    return env


def start_scripted_drainer(env: Dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPTED_DRAINER), "worker"], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def make_plugin_dir(root: Path) -> Path:
    """A plugin folder whose PlexSync.py runs the scripted drainer (what start_drainer launches)."""
    plugin_dir = root / "plugin"
    plugin_dir.mkdir()
    (plugin_dir / "PlexSync.py").write_text(PLUGIN_STUB)
    return plugin_dir


def hook_process(data_dir: Path, plugin_dir: Optional[Path], event: str, scene_ids: List[int],
                 env: Dict[str, str]) -> subprocess.Popen:
    argv = [sys.executable, str(HOOK_ENQUEUE), str(data_dir), str(plugin_dir or "-"), event,
            *[str(scene_id) for scene_id in scene_ids]]
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def read_runs(record_db: Path) -> List[dict]:
    if not record_db.exists():
        return []
    connection = sqlite3.connect(str(record_db), timeout=30)
    try:
        rows = connection.execute("SELECT pid, scene_ids, event, started, ended FROM runs ORDER BY started").fetchall()
    except sqlite3.OperationalError:  # the drainer has not created the table yet
        return []
    finally:
        connection.close()
    return [{"pid": pid, "scene_ids": json.loads(ids), "event": event, "started": started, "ended": ended}
            for pid, ids, event, started, ended in rows]


def completed_scenes(record_db: Path) -> List[int]:
    return [scene_id for run in read_runs(record_db) if run["ended"] is not None for scene_id in run["scene_ids"]]


def assert_never_concurrent(runs: List[dict]) -> None:
    """One drainer, one job at a time: no run starts before the previous one ended."""
    previous = None
    for run in runs:
        if previous is not None and previous["ended"] is not None:
            assert run["started"] >= previous["ended"], f"jobs overlapped: {previous} and {run}"
        previous = run


def waiting_rows(data_dir: Path) -> int:
    connection = sqlite3.connect(str(data_dir / "queue.db"), timeout=30)
    try:
        return connection.execute("SELECT COUNT(*) FROM ack_queue_jobs").fetchone()[0]
    finally:
        connection.close()
