"""The fake Stash's plugin runner: starts a plugin the way Stash does, on hooks and for tasks.

Read from stashapp/stash (../shared/REAL-SERVERS.md S4, S5):
- the manifest (`<id>.yml`) gives `exec` (`{pluginDir}` replaced), `interface` (only `raw` is run
  here), `hooks` with their `triggeredBy`, and `tasks` with their `defaultArgs`;
- stdin is `{"server_connection": {Scheme, Host, Port, SessionCookie, Dir, PluginDir}, "args": ...}`
  as raw UTF-8 (Go's json.Marshal: non-ASCII is not escaped), then closed;
- the environment is Stash's own plus `PYTHONPATH=<plugins root>` (only for a python exec);
  the working directory is Stash's own (no `cmd.Dir`);
- Stash reads stdout to end-of-file, then waits for the exit; stdout is one JSON
  `{"output", "error"}` (anything else becomes `output` as text; invalid UTF-8 becomes U+FFFD);
- stderr is read line by line (bufio.Scanner, 64 KiB per line: a longer line ends the reading)
  and each `\\x01<level>\\x02text` line goes to Stash's log;
- a hook runs inside the mutation that fired it, one process after another (a bulk edit runs
  one per scene, in order), and the mutation answers only after the last one;
- `runPluginTask` queues a job and answers its id at once; the task runs the same way.

The interpreter is configurable: `exec[0]` (`python3`) becomes `interpreter` (the venv's Python,
or Windows CPython under Wine through a `devkit.wine.Wine`, with Windows paths in stdin).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import yaml

STASH_LINE_LIMIT = 64 * 1024  # bufio.Scanner's MaxScanTokenSize
RUN_TIMEOUT = 600.0  # a deadline for a hung plugin, not a timing assertion
LEVELS = {"t": "trace", "d": "debug", "i": "info", "w": "warning", "e": "error", "p": "progress"}


@dataclass
class PluginRun:
    """One plugin process as Stash saw it."""

    args: Dict[str, Any]
    returncode: int
    output: Any
    error: Optional[str]
    log: List[Tuple[str, str]]  # (level, text) for each stderr line Stash read
    stdout: bytes = b""

    @property
    def progress(self) -> List[float]:
        return [float(text) for level, text in self.log if level == "progress"]


@dataclass
class Manifest:
    plugin_id: str
    exec: List[str]
    interface: str
    hooks: Dict[str, str]  # trigger (e.g. Scene.Update.Post) -> hook name
    tasks: Dict[str, Dict[str, Any]]  # task name -> defaultArgs

    @classmethod
    def read(cls, path: Path) -> "Manifest":
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        hooks = {trigger: hook["name"] for hook in document.get("hooks") or () for trigger in hook["triggeredBy"]}
        tasks = {task["name"]: dict(task.get("defaultArgs") or {}) for task in document.get("tasks") or ()}
        return cls(path.stem, [str(part) for part in document["exec"]], document.get("interface", "raw"), hooks, tasks)


def parse_stderr(data: bytes) -> Tuple[List[Tuple[str, str]], Optional[str]]:
    """Stash's reading of stderr: lines until one is longer than 64 KiB (then the reader stops)."""
    lines: List[Tuple[str, str]] = []
    for raw in data.split(b"\n"):
        if len(raw) > STASH_LINE_LIMIT:
            return lines, "bufio.Scanner: token too long"
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if len(line) >= 3 and line[0] == "\x01" and line[2] == "\x02":
            lines.append((LEVELS.get(line[1], "info"), line[3:]))
        elif line:
            lines.append(("error", line))  # errLog: error in PlexSync.yml
    return lines, None


def parse_stdout(data: bytes) -> Tuple[Any, Optional[str]]:
    text = data.decode("utf-8", "replace")
    try:
        document = json.loads(text)
    except ValueError:
        return text, None
    if isinstance(document, dict) and set(document) <= {"output", "error"}:
        return document.get("output"), document.get("error")
    return text, None


Runner = Callable[[List[str], bytes, Path, Dict[str, str]], Tuple[int, bytes, bytes]]


def run_like_stash(command: List[str], stdin: bytes, cwd: Path, env: Dict[str, str]) -> Tuple[int, bytes, bytes]:
    """Write stdin and close it, read stdout (and stderr) to end-of-file, then wait for the exit."""
    done = subprocess.run(command, input=stdin, capture_output=True, cwd=str(cwd), env=env, timeout=RUN_TIMEOUT)
    return done.returncode, done.stdout, done.stderr


@dataclass
class PluginHost:
    """Runs one plugin for a fake Stash; `attach()` makes the fake's mutations fire its hooks."""

    stash: Any  # FakeStashServer
    plugin_dir: Path
    interpreter: Sequence[str] = (sys.executable,)
    cwd: Path = field(default_factory=Path.cwd)  # Stash's own working directory
    base_env: Optional[Dict[str, str]] = None  # Stash's environment (default: this process's)
    plugin_path: Callable[[Path], str] = str  # how the plugin's OS writes a path (Windows under Wine)
    runner: Runner = run_like_stash
    config_dir: Optional[Path] = None  # server_connection.Dir (Stash's config folder)
    on_log: Optional[Callable[[str, str], None]] = None  # each stderr line Stash logs: (level, text)
    runs: List[PluginRun] = field(default_factory=list)
    jobs: Dict[str, Optional[PluginRun]] = field(default_factory=dict)  # runPluginTask's job id -> its run

    def __post_init__(self) -> None:
        self.plugin_dir = Path(self.plugin_dir)
        self.manifest = Manifest.read(next(self.plugin_dir.glob("*.yml")))
        if self.manifest.interface != "raw":
            raise ValueError(f"plugin interface {self.manifest.interface!r}: only raw plugins are run")

    def attach(self) -> "PluginHost":
        """Fire this plugin's hooks on the fake's mutations, and serve its runPluginTask."""
        self.stash.store.on_hook(self.fire_hook)
        self.stash.plugin_host = self
        return self

    # -- what Stash hands the plugin -------------------------------------------------------------
    def server_connection(self) -> Dict[str, Any]:
        cookie = {"Name": "session", "Value": self.stash.session_cookie, "Quoted": False, "Path": "", "Domain": "",
                  "Expires": "0001-01-01T00:00:00Z", "RawExpires": "", "MaxAge": 0, "Secure": False,
                  "HttpOnly": False, "SameSite": 0, "Partitioned": False, "Raw": "", "Unparsed": None}
        return {"Scheme": "http", "Host": "0.0.0.0", "Port": self.stash.port, "SessionCookie": cookie,
                "Dir": self.plugin_path(self.config_dir or self.cwd), "PluginDir": self.plugin_path(self.plugin_dir)}

    def command(self) -> List[str]:
        plugin_dir = self.plugin_path(self.plugin_dir)
        parts = [part.replace("{pluginDir}", plugin_dir) for part in self.manifest.exec]
        if parts[0] in ("python", "python3"):
            parts = [*self.interpreter, *parts[1:]]
        return parts

    def env(self) -> Dict[str, str]:
        env = dict(os.environ if self.base_env is None else self.base_env)
        if self.manifest.exec[0] in ("python", "python3"):
            plugins_root = self.plugin_path(self.plugin_dir.parent)
            existing = env.get("PYTHONPATH")
            env["PYTHONPATH"] = plugins_root + (os.pathsep + existing if existing else "")
        return env

    # -- running -------------------------------------------------------------------------------
    def run(self, args: Dict[str, Any]) -> PluginRun:
        stdin = json.dumps({"server_connection": self.server_connection(), "args": args},
                           ensure_ascii=False).encode("utf-8")
        returncode, out, err = self.runner(self.command(), stdin, self.cwd, self.env())
        output, error = parse_stdout(out)
        lines, reader_error = parse_stderr(err)
        if reader_error:
            lines.append(("error", f"plugin stderr reader stopped: {reader_error}"))
        if self.on_log is not None:
            for level, text in lines:
                self.on_log(level, text)
        run = PluginRun(args, returncode, output, error, lines, out)
        self.runs.append(run)
        return run

    def fire_hook(self, hook_context: Dict[str, Any]) -> Optional[PluginRun]:
        """Run the plugin for a hook the fake fired, if the manifest asks for that trigger."""
        if hook_context.get("type") not in self.manifest.hooks:
            return None
        return self.run({"hookContext": hook_context})

    def run_task(self, name: str, args: Optional[Dict[str, Any]] = None) -> PluginRun:
        """`runPluginTask`: the task's defaultArgs, then `args` over them."""
        if name not in self.manifest.tasks:
            raise KeyError(f"plugin {self.manifest.plugin_id} has no task {name!r}")
        return self.run({**self.manifest.tasks[name], **(args or {})})

    def start_job(self, task_name: Optional[str], args: Dict[str, Any]) -> str:
        """runPluginTask: the task runs as a job of its own; its id is answered at once."""
        if task_name is not None and task_name not in self.manifest.tasks:
            raise KeyError(f"plugin {self.manifest.plugin_id} has no task {task_name!r}")
        job_id = str(len(self.jobs) + 1)
        self.jobs[job_id] = None

        def work() -> None:
            self.jobs[job_id] = self.run_task(task_name, args) if task_name is not None else self.run(args)

        threading.Thread(target=work, name=f"plugin-job-{job_id}", daemon=True).start()
        return job_id

    def wait_job(self, job_id: str, timeout: float = RUN_TIMEOUT) -> PluginRun:
        deadline = time.monotonic() + timeout
        while self.jobs.get(job_id) is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"plugin job {job_id} still running after {timeout:g} s")
            time.sleep(0.05)
        run = self.jobs[job_id]
        assert run is not None
        return run

    def task_named(self, mode: str) -> str:
        """The task whose defaultArgs.mode is `mode`."""
        return next(name for name, args in self.manifest.tasks.items() if args.get("mode") == mode)

    def hook_runs(self) -> List[PluginRun]:
        return [run for run in self.runs if "hookContext" in run.args]
