"""What one hook costs the user's save: the real `PlexSync.py` process, as Stash runs it.

    .venv/bin/python bench/hook_latency.py [--runs 50] [--json]

Stash waits for the hook process before it answers a save, once per scene of a bulk edit, so
the figure that matters is the wall time of the whole process: interpreter start, imports,
reading stdin, the enqueue, and (when no drainer runs) starting one. Cases, interleaved so drift
hits them alike:

- `python -c pass`: the interpreter alone, the floor no plugin can go below;
- an update of unsynced fields (o_counter): decided from the hook context, nothing queued;
- an edit while a drainer runs, in a data dir with a saved Stash connection (the usual case; a
  held lock stands in for the drainer);
- an edit in a fresh data dir each time: no queue file, no saved connection (the hook saves it),
  no drainer (the hook starts the stub);
- an edit with no drainer running: the hook also starts one (a stub that exits at once, so
  the measured cost is the detached start itself, and no drainer's imports load the machine).

Then the import cost, from `python -X importtime PlexSync.py` on the enqueue case.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from worker.lock import DrainerLock, lock_path  # noqa: E402

STUB = "import sys\nsys.exit(0)\n"  # stands in for `PlexSync.py worker`: exits at once


def stdin_for(plugin_dir: Path, scene_id: int, hook_input: dict, fields: List[str]) -> str:
    connection = {"Scheme": "http", "Host": "0.0.0.0", "Port": 9999, "SessionCookie": None,
                  "Dir": str(plugin_dir), "PluginDir": str(plugin_dir)}
    context = {"id": scene_id, "type": "Scene.Update.Post", "input": hook_input, "inputFields": fields}
    return json.dumps({"server_connection": connection, "args": {"hookContext": context}})


def plugin_env(data_dir: Path) -> Dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PLEXSYNC_")}
    env.pop("PYTHONPATH", None)
    # As on a user's machine: Python caches the plugin's bytecode after the first run. With
    # PYTHONDONTWRITEBYTECODE (set on some CI and dev machines) every edited module would be
    # compiled again on every hook, which measures the compiler, not the hook.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PLEXSYNC_DATA_DIR"] = str(data_dir)
    return env


def timed_run(argv: List[str], stdin_text: str, env: Dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, input=stdin_text, capture_output=True, text=True, env=env, cwd=str(cwd))
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or (stdin_text and '"error": null' not in done.stdout):
        raise RuntimeError(f"{argv} failed: {done.stdout.strip()} {done.stderr.strip()[-500:]}")
    return elapsed


def summary(samples: List[float]) -> Tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000


def import_costs(root: Path, plugin_dir: Path) -> Tuple[float, List[Tuple[str, float, float]]]:
    """Import milliseconds of the hook after the interpreter's own start-up, and the modules
    PlexSync.py imports (depth 0) with what they import (depth 1), in import order: in the
    common case, a data dir with a saved connection and a drainer running (a first hook saves
    the connection, the second is measured)."""
    data_dir = root / "importtime"
    data_dir.mkdir()
    lock = DrainerLock(lock_path(data_dir))
    lock.acquire()
    try:
        text = stdin_for(plugin_dir, 9, {"id": "9", "title": "t"}, ["id", "title"])
        timed_run([sys.executable, str(REPO / "PlexSync.py")], text, plugin_env(data_dir), root)
        done = subprocess.run([sys.executable, "-X", "importtime", str(REPO / "PlexSync.py")], input=text,
                              capture_output=True, text=True, env=plugin_env(data_dir), cwd=str(root), check=True)
    finally:
        lock.release()
    rows, after_site = [], False
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        own, cumulative, name = line[len("import time:"):].split("|", 2)
        if not own.strip().isdigit():
            continue  # the header line
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        if name.strip() == "site":  # everything before it is the interpreter's own start-up
            after_site = True
        elif after_site:
            rows.append((name.strip(), int(own), int(cumulative), depth))
    total = sum(self_us for _, self_us, _, _ in rows)
    top = [(("  " * depth) + name, cumulative / 1000, self_us / 1000)
           for name, self_us, cumulative, depth in rows if depth <= 1]
    return total / 1000, top


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures instead")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="plexsync-bench-") as temp:
        root = Path(temp)
        stub_dir = root / "stub-plugin"
        stub_dir.mkdir()
        (stub_dir / "PlexSync.py").write_text(STUB)
        running, starting, ignored = root / "running", root / "starting", root / "ignored"
        for path in (running, starting, ignored):
            path.mkdir()
        held = DrainerLock(lock_path(running))
        held.acquire()
        hook = [sys.executable, str(REPO / "PlexSync.py")]
        samples: Dict[str, List[float]] = {"bare": [], "ignored": [], "running": [], "starting": [], "fresh": []}
        try:
            for run in range(args.runs + 2):  # two warm-up rounds, not counted
                edit = stdin_for(stub_dir, run + 1, {"id": str(run + 1), "title": f"t{run}"}, ["id", "title"])
                figures = {
                    "bare": timed_run([sys.executable, "-c", "pass"], "", os.environ.copy(), root),
                    "ignored": timed_run(hook, stdin_for(stub_dir, 5, {"id": "5", "o_counter": run}, ["id", "o_counter"]),
                                         plugin_env(ignored), root),
                    "running": timed_run(hook, edit, plugin_env(running), root),
                    "starting": timed_run(hook, edit, plugin_env(starting), root),
                    "fresh": timed_run(hook, edit, plugin_env(root / f"fresh-{run}"), root),
                }
                if run >= 2:
                    for name, value in figures.items():
                        samples[name].append(value)
        finally:
            held.release()
        import_ms, top = import_costs(root, stub_dir)
    results = {f"{name}_{stat}_ms": round(value, 2) for name, values in samples.items()
               for stat, value in zip(("median", "p95"), summary(values))}
    results["over_bare_median_ms"] = round(results["running_median_ms"] - results["bare_median_ms"], 2)
    results["running_over_bare_ratio"] = round(results["running_median_ms"] / results["bare_median_ms"], 2)
    results["import_ms"] = round(import_ms, 2)
    results["runs"] = args.runs
    if args.json:
        print(json.dumps(results))
        return 0
    labels = {"bare": "python -c pass (interpreter alone)",
              "ignored": "hook, unsynced fields only (nothing queued)",
              "running": "hook, edit queued, drainer already running",
              "starting": "hook, edit queued, hook starts the drainer",
              "fresh": "hook, fresh data dir (saves connection, starts)"}
    print(f"{args.runs} runs each, wall time of the whole process as Stash waits for it")
    for name, label in labels.items():
        print(f"  {label:<46} median {results[f'{name}_median_ms']:7.2f} ms   p95 {results[f'{name}_p95_ms']:7.2f} ms")
    print(f"  hook over the bare interpreter (median, drainer running): {results['over_bare_median_ms']:.2f} ms "
          f"= {results['running_over_bare_ratio']:.2f}x")
    print(f"imports of the hook path (python -X importtime, after site): {import_ms:.2f} ms in all;")
    print("what PlexSync.py imports (flush left) and what those import (indented, listed before")
    print("the module that imports them, as -X importtime prints them; one run, a little noisy):")
    for name, cumulative, own in top:
        if cumulative >= 0.3:
            print(f"  {name:<44} cumulative {cumulative:6.2f} ms  self {own:5.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
