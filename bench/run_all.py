"""Runs every benchmark at a modest size and prints one Markdown table of the figures.

    .venv/bin/python bench/run_all.py [--only hook_latency sync_throughput ...]

Each benchmark runs as its own process (as you would run it by hand, the command is in the
table), so one cannot warm or load the next. The table is what README.md carries under
"Performance"; the figures depend on the machine, so the header says which one. Benchmarks print
figures only; no test asserts on time.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

REPO = Path(__file__).resolve().parent.parent
Rows = List[Tuple[str, str]]
FIGURES: Dict[str, dict] = {}  # each sync run's JSON, for the rows that compare runs


def _hook_latency(out: str) -> Rows:
    f = json.loads(out.strip().splitlines()[-1])
    pair = lambda name: f"{f[name + '_median_ms']:.1f} / {f[name + '_p95_ms']:.1f} ms"  # noqa: E731
    return [
        ("Interpreter alone, `python -c pass` (median / p95)", pair("bare")),
        ("Hook process, unsynced fields only: nothing queued", pair("ignored")),
        ("Hook process, edit queued, drainer running", pair("running")),
        ("Hook process, edit queued, hook starts the drainer", pair("starting")),
        ("Hook process, fresh data dir: saves the connection, starts the drainer", pair("fresh")),
        ("Hook process over the bare interpreter (median, drainer running; target ≤ 2.5×)",
         f"{f['over_bare_median_ms']:.1f} ms = {f['running_over_bare_ratio']:.2f}×"),
        ("Hook imports after interpreter start-up (-X importtime)", f"{f['import_ms']:.1f} ms"),
    ]


def _per_route(run: dict) -> str:
    per = run["plex_per_written_by_route"]
    return "; ".join(f"{key} {n:.2f}" for key, n in sorted(per.items(), key=lambda item: -item[1]) if n >= 0.005)


def _looked_again(run: dict) -> str:
    """What the Plex requests of an unchanged sync were for: the scenes Plex does not have yet,
    looked for again among its newest items (an unchanged scene itself costs none)."""
    if not run["plex_requests"]:
        return ""
    routes = ", ".join(f"{n} {key}" for key, n in sorted(run["plex_by_route"].items()))
    return f" ({routes}: looking again for the {run['waiting']:,} scenes not in Plex yet)"


def _sync(name: str) -> Callable[[str], Rows]:
    def parse(out: str) -> Rows:
        f = json.loads(out.strip().splitlines()[-1])
        FIGURES[name] = f
        first, again = f["first"], f["unchanged"]
        n, c = f["scenes"], f["plex_concurrency"]
        rss = "n/a" if f["drainer_peak_rss_mib"] is None else f"{f['drainer_peak_rss_mib']:.0f} MiB"
        images = "" if f["images"] else ", no images"
        if f["plex_latency_ms"]:
            return [(f"Full sync, {n:,} scenes, Plex {f['plex_latency_ms']:g} ms per answer, plex_concurrency {c}",
                     f"{first['seconds']:.1f} s = {first['scenes_per_second']:,.0f} scenes/s "
                     f"(at most {first['plex_most_in_flight']} Plex requests in flight)")]
        rows = [
            (f"Full sync, {n:,} scenes{images}, queue to idle (incl. 2 s settle, drainer start, index build)",
             f"{first['seconds']:.1f} s = {first['scenes_per_second']:,.0f} scenes/s"),
            (f"Plex requests per scene written{images} ({first['written']:,} written; target ≤ "
             f"{'1.2' if not f['images'] else '3.1'})", f"{first['plex_per_written'] or 0:.2f}: {_per_route(first)}"),
            (f"Second full sync, nothing changed, {n:,} scenes (target ≤ 10% of the first, 0 Plex requests)",
             f"{again['seconds']:.1f} s = {100 * again['seconds'] / first['seconds']:.0f}% of the first; "
             f"{again['plex_requests']} Plex{_looked_again(again)}, {again['stash_requests']} Stash requests"),
            (f"Drainer peak memory, {n:,} scenes", rss),
        ]
        if n >= 100_000:
            tables = f["table_bytes"]
            index = tables.get("plex_items", 0) + tables.get("plex_written", 0) + tables.get("plex_meta", 0)
            rows.append((f"On disk after {n:,} scenes: Plex index / sync state tables",
                         f"{index / 2**20:.1f} MiB / {tables.get('sync_state', 0) / 2**20:.1f} MiB"))
        return rows
    return parse


def _derived() -> Rows:
    rows = []
    one, default = FIGURES.get("sync_latency_c1"), FIGURES.get("sync_latency_default")
    if one and default:
        ratio = one["first"]["seconds"] / default["first"]["seconds"]
        rows.append((f"Speed-up of plex_concurrency {default['plex_concurrency']} (default) over 1, 2,000 scenes at "
                     "20 ms (target ≥ 3×)", f"{ratio:.2f}×"))
    small, big = FIGURES.get("sync_10k"), FIGURES.get("sync_100k")
    if small and big and small["drainer_peak_rss_mib"] and big["drainer_peak_rss_mib"]:
        rows.append(("Drainer peak memory, 100k over 10k scenes (target ≤ 2×)",
                     f"{big['drainer_peak_rss_mib'] / small['drainer_peak_rss_mib']:.2f}×"))
    return rows


def _queue_enqueue(out: str) -> Rows:
    rows = []
    wanted = {"enqueue(), a drainer connection open": "Fast enqueue, one row, drainer connected (median / p95)",
              "enqueue(), no other connection open": "Fast enqueue, one row, no other connection (median / p95)",
              "drainer_running() probe": "Drainer lock probe (median / p95)"}
    for line in out.splitlines():
        found = re.match(r"^(.*?)\s+median\s+([\d.]+) ms\s+p95\s+([\d.]+) ms", line)
        if found and found.group(1).strip() in wanted:
            rows.append((wanted[found.group(1).strip()], f"{float(found.group(2)):.2f} / {float(found.group(3)):.2f} ms"))
    return rows


def _queue_housekeeping(out: str) -> Rows:
    rows = []
    drained = re.search(r"drained ([\d,]+) jobs in ([\d.]+) s: ([\d,]+) jobs/s", out)
    if drained:
        rows.append((f"Queue: {drained.group(1)} single-scene jobs through the worker (no-op processor)",
                     f"{drained.group(3)} jobs/s"))
    sizes = re.findall(r"after:\s+(\d+) jobs\s+db\s+([\d,]+) B\s+wal\s+([\d,]+) B", out)
    if sizes:
        jobs, db, wal = sizes[-1]
        backlog = int(sizes[0][0])
        rows.append((f"Queue database after {int(jobs):,} jobs, {backlog:,} queued at a time "
                     "(the file holds the backlog, not the history)", f"{db} B, WAL {wal} B"))
    return rows


def _plex_index(out: str) -> Rows:
    rows = []
    for found in re.finditer(r"(\d+) items\s+page (\d+): build\s+([\d.]+) s, (\d+) requests \(budget (\d+)\), "
                             r"(\d+) rows, peak ([\d.]+) MiB; warm match (\d+) µs, (\d+) requests", out):
        items, _, build, requests, budget, _, peak, match, warm = found.groups()
        rows.append((f"Plex path index build, {int(items):,} items", f"{build} s, {requests} requests, peak {peak} MiB"))
        rows.append((f"Match a scene with the index warm ({int(items):,} items)", f"{match} µs, {warm} requests"))
    return rows


def _fakes_startup(out: str) -> Rows:
    found = re.search(r"scenes=(\d+) startup_seconds=([\d.]+) rss_mib=(\S+)", out)
    if not found:
        return []
    return [(f"Fake Stash + Plex start-up, {int(found.group(1)):,} scenes", f"{found.group(2)} s, {found.group(3)} MiB")]


SYNC = "bench/sync_throughput.py"
BENCHES: Dict[str, Tuple[List[str], Callable[[str], Rows]]] = {
    "sync_latency_c1": ([SYNC, "--scenes", "2000", "--plex-latency-ms", "20", "--plex-concurrency", "1", "--json"],
                        _sync("sync_latency_c1")),
    "sync_latency_c2": ([SYNC, "--scenes", "2000", "--plex-latency-ms", "20", "--plex-concurrency", "2", "--json"],
                        _sync("sync_latency_c2")),
    "sync_latency_default": ([SYNC, "--scenes", "2000", "--plex-latency-ms", "20", "--json"],
                             _sync("sync_latency_default")),
    "sync_latency_c8": ([SYNC, "--scenes", "2000", "--plex-latency-ms", "20", "--plex-concurrency", "8", "--json"],
                        _sync("sync_latency_c8")),
    "sync_throughput": ([SYNC, "--scenes", "2000", "--json"], _sync("sync_throughput")),
    "sync_no_images": ([SYNC, "--scenes", "2000", "--no-images", "--json"], _sync("sync_no_images")),
    "sync_10k": ([SYNC, "--scenes", "10000", "--json"], _sync("sync_10k")),
    "sync_100k": ([SYNC, "--scenes", "100000", "--timeout", "5400", "--json"], _sync("sync_100k")),
    "queue_enqueue": (["bench/queue_enqueue.py", "--calls", "200", "--processes", "20"], _queue_enqueue),
    "queue_housekeeping": (["bench/queue_housekeeping.py", "--jobs", "20000", "--round", "10000"], _queue_housekeeping),
    "plex_index": (["bench/plex_index.py", "--sizes", "10000"], _plex_index),
    "fakes_startup": (["bench/fakes_startup.py", "--scenes", "10000"], _fakes_startup),
    "hook_latency": (["bench/hook_latency.py", "--runs", "30", "--json"], _hook_latency),
}


def run(name: str) -> Tuple[Rows, str, float]:
    argv, parse = BENCHES[name]
    command = "python " + " ".join(argv)
    began = time.perf_counter()
    done = subprocess.run([sys.executable, *argv], cwd=str(REPO), capture_output=True, text=True, timeout=12000)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [""]
        return [(f"{name}", f"failed (exit {done.returncode}): {tail[0][:80]}")], command, seconds
    try:
        rows = parse(done.stdout)
    except (ValueError, KeyError, IndexError) as exc:
        rows = [(name, f"output not understood ({type(exc).__name__})")]
    return rows or [(name, "no figures found in its output")], command, seconds


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHES), help="run just these benchmarks")
    args = parser.parse_args(argv)
    names = args.only or list(BENCHES)
    table, failed = [], False
    for name in names:
        print(f"running {name}...", file=sys.stderr, flush=True)
        rows, command, seconds = run(name)
        failed |= any(value.startswith("failed") for _, value in rows)
        table.extend((figure, value, command) for figure, value in rows)
        print(f"  done in {seconds:.0f} s", file=sys.stderr, flush=True)
    table.extend((figure, value, "derived from the runs above") for figure, value in _derived())
    cpu = platform.processor() or platform.machine()
    print(f"Measured {time.strftime('%Y-%m-%d')} on {platform.system()} {platform.release()}, {cpu}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}; fakes on loopback, no added latency "
          "unless a figure says so.")
    print()
    print("| Figure | Value | Command |")
    print("|---|---|---|")
    for figure, value, command in table:
        print(f"| {figure} | {value} | {command if command.startswith('derived') else f'`{command}`'} |")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
