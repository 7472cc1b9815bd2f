"""A sandbox where the real plugin runs: a fake Stash, a fake Plex, a data dir, PlexSync's settings.

The demo and the benchmarks need the same scene: the project's fake servers on loopback over a
seeded library whose Stash and Plex paths differ, PlexSync configured in the fake Stash as a
user would configure it, and the plugin run as Stash runs it — `PlexSync.py` fed Stash's stdin
JSON for hooks, `PlexSync.py worker` started detached for the drainer. `close()` leaves
nothing behind: every process started for the data dir is stopped, the servers are stopped and
the temporary directory is removed.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional

from common.datadir import ENV_DATA_DIR, PLUGIN_ID
from devkit.processes import lock_holder, processes_for, stop_processes

REPO = Path(__file__).resolve().parents[2]


class PluginRun(NamedTuple):
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def result(self) -> Dict[str, Any]:
        """The JSON object on stdout ({} when there is none)."""
        try:
            document = json.loads(self.stdout or "{}")
        except ValueError:
            return {}
        return document if isinstance(document, dict) else {}


def go_cookie(name: str, value: str) -> Dict[str, Any]:
    """A Go `http.Cookie` as Stash marshals it into `server_connection.SessionCookie`."""
    return {"Name": name, "Value": value, "Path": "", "Domain": "", "Expires": "0001-01-01T00:00:00Z",
            "RawExpires": "", "MaxAge": 0, "Secure": False, "HttpOnly": False, "SameSite": 0, "Raw": "",
            "Unparsed": None}


class Stage:
    """Fake Stash + fake Plex over one seeded world, PlexSync configured, a private data dir."""

    def __init__(self, scenes: int = 60, seed: int = 7, *, plex_latency_ms: float = 0.0,
                 stash_api_key: str = "demo-stash-api-key", plex_token: str = "demo-plex-token",
                 plugin_dir: Path = REPO, settings: Optional[Dict[str, Any]] = None) -> None:
        from devkit.fakes.plex_server import FakePlexServer
        from devkit.fakes.stash_server import FakeStashServer
        from devkit.fakes.world import build_world

        self.plugin_dir = Path(plugin_dir)
        self.world = build_world(scenes, seed)
        self.stash = FakeStashServer(self.world.stash_data, api_key=stash_api_key)
        self.plex = FakePlexServer(token=plex_token)
        self.rating_keys = self.world.populate_plex(self.plex)
        self._extra_settings = dict(settings or {})
        self._plex_latency_ms = plex_latency_ms
        self.root: Optional[Path] = None  # made by start(), removed by close()

    @property
    def data_dir(self) -> Path:
        if self.root is None:
            raise RuntimeError("the stage has not started")
        return self.root / "data"

    # ---- life cycle --------------------------------------------------------------------------

    def start(self) -> "Stage":
        self.root = Path(tempfile.mkdtemp(prefix="plexsync-demo-"))
        self.stash.start()
        self.plex.start()
        self.plex.latency(self._plex_latency_ms)
        self.configure()
        return self

    def configure(self, **changes: Any) -> Dict[str, Any]:
        """Write PlexSync's settings into the fake Stash, as Settings → Plugins would."""
        values = {"plex_url": self.plex.url, "plex_token": self.plex.token, "path_map": self.world.path_map}
        values.update(self._extra_settings)
        values.update(changes)
        return self.stash.set_plugin_config(PLUGIN_ID, values)

    def close(self) -> List[int]:
        """Stop every process started for the data dir, the servers, and remove the temp dir.

        Returns the pids that had to be stopped (a drainer still waiting for work, usually).
        """
        stopped: List[int] = []
        try:
            if self.root is not None:
                stopped = self.stop_drainers()
        finally:
            try:
                self.plex.stop()  # safe on a server that never started
                self.stash.stop()
            finally:
                if self.root is not None:
                    shutil.rmtree(self.root, ignore_errors=True)
                    self.root = None
        return stopped

    def __enter__(self) -> "Stage":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- Stash's side of the plugin protocol -------------------------------------------------

    def server_connection(self, with_cookie: bool = True) -> Dict[str, Any]:
        port = self.stash.port
        cookie = go_cookie("session", self.stash.session_cookie) if with_cookie else None
        return {"Scheme": "http", "Host": "0.0.0.0", "Port": port, "SessionCookie": cookie,
                "Dir": str(self.root), "PluginDir": str(self.plugin_dir)}

    def hook_stdin(self, scene_id: int, hook_type: str = "Scene.Update.Post",
                   hook_input: Any = None, input_fields: Optional[List[str]] = None) -> str:
        context: Dict[str, Any] = {"id": scene_id, "type": hook_type, "input": hook_input}
        if input_fields:  # Stash's HookContext: `inputFields` is omitempty
            context["inputFields"] = input_fields
        return json.dumps({"server_connection": self.server_connection(), "args": {"hookContext": context}})

    def task_stdin(self, mode: str) -> str:
        """What Stash writes when the user runs a PlexSync task (the YAML's defaultArgs)."""
        return json.dumps({"server_connection": self.server_connection(), "args": {"mode": mode}})

    def env(self) -> Dict[str, str]:
        """This interpreter's environment without the developer's own PLEXSYNC_* settings."""
        env = {name: value for name, value in os.environ.items() if not name.startswith("PLEXSYNC_")}
        env[ENV_DATA_DIR] = str(self.data_dir)
        return env

    def plugin_command(self) -> List[str]:
        return [sys.executable, str(self.plugin_dir / "PlexSync.py")]

    def run_plugin(self, stdin_text: str, timeout: float = 60.0) -> PluginRun:
        """Run PlexSync.py as Stash runs a hook or task: stdin JSON, stdout read to EOF, the exit code."""
        started = time.perf_counter()
        done = subprocess.run(self.plugin_command(), input=stdin_text, capture_output=True, text=True,
                              env=self.env(), cwd=str(self.root), timeout=timeout)
        return PluginRun(done.returncode, done.stdout, done.stderr, time.perf_counter() - started)

    # ---- the queue and the drainer ------------------------------------------------------------

    def save_connection(self) -> None:
        """What the first hook or task leaves for the drainer: how to reach Stash."""
        from stash.connection import connection_from_server_connection, save_connection

        save_connection(self.data_dir, connection_from_server_connection(self.server_connection()))

    def enqueue_all(self, reason: str = "demo full sync", force: bool = False) -> int:
        """Every scene id into the real queue, as a full-sync task does; returns the row count."""
        from sync_queue.stores import open_stores

        with open_stores(self.data_dir) as stores:
            return stores.jobs.put_batch(self.world.scene_ids, "sync", reason, force=force)

    def start_drainer(self) -> int:
        from worker.launcher import start_drainer

        return start_drainer(self.data_dir, self.plugin_dir)

    def drainer_running(self) -> bool:
        from worker.launcher import drainer_running

        return drainer_running(self.data_dir)

    def drainer_pid(self) -> Optional[int]:
        return lock_holder(self.data_dir)

    def stop_drainers(self, timeout: float = 15.0) -> List[int]:
        """Stop every process started for the data dir; returns their pids."""
        pids = processes_for(self.data_dir)
        stop_processes(pids, timeout)
        return pids

    def queue_counts(self) -> Any:
        """`sync_queue.jobqueue.QueueCounts` (pending, scheduled, in_progress) of the real queue."""
        from sync_queue.stores import open_stores

        with open_stores(self.data_dir) as stores:
            return stores.jobs.counts()

    def settled(self) -> bool:
        """Nothing due or running: every job is done or waiting for a scheduled retry."""
        if not (self.data_dir / "queue.db").exists():
            return False
        counts = self.queue_counts()
        return counts.pending == 0 and counts.in_progress == 0

    def synced_ids(self) -> List[int]:
        from sync_queue.stores import open_stores

        with open_stores(self.data_dir) as stores:
            return [row[0] for row in stores.db.query("SELECT scene_id FROM sync_state ORDER BY scene_id")]

    def waiting_ids(self) -> List[int]:
        """Scenes whose jobs wait for a retry (not in Plex yet, or a transient failure)."""
        from sync_queue.jobs import Job
        from sync_queue.stores import open_stores

        with open_stores(self.data_dir) as stores:
            rows = stores.db.query("SELECT data FROM ack_queue_jobs")
        return sorted({scene_id for (data,) in rows for scene_id in Job.decode(data).scene_ids})

    def dead_letters(self, limit: int = 50) -> list:
        """Up to `limit` dead letters, newest failure first."""
        from sync_queue.stores import open_stores

        with open_stores(self.data_dir) as stores:
            return stores.dead_letters.list(per_page=limit)

    def dead_letter_count(self) -> int:
        from sync_queue.stores import open_stores

        with open_stores(self.data_dir) as stores:
            return stores.dead_letters.count()

    # ---- looking at Plex ---------------------------------------------------------------------

    def plex_item(self, scene_id: int) -> Optional[dict]:
        """The fake Plex's state of the (first) item for a scene, None if Plex has none."""
        keys = self.rating_keys.get(scene_id)
        return self.plex.item(keys[0]) if keys else None
