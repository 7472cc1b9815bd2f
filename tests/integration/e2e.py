"""End-to-end helpers: the fake servers and a seeded world, and `PlexSync.py` run as Stash runs it.

Tests of the whole plugin (tasks, hooks, the CLI, the demo) need the same pieces: a fake Stash
and a fake Plex over loopback, filled from one `build_world`, PlexSync's settings stored in the
fake Stash (where the real plugin reads them), the stdin document Stash writes, and
`python PlexSync.py` as a subprocess with its own data directory. This module holds them, and
the poll helpers (deadlines, never a bare sleep) the tests wait with.

    def test_something(fakes_factory):          # the fixture, from tests/conftest.py
        fakes = fakes_factory(scenes=200)          # servers up, plugin configured, data dir empty
        run = fakes.run_task("sync_all")            # PlexSync.py with Stash's stdin; waits for exit
        assert run.error is None and run.progress   # `output`/`error` from stdout, `\\x01p\\x02` lines
        fakes.wait_drained()                        # the detached drainer finished the queue
        fakes.plex.item(rating_key)                 # assert on the fake's state and counts

The servers run in the test process (threads); the plugin and the drainer it starts are
separate processes that reach them over HTTP. Teardown stops the drainer of each data dir (by
the pid in its lock file) before the servers.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import pytest

from common.datadir import PLUGIN_ID
from devkit.fakes.plex_server import FakePlexServer
from devkit.fakes.stash_server import FakeStashServer
from devkit.fakes.world import World, build_world
from devkit.processes import processes_for, stop_processes
from tests.helpers.procs import wait_until

REPO = Path(__file__).resolve().parents[2]
PLEXSYNC = REPO / "PlexSync.py"
PLEX_TOKEN = "e2e-plex-token"
RUN_TIMEOUT = 300.0  # a deadline for hung processes, not a timing assertion

__all__ = ["Fakes", "PluginRun", "CliRun", "fakes_factory", "start_fakes", "wait_until", "parse_stderr",
           "plugin_env", "run_plexsync", "PLEXSYNC", "REPO", "PLUGIN_ID"]


@dataclass
class PluginRun:
    """One finished `PlexSync.py` run in plugin mode: exit status, the JSON on stdout, stderr lines."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def result(self) -> Dict[str, Any]:
        """The one JSON object on stdout (fails the test if stdout is anything else)."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, f"stdout must be one JSON object, got: {self.stdout!r}"
        document = json.loads(lines[0])
        assert isinstance(document, dict) and set(document) == {"output", "error"}, document
        return document

    @property
    def output(self) -> Any:
        return self.result["output"]

    @property
    def error(self) -> Optional[str]:
        return self.result["error"]

    @property
    def log(self) -> List[Tuple[str, str]]:
        """(level, text) for each stderr line in Stash's format; progress lines excluded."""
        return [(level, text) for level, text in parse_stderr(self.stderr) if level != "p"]

    def logs(self, *levels: str) -> List[str]:
        return [text for level, text in self.log if not levels or level in levels]

    @property
    def progress(self) -> List[float]:
        """The fractions of every `\\x01p\\x02` line, in order."""
        return [float(text) for level, text in parse_stderr(self.stderr) if level == "p"]


@dataclass
class CliRun:
    returncode: int
    stdout: str
    stderr: str


def parse_stderr(text: str) -> List[Tuple[str, str]]:
    """Split stderr into (level, text) pairs; a line without Stash's prefix gets level "?"."""
    pairs = []
    for line in text.splitlines():
        if len(line) >= 3 and line[0] == "\x01" and line[2] == "\x02":
            pairs.append((line[1], line[3:]))
        elif line:
            pairs.append(("?", line))
    return pairs


def run_plexsync(stdin: str, data_dir: Path, cwd: Optional[Path] = None, argv: Sequence[str] = (),
                 timeout: float = RUN_TIMEOUT) -> PluginRun:
    """`python PlexSync.py ARGV` with `stdin`, its data in `data_dir`, without any fake server."""
    done = subprocess.run([sys.executable, str(PLEXSYNC), *argv], input=stdin.encode("utf-8"), capture_output=True,
                          cwd=str(cwd or data_dir.parent), env=plugin_env(data_dir), timeout=timeout)
    return PluginRun(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


def plugin_env(data_dir: Path, **extra: str) -> Dict[str, str]:
    """The environment for PlexSync.py: this interpreter's, minus any PLEXSYNC_* of the developer."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("PLEXSYNC_")}
    env["PLEXSYNC_DATA_DIR"] = str(data_dir)
    env.pop("PYTHONPATH", None)  # PlexSync.py finds its own packages, as under Stash
    env.update(extra)
    return env


@dataclass
class Fakes:
    """A running fake Stash + fake Plex over one world, and a data dir for PlexSync."""

    world: World
    stash: FakeStashServer
    plex: FakePlexServer
    data_dir: Path
    work_dir: Path
    rating_keys: Dict[int, tuple]
    plugin_dir: Path = REPO
    _children: List[subprocess.Popen] = field(default_factory=list, repr=False)

    # -- plugin settings as Stash stores them --------------------------------------------------
    def settings(self, **values: Any) -> Dict[str, Any]:
        """The working settings for this world (plex_url, plex_token, path_map), updated by `values`."""
        settings: Dict[str, Any] = {"plex_url": self.plex.url, "plex_token": self.plex.token,
                                    "path_map": self.world.path_map}
        settings.update(values)
        return {name: value for name, value in settings.items() if value is not None}

    def configure(self, **values: Any) -> Dict[str, Any]:
        """Store PlexSync's settings in the fake Stash; a value of None leaves that setting unset."""
        settings = self.settings(**values)
        self.stash.set_plugin_config(PLUGIN_ID, settings)
        return settings

    # -- what Stash writes on stdin -------------------------------------------------------------
    def server_connection(self, host: str = "0.0.0.0", cookie: bool = True) -> Dict[str, Any]:
        """`server_connection` as Stash sends it (Go field names; Host may be 0.0.0.0)."""
        session = ({"Name": "session", "Value": self.stash.session_cookie, "Path": "", "Domain": "",
                    "Expires": "0001-01-01T00:00:00Z", "MaxAge": 0, "Secure": False, "HttpOnly": False,
                    "SameSite": 0, "Raw": "", "Unparsed": None} if cookie else None)
        return {"Scheme": "http", "Host": host, "Port": self.stash.port, "SessionCookie": session,
                "Dir": str(self.work_dir), "PluginDir": str(self.plugin_dir)}

    def task_stdin(self, mode: Optional[str], **args: Any) -> str:
        payload_args = dict(args)
        if mode is not None:
            payload_args["mode"] = mode
        return json.dumps({"server_connection": self.server_connection(), "args": payload_args})

    def hook_stdin(self, hook_type: str, scene_id: int, input: Any = None,
                   input_fields: Optional[Sequence[str]] = None) -> str:
        context: Dict[str, Any] = {"id": scene_id, "type": hook_type, "input": input}
        if input_fields:  # Stash's HookContext: `inputFields` is omitempty
            context["inputFields"] = list(input_fields)
        return json.dumps({"server_connection": self.server_connection(), "args": {"hookContext": context}})

    # -- running PlexSync.py ----------------------------------------------------------------------
    def env(self, **extra: str) -> Dict[str, str]:
        return plugin_env(self.data_dir, **extra)

    def run_plugin(self, stdin: str, timeout: float = RUN_TIMEOUT, env: Optional[Dict[str, str]] = None) -> PluginRun:
        """Run `python PlexSync.py` with `stdin` (no arguments: the raw plugin protocol) and wait."""
        done = subprocess.run([sys.executable, str(PLEXSYNC)], input=stdin.encode("utf-8"),
                              capture_output=True, cwd=str(self.work_dir), env=env or self.env(),
                              timeout=timeout)
        return PluginRun(done.returncode, done.stdout.decode("utf-8", "replace"),
                         done.stderr.decode("utf-8", "replace"))

    def edit_in_stash(self, scene_id: int, **changes: Any) -> None:
        """An edit in Stash's UI, then the Scene.Update.Post hook Stash runs for it (checked to succeed)."""
        hooks: List[Tuple[int, Any, Any]] = []
        self.stash.on_scene_update(lambda sid, given, fields: hooks.append((sid, given, fields)))
        self.stash.edit_scene(scene_id, **changes)
        sid, given, fields = hooks[-1]
        run = self.run_plugin(self.hook_stdin("Scene.Update.Post", sid, given, fields))
        assert run.returncode == 0 and run.error is None, run.stderr

    def run_task(self, mode: Optional[str], timeout: float = RUN_TIMEOUT, **args: Any) -> PluginRun:
        return self.run_plugin(self.task_stdin(mode, **args), timeout)

    def start_plugin(self, stdin: str, env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
        """Start `python PlexSync.py` with `stdin` and return at once (to kill it mid-task)."""
        proc = subprocess.Popen([sys.executable, str(PLEXSYNC)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=str(self.work_dir), env=env or self.env())
        self._children.append(proc)
        assert proc.stdin is not None
        proc.stdin.write(stdin.encode("utf-8"))
        proc.stdin.close()
        return proc

    def cli_env(self, with_stash: bool = True, **extra: str) -> Dict[str, str]:
        """Environment for the CLI: the data dir, and (by default) Stash's URL via PLEXSYNC_STASH_URL."""
        values = dict(extra)
        if with_stash:
            values.setdefault("PLEXSYNC_STASH_URL", self.stash.url)
            if self.stash.api_key:
                values.setdefault("PLEXSYNC_STASH_API_KEY", self.stash.api_key)
        return self.env(**values)

    def run_cli(self, *argv: str, env: Optional[Dict[str, str]] = None, timeout: float = RUN_TIMEOUT) -> CliRun:
        """Run `python PlexSync.py ARGV...` (stdin closed, not a terminal) and wait."""
        done = subprocess.run([sys.executable, str(PLEXSYNC), *argv], stdin=subprocess.DEVNULL, capture_output=True,
                              cwd=str(self.work_dir), env=env or self.cli_env(), timeout=timeout)
        return CliRun(done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))

    # -- the queue and the drainer ---------------------------------------------------------------
    @contextmanager
    def stores(self) -> Iterator[Any]:
        """The queue database's stores (sync_queue.stores.Stores), opened for reading and closed after."""
        from sync_queue.stores import open_stores

        with open_stores(self.data_dir) as stores:
            yield stores

    def queue_rows(self) -> int:
        """Rows in the job table, whatever their state (0 before the database exists)."""
        if not (self.data_dir / "queue.db").exists():
            return 0
        with self.stores() as stores:
            return stores.jobs.counts().total

    def unfinished_rows(self) -> int:
        """Rows due now or in progress (retries scheduled for later are not counted)."""
        if not (self.data_dir / "queue.db").exists():
            return 0
        with self.stores() as stores:
            counts = stores.jobs.counts()
            return counts.pending + counts.in_progress

    def dead_letters(self) -> List[Any]:
        if not (self.data_dir / "queue.db").exists():
            return []
        with self.stores() as stores:
            letters, page = [], 1
            while True:
                batch = stores.dead_letters.list(page=page, per_page=500)
                letters.extend(batch)
                if len(batch) < 500:
                    return letters
                page += 1

    def synced_scene_ids(self) -> set:
        if not (self.data_dir / "queue.db").exists():
            return set()
        with self.stores() as stores:
            return {row[0] for row in stores.db.query("SELECT scene_id FROM sync_state")}

    def drainer_running(self) -> bool:
        from worker.launcher import drainer_running

        return drainer_running(self.data_dir)

    def drainer_pid(self) -> Optional[int]:
        from worker.lock import DrainerLock, lock_path

        return DrainerLock(lock_path(self.data_dir)).holder_pid() if self.drainer_running() else None

    def wait_drained(self, timeout: float = 120.0) -> None:
        """Wait until nothing is due or in progress (scheduled retries may remain)."""
        wait_until(lambda: self.unfinished_rows() == 0, timeout=timeout, interval=0.1,
                   message="the queue to be drained")

    def stop_drainer(self, timeout: float = 60.0) -> None:
        """SIGTERM the drainer of this data dir (it finishes its job, then exits) and wait for it."""
        pid = self.drainer_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
        wait_until(lambda: not self.drainer_running(), timeout=timeout, interval=0.05,
                   message="the drainer to exit")

    # -- the fake Plex -----------------------------------------------------------------------------
    def plex_writes(self) -> int:
        """PUT and POST requests the fake Plex answered (edits, ratings, image uploads, selections)."""
        return sum(n for key, n in self.plex.counts().items() if key.startswith(("PUT ", "POST ")))

    def plex_requests(self, method: Optional[str] = None) -> int:
        return sum(n for key, n in self.plex.counts().items() if method is None or key.startswith(method + " "))

    def close(self) -> None:
        for proc in self._children:
            if proc.poll() is None:
                proc.kill()
            proc.wait(30)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        try:
            # Every process started for this data dir, including a drainer a hook has just
            # started that does not hold the lock yet.
            stop_processes(processes_for(self.data_dir), timeout=30)
        finally:
            self.plex.stop()
            self.stash.stop()


def start_fakes(root: Path, scenes: int = 200, seed: int = 1, *, stash_api_key: str = "",
                plex_token: str = PLEX_TOKEN, plex_latency_ms: float = 0.0, configure: bool = True,
                world: Optional[World] = None, setup_plex: Optional[Callable[[World, FakePlexServer], None]] = None
                ) -> Fakes:
    """Start both fakes over a seeded world; `configure` stores working PlexSync settings in Stash.

    `setup_plex(world, plex)` runs after the world is in Plex (extra items, duplicates...).
    """
    world = world or build_world(scenes, seed)
    stash = FakeStashServer(world.stash_data, api_key=stash_api_key)
    plex = FakePlexServer(token=plex_token)
    rating_keys = world.populate_plex(plex)
    if setup_plex is not None:
        setup_plex(world, plex)
    stash.start()
    try:
        plex.start()
    except BaseException:
        stash.stop()
        raise
    plex.latency(plex_latency_ms)
    work_dir = root / "stash-cwd"
    work_dir.mkdir(parents=True, exist_ok=True)
    fakes = Fakes(world=world, stash=stash, plex=plex, data_dir=root / "plexsync-data", work_dir=work_dir,
                  rating_keys=rating_keys)
    if configure:
        fakes.configure()
    return fakes


@pytest.fixture
def fakes_factory(tmp_path: Path) -> Iterator[Callable[..., Fakes]]:
    """fakes_factory(**start_fakes options) -> Fakes; everything is stopped after the test."""
    started: List[Fakes] = []

    def make(**options: Any) -> Fakes:
        fakes = start_fakes(tmp_path / f"e2e{len(started)}", **options)
        started.append(fakes)
        return fakes

    yield make
    for fakes in started:
        fakes.close()
    # An edit without `id` edits every item of the library on a real server: always damage.
    assert all(fakes.plex.bulk_edits == 0 for fakes in started), "an edit without an item id reached Plex"
