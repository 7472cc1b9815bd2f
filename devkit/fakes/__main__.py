"""`python -m devkit.fakes serve`: a fake Stash and a fake Plex over one seeded world, for
tests that run the product as separate processes, and for trying the plugin by hand.

Prints exactly one JSON line on stdout once both servers answer — stash_url, plex_url,
plex_token, stash_api_key ("" without login), path_map, plex_sections — then serves until
SIGTERM or SIGINT. Fault injection and counts go through each server's /__fake__/ API.

`--plugin-dir DIR` (opt-in) makes the fake Stash run the plugin in DIR as Stash does: on the hooks
its mutations fire and for runPluginTask (devkit/fakes/plugin_host.py), with `--plugin-python`
as the interpreter (default: this one); with `--wine-prefix`, that interpreter is a Windows
python.exe run under Wine. Without it, nothing runs the plugin, so scripts that run it
themselves keep working unchanged.
"""
from __future__ import annotations

import argparse
import json
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

REPO_ROOT = Path(__file__).resolve().parents[2]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.fakes")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run a fake Stash and a fake Plex until killed")
    serve.add_argument("--scenes", type=int, default=200)
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--stash-port", type=int, default=0)
    serve.add_argument("--plex-port", type=int, default=0)
    serve.add_argument("--plex-latency-ms", type=float, default=0.0)
    serve.add_argument("--stash-api-key", default="")
    serve.add_argument("--plex-token", default="fake-plex-token")
    serve.add_argument("--stash-root", default="/data/videos")
    serve.add_argument("--plex-root", default="/media/videos")
    serve.add_argument("--plugin-dir", type=Path, help="run the plugin in this folder as Stash does (hooks, tasks)")
    serve.add_argument("--plugin-python", default=sys.executable, help="the interpreter Stash would run it with")
    serve.add_argument("--wine-prefix", type=Path, help="--plugin-python is a Windows python.exe: run it under Wine")
    args = parser.parse_args(argv)
    return _serve(args)


def _serve(args: argparse.Namespace) -> int:
    from devkit.fakes.plex_server import FakePlexServer
    from devkit.fakes.stash_server import FakeStashServer
    from devkit.fakes.world import build_world

    finished = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: finished.set())

    world = build_world(args.scenes, args.seed, args.stash_root, args.plex_root)
    stash = FakeStashServer(world.stash_data, api_key=args.stash_api_key)
    plex = FakePlexServer(token=args.plex_token)
    world.populate_plex(plex)
    stash.port, plex.port = args.stash_port, args.plex_port
    stash.start()
    plex.start()
    plex.latency(args.plex_latency_ms)
    wine = None
    try:
        if args.plugin_dir is not None:
            wine = _run_plugin(stash, args)
        info = {"stash_url": stash.url, "plex_url": plex.url, "plex_token": plex.token,
                "stash_api_key": stash.api_key, "path_map": world.path_map, "plex_sections": world.plex_sections}
        if args.plugin_dir is not None:
            info["plugin_dir"] = str(args.plugin_dir.resolve())
        print(json.dumps(info), flush=True)
        while not finished.wait(1.0):
            pass
    finally:
        plex.stop()
        stash.stop()
        if wine is not None:
            wine.shutdown()
    return 0


def _run_plugin(stash, args: argparse.Namespace):
    """Attach a plugin host to the fake Stash; returns the Wine session to end, if any."""
    from devkit.fakes.plugin_host import PluginHost

    def log(level: str, text: str) -> None:
        print(f"[Plugin / {host.manifest.plugin_id}] {level}: {text}", file=sys.stderr, flush=True)

    options: dict = {}
    wine = None
    if args.wine_prefix is not None:
        from devkit.wine import Wine, windows_path

        wine = Wine(args.wine_prefix)
        wine.boot()

        def runner(command, stdin, cwd, env):
            done = wine.run(command, stdin, cwd, env)
            return done.returncode, done.stdout, done.stderr

        options.update(plugin_path=windows_path, runner=runner)
    host = PluginHost(stash, args.plugin_dir.resolve(), interpreter=(args.plugin_python,), on_log=log, **options)
    host.attach()
    return wine


def launch(*serve_args: str, deadline: float = 120.0) -> tuple[subprocess.Popen, dict, float]:
    """Starts `python -m devkit.fakes serve ...`; returns the process, its JSON line, seconds to it.

    Used by tests and bench/fakes_startup.py; raises (after killing it) if no line comes in time.
    """
    started = time.monotonic()
    errors = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "devkit.fakes", "serve", *serve_args], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=errors, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=deadline)
    except queue.Empty:
        line = ""
    if not line:
        proc.kill()
        proc.wait(30)
        errors.seek(0)
        raise RuntimeError(f"fakes did not come up within {deadline}s: "
                           f"{errors.read()[-2000:].decode(errors='replace')}")
    errors.close()
    return proc, json.loads(line), time.monotonic() - started


def terminate(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    """SIGTERM, then the exit code (the process is killed if it outlives `timeout`)."""
    proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    finally:
        if proc.stdout:
            proc.stdout.close()


def rss_bytes(pid: int) -> Optional[int]:
    """Resident memory of a process from /proc (Linux); None where that is unavailable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


if __name__ == "__main__":
    sys.exit(main())
