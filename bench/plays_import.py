"""Benchmark: importing plays from Plex into Stash for a large library.

A world of --scenes scenes (100,000) in the fake Stash and the fake Plex, every matchable scene
known to PlexSync (its sync_state seeded as a finished sync leaves it), and --rows completed
views (50,000) in Plex's history by the owner over --items distinct items, with their view
state. Runs `python PlexSync.py plays import --json` (the real process, plexapi and the
GraphQL client over loopback) twice: the first import, then one with nothing new; then what a
drainer run does with nothing new (plays.service.drainer_catch_up in this process, on a Plex
connection already held, as the drainer holds one for its queue). Prints for each: wall time,
the process's peak RSS (VmHWM, Linux), Plex requests by route, Stash requests by operation, and
the targets: at most one Plex history request per 1,000 rows, at most one Stash request per 50
scenes written, and 1 Plex request / 0 Stash writes when nothing is new (the drainer's run).
Usage: .venv/bin/python bench/plays_import.py [--scenes 100000] [--rows 50000] [--items 25000] [--json]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devkit.fakes.plex_server import FakePlexServer  # noqa: E402
from devkit.fakes.stash_plays import plays_of  # noqa: E402
from devkit.fakes.stash_server import FakeStashServer  # noqa: E402
from devkit.fakes.world import build_world  # noqa: E402
from sync_queue.stores import open_stores  # noqa: E402

HISTORY = "GET /status/sessions/history/all"
EPOCH = 1_700_000_000


def _seed(scenes: int, rows: int, items: int, data_dir: Path) -> tuple:
    world = build_world(scenes, seed=7)
    stash = FakeStashServer(world.stash_data)
    plex = FakePlexServer(token="bench-token")
    keys = world.populate_plex(plex)
    matchable = world.matchable_ids  # a property computed on each use
    matched = sorted((scene, rks[0]) for scene, rks in keys.items() if scene in matchable)
    with open_stores(data_dir) as stores, stores.db.transaction() as connection:
        connection.executemany(
            "INSERT OR REPLACE INTO sync_state (scene_id, section_id, rating_key, metadata_hash, image_source,"
            " poster_hash, art_hash, synced_at) VALUES (?, ?, ?, '', '', '', '', ?)",
            [(scene, plex.library.items[rk].section_key, rk, time.time()) for scene, rk in matched])
    watched = [rk for _, rk in matched[:items]]
    library, history = plex.library, plex.plays.history
    for n in range(rows):  # what `rows` completed views leave: history rows and the owner's view state
        rk = watched[n % len(watched)]
        item, at = library.items[rk], EPOCH + n * 7
        history.append({"id": n + 1, "accountID": 1, "ratingKey": rk, "viewedAt": at,
                        "librarySectionID": item.section_key, "deviceID": "bench", "title": item.title,
                        "type": item.kind})
        item.fields["viewCount"] = str(int(item.fields.get("viewCount", "0")) + 1)
        item.fields["lastViewedAt"] = str(at)
    plex.plays._next_history = rows + 1
    return world, stash, plex, len(matched)


def _run(stash: FakeStashServer, plex: FakePlexServer, data_dir: Path) -> Dict[str, Any]:
    stash.reset_counts()
    plex.reset_counts()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLEXSYNC_")}
    env.update(PLEXSYNC_DATA_DIR=str(data_dir), PLEXSYNC_STASH_URL=stash.url)
    env.pop("PYTHONPATH", None)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, str(ROOT / "PlexSync.py"), "plays", "import", "--json"],
                                stdout=out, stderr=err, env=env, cwd=str(data_dir))
        peak_kib = 0
        while proc.poll() is None:  # the process's own high-water mark (Linux), read until it exits
            peak_kib = max(peak_kib, _high_water_kib(proc.pid))
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"import failed: {err.read().decode()[-2000:]}")
        report = json.loads(out.read())
    plex_counts = plex.counts()
    stash_counts = {k.split(" ", 2)[2]: v for k, v in stash.counts().items() if k.startswith("POST /graphql ")}
    writes = sum(v for k, v in stash_counts.items() if k in ("PlexSyncAddPlays", "PlexSyncSaveResume"))
    return {"seconds": round(elapsed, 2), "peak_rss_mib": round(peak_kib / 1024, 1),
            "plex_requests": sum(plex_counts.values()), "plex_by_route": plex_counts,
            "history_requests": plex_counts.get(HISTORY, 0), "stash_requests": sum(stash_counts.values()),
            "stash_by_operation": stash_counts, "stash_writes": writes,
            "plays_added": report["plays_added"], "scenes_written": report["scenes_written"],
            "history_rows": report["history_rows"]}


def _drainer_catch_up(stash: FakeStashServer, plex: FakePlexServer, data_dir: Path) -> Dict[str, Any]:
    """The drainer's catch-up with nothing new, on a connection opened before counting starts."""
    from entry.wiring import Services
    from plays.service import drainer_catch_up
    from stash.connection import connection_from_url
    from tasks.context import TaskContext

    ctx = TaskContext(data_dir=data_dir, plugin_dir=ROOT, services=Services(data_dir),
                      connection=connection_from_url(stash.url, plugin_dir=str(ROOT)))
    session = ctx.connect(remember=False)
    client = ctx.services.plex_client(session.settings)  # the drainer's connection (one GET /, not counted)
    try:
        stash.reset_counts()
        plex.reset_counts()
        started = time.perf_counter()
        drainer_catch_up(data_dir, ctx.services.database(), session.client, session.settings, client)
        elapsed = time.perf_counter() - started
    finally:
        client.close()
        session.client.close()
        ctx.services.close()
    plex_counts = plex.counts()
    stash_counts = {k.split(" ", 2)[2]: v for k, v in stash.counts().items() if k.startswith("POST /graphql ")}
    return {"seconds": round(elapsed, 2), "plex_requests": sum(plex_counts.values()), "plex_by_route": plex_counts,
            "stash_writes": sum(v for k, v in stash_counts.items() if k in ("PlexSyncAddPlays", "PlexSyncSaveResume")),
            "stash_by_operation": stash_counts}


def _high_water_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=25_000, help="distinct items the views are of")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        built = time.perf_counter()
        world, stash, plex, matched = _seed(args.scenes, args.rows, args.items, data_dir)
        stash.start()
        plex.start()
        stash.set_plugin_config("PlexSync", {"plex_url": plex.url, "plex_token": plex.token,
                                             "path_map": world.path_map, "import_plays": True})
        print(f"seeded {args.scenes:,} scenes ({matched:,} matched), {args.rows:,} history rows in "
              f"{time.perf_counter() - built:.1f} s", file=sys.stderr)
        try:
            first = _run(stash, plex, data_dir)
            again = _run(stash, plex, data_dir)
            drainer = _drainer_catch_up(stash, plex, data_dir)
            in_stash = sum(len(v) for v in plays_of(stash.store).views.values())
            scenes_played = sum(1 for v in plays_of(stash.store).views.values() if v)
        finally:
            plex.stop()
            stash.stop()
    figures = {"scenes": args.scenes, "rows": args.rows, "items": args.items, "first": first, "nothing_new": again,
               "drainer_nothing_new": drainer,
               "plays_in_stash": in_stash, "scenes_played": scenes_played,
               "history_budget": math.ceil(args.rows / 1000), "stash_budget": math.ceil(scenes_played / 50)}
    if args.json:
        print(json.dumps(figures))
        return
    print(f"first import: {first['seconds']} s, peak RSS {first['peak_rss_mib']} MiB, "
          f"{first['plays_added']:,} plays on {scenes_played:,} scenes (Stash now holds {in_stash:,})")
    print(f"  Plex: {first['plex_requests']} requests, {first['history_requests']} of history "
          f"(target <= {figures['history_budget']}): {first['plex_by_route']}")
    print(f"  Stash: {first['stash_requests']} requests, {first['stash_writes']} of them writes (target <= "
          f"{figures['stash_budget']}, one per 50 scenes written): "
          f"{first['stash_by_operation']}")
    print(f"nothing new: {again['seconds']} s; Plex {again['plex_requests']} requests, {again['history_requests']} of "
          f"history (target 1): {again['plex_by_route']}; Stash writes {again['stash_writes']} (target 0), "
          f"{again['stash_requests']} requests: {again['stash_by_operation']}")
    print(f"drainer run, nothing new (connection held): {drainer['seconds']} s; Plex {drainer['plex_requests']} "
          f"requests (target 1): {drainer['plex_by_route']}; Stash writes {drainer['stash_writes']} (target 0): "
          f"{drainer['stash_by_operation']}")


if __name__ == "__main__":
    main()
