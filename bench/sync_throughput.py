"""How fast a full sync goes through the real queue and drainer, and what it asks of Plex and Stash.

    .venv/bin/python bench/sync_throughput.py [--scenes 2000] [--plex-latency-ms 0] [--plex-concurrency 4]
                                              [--no-images] [--json]

A fake Stash and a fake Plex (in this process, on loopback) over a seeded library; every scene id
is queued as a full-sync task queues them (`JobQueue.put_batch`), and the real drainer
(`PlexSync.py worker`, detached) syncs them. Run 1 writes every scene Plex has; run 2 queues the
same, unchanged library again, which should cost Stash reads and no Plex writes. Wall time runs
from the enqueue until nothing is due or in progress; it includes the drainer's 2 s settle delay
(and, in run 1, its start-up and the Plex index build). `--plex-latency-ms` adds that much to
every Plex answer, as a Plex on another machine would; the fake sleeps outside its locks, so the
latency of concurrent requests overlaps as a real server's does. `--plex-concurrency` is the
`plex_concurrency` setting (scenes written at once); `--no-images` turns poster and art off.
Requests per written scene are given by route; the table sizes on disk (Plex path index, sync
state, queue) come from SQLite's dbstat after both runs.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.settings import Settings  # noqa: E402
from devkit.demo.stage import Stage  # noqa: E402
from devkit.processes import wait_until  # noqa: E402


def routes(counts: Dict[str, int]) -> Dict[str, int]:
    """Requests by route; the fake Stash also counts each GraphQL operation, kept apart here."""
    return {key: n for key, n in counts.items() if key.startswith(("GET ", "POST ", "PUT ", "DELETE "))}


def stash_total(counts: Dict[str, int]) -> int:
    return sum(n for key, n in routes(counts).items() if not key.startswith("POST /graphql "))


def peak_rss_mib(pid: Optional[int]) -> Optional[float]:
    """The drainer's peak resident memory (Linux /proc), None elsewhere."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def written_since(data_dir: Path, since: float) -> int:
    """Scenes whose Plex item was written (their sync record renewed) after `since`."""
    connection = sqlite3.connect(str(data_dir / "queue.db"), timeout=30)
    try:
        (count,), = connection.execute("SELECT COUNT(*) FROM sync_state WHERE synced_at >= ?", (since,)).fetchall()
    finally:
        connection.close()
    return int(count)


def sync_window(data_dir: Path, since: float) -> Optional[float]:
    """Seconds between the first and the last scene written to Plex after `since`."""
    connection = sqlite3.connect(str(data_dir / "queue.db"), timeout=30)
    try:
        first, last = connection.execute("SELECT MIN(synced_at), MAX(synced_at) FROM sync_state WHERE synced_at >= ?",
                                         (since,)).fetchone()
    finally:
        connection.close()
    return None if first is None else last - first


def table_bytes(data_dir: Path) -> Dict[str, int]:
    """Bytes on disk per table of the queue database (indexes counted with their table)."""
    connection = sqlite3.connect(str(data_dir / "queue.db"), timeout=30)
    try:
        tables = {name: parent for name, parent in
                  connection.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')")}
        sizes: Dict[str, int] = {}
        for name, size in connection.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = tables.get(name, name)
            sizes[table] = sizes.get(table, 0) + int(size)
    except sqlite3.Error:
        return {}
    finally:
        connection.close()
    return sizes


def run_once(stage: Stage, timeout: float) -> dict:
    stage.plex.reset_counts()
    stage.stash.reset_counts()
    began_wall = time.time()
    began = time.perf_counter()
    rows = stage.enqueue_all(reason="bench full sync")
    if not stage.drainer_running():
        stage.start_drainer()
    wait_until(stage.settled, timeout, "the sync to finish", interval=0.05)
    seconds = time.perf_counter() - began
    plex, stash = routes(stage.plex.counts()), stage.stash.counts()
    most_in_flight = stage.plex.most_in_flight
    scenes = len(stage.world.scene_ids)
    window = sync_window(stage.data_dir, began_wall)
    written = written_since(stage.data_dir, began_wall)
    return {
        "scenes": scenes, "job_rows": rows, "seconds": round(seconds, 3),
        "scenes_per_second": round(scenes / seconds, 1),
        "write_window_seconds": None if window is None else round(window, 3),
        "plex_requests": sum(plex.values()), "plex_by_route": plex, "written": written,
        "plex_per_written": round(sum(plex.values()) / written, 3) if written else None,
        "plex_per_written_by_route": {key: round(n / written, 3) for key, n in plex.items()} if written else {},
        "plex_most_in_flight": most_in_flight, "stash_requests": stash_total(stash), "stash_by_route": routes(stash),
        "synced_total": len(stage.synced_ids()), "waiting": len(stage.waiting_ids()),
        "dead_letters": stage.dead_letter_count(),
    }


def show(label: str, run: dict) -> None:
    print(f"{label}: {run['scenes']:,} scenes ({run['job_rows']} job rows) in {run['seconds']:.2f} s = "
          f"{run['scenes_per_second']:,.0f} scenes/s")
    if run["write_window_seconds"]:
        print(f"  Plex writes went on for {run['write_window_seconds']:.2f} s (first to last scene written)")
    print(f"  after it: {run['synced_total']:,} scenes in sync, {run['waiting']} waiting for a retry "
          f"(not in Plex yet), {run['dead_letters']} dead letters")
    per = run["plex_per_written_by_route"]
    print(f"  Plex requests {run['plex_requests']:,} for {run['written']:,} scenes written"
          + (f" = {run['plex_per_written']:.2f} per scene written:" if run["written"] else ":"))
    for key, n in sorted(run["plex_by_route"].items(), key=lambda item: -item[1]):
        print(f"    {n:>7,}  {key}" + (f"  ({per[key]:.3f} per scene written)" if key in per else ""))
    print(f"  Stash requests {run['stash_requests']:,}:")
    for key, n in sorted(run["stash_by_route"].items(), key=lambda item: -item[1]):
        if key != "POST /graphql":
            print(f"    {n:>7,}  {key}")


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=2000, help="library size (try 10000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plex-latency-ms", type=float, default=0.0, help="added to every Plex answer")
    parser.add_argument("--plex-concurrency", type=int, default=None,
                        help="the plex_concurrency setting (default: the setting's default)")
    parser.add_argument("--no-images", action="store_true", help="sync_poster and sync_art off")
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up after this many seconds per run")
    parser.add_argument("--json", action="store_true", help="print one JSON object of figures instead")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings: Dict[str, object] = {}
    if args.plex_concurrency is not None:
        settings["plex_concurrency"] = args.plex_concurrency
    if args.no_images:
        settings.update(sync_poster=False, sync_art=False)
    concurrency = args.plex_concurrency if args.plex_concurrency is not None else Settings().plex_concurrency
    stage = Stage(args.scenes, args.seed, plex_latency_ms=args.plex_latency_ms, settings=settings)
    try:
        stage.start()
        stage.save_connection()
        setup = time.perf_counter() - started
        first = run_once(stage, args.timeout)
        second = run_once(stage, args.timeout)
        rss = peak_rss_mib(stage.drainer_pid())
        tables = table_bytes(stage.data_dir)
    finally:
        stage.close()
    result = {"scenes": args.scenes, "plex_latency_ms": args.plex_latency_ms, "plex_concurrency": concurrency,
              "images": not args.no_images, "table_bytes": tables,
              "setup_seconds": round(setup, 2),
              "first": first, "unchanged": second, "drainer_peak_rss_mib": None if rss is None else round(rss, 1)}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"full sync of {args.scenes:,} scenes, Plex latency {args.plex_latency_ms:g} ms, "
          f"plex_concurrency {concurrency}{', no images' if args.no_images else ''} "
          f"(fakes and library ready in {setup:.1f} s)")
    show("run 1 (every scene new to Plex)", first)
    show("run 2 (nothing changed)", second)
    if rss is not None:
        print(f"drainer peak memory {rss:.0f} MiB")
    print(f"most Plex requests in flight at once (run 1): {first['plex_most_in_flight']}")
    for name, size in sorted(tables.items(), key=lambda item: -item[1]):
        print(f"  table {name}: {size:,} B on disk")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
