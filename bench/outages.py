"""A full-length Plex outage during a full sync: what reaches Plex while it is down, and what it costs.

    .venv/bin/python bench/outages.py [--scenes 2000] [--outage-seconds 180] [--mode fail|reset|refuse]

The real drainer (`PlexSync.py worker`, detached, real timings) syncs a seeded library from the
fake Stash into the fake Plex (3 ms latency, read_timeout 3 s). Once 100 scenes are written,
every request to Plex is answered 502 for `--outage-seconds` (or reset, or refused), then 40
item reads are answered 500 (GET /library/metadata/N; the probe /identity keeps answering, as a
Plex whose database is busy does), then 3 requests hang past the read timeout, then Plex is
healthy. Printed: requests that reached Plex during the outage (the fake counts them exactly),
the probes the drainer logged, dead letters, and whether every matchable scene says in Plex
what it says in Stash. tests/integration/test_outages.py plays the same with a shrunk clock.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devkit.demo.stage import Stage  # noqa: E402
from devkit.processes import wait_until  # noqa: E402

ITEM_READ = "/library/metadata/{ids}"


def settled(stage: Stage) -> bool:
    """Every matchable scene synced; only scenes Plex has not scanned still wait."""
    from sync_queue.stores import open_stores

    if not stage.world.matchable_ids <= set(stage.synced_ids()):
        return False
    with open_stores(stage.data_dir) as stores:
        counts = stores.jobs.counts()
        waiting = stage.world.missing_ids | stage.world.pending_ids
        return (counts.pending == 0 and counts.in_progress == 0
                and all(set(job.scene_ids) <= waiting for job in stores.jobs.scheduled_jobs()))


def plex_matches_stash(stage: Stage) -> int:
    """Matchable scenes whose Plex title differs from Stash's (0 = all equal)."""
    from plex.fields import clean_line, file_stem

    rows = {row.id: row for row in stage.world.stash_data.scenes}
    wrong = 0
    for scene_id in stage.world.matchable_ids:
        row = rows[scene_id]
        item = stage.plex.item(stage.rating_keys[scene_id][0])
        if item["title"] != (clean_line(row.title) or clean_line(file_stem(row.files[0].path))):
            wrong += 1
    return wrong


def sync_under_way(stage: Stage, reason: str, timeout: float) -> float:
    """Start `stage` and a full sync on it, wait until 100 scenes are written (where a fault
    begins), and clear the fake Plex's counts from there. Returns when the sync began (monotonic)."""
    stage.start()
    stage.save_connection()
    began = time.monotonic()
    stage.enqueue_all(reason=reason)
    stage.start_drainer()
    wait_until(lambda: len(stage.synced_ids()) >= 100, timeout, "100 scenes written")
    stage.plex.reset_counts()
    return began


def print_figures(figures: dict, as_json: bool, title: str) -> None:
    """A fault bench's figures: one JSON line, or the title and a line per figure."""
    if as_json:
        print(json.dumps(figures))
        return
    print(title)
    for key, value in figures.items():
        print(f"  {key}: {value}")


def refused_by_route(stage: Stage, status: int) -> Dict[str, int]:
    """The requests Plex answered `status` (the fault's), by route: what reached it during the fault."""
    by_route: Dict[str, int] = {}
    for entry in stage.plex.request_log():
        if entry["status"] == status:
            by_route[entry["route"]] = by_route.get(entry["route"], 0) + 1
    return by_route


def after_the_fault(stage: Stage) -> Dict[str, int]:
    """What a fault left once the sync settled: probes and breaker openings in the drainer's log,
    dead letters (and those not explained by ambiguous matches), scenes Plex still has wrong."""
    log = (stage.data_dir / "drainer.log").read_text(encoding="utf-8", errors="replace")
    letters = stage.dead_letters(limit=10_000)
    ambiguous = stage.world.ambiguous_ids
    return {
        "probes_logged_max": max((int(n) for n in re.findall(r"answering since \S+ \((\d+) probes?\)", log)),
                                 default=0),
        "breaker_openings": log.count("probing with backoff"),
        "dead_letters": len(letters),
        "dead_letters_not_ambiguous": sum(1 for d in letters if d.scene_id not in ambiguous),
        "ambiguous_scenes": len(ambiguous),
        "matchable": len(stage.world.matchable_ids),
        "matchable_differing_from_stash": plex_matches_stash(stage),
    }


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--outage-seconds", type=float, default=180.0)
    parser.add_argument("--mode", choices=("fail", "reset", "refuse"), default="fail")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    stage = Stage(args.scenes, args.seed, plex_latency_ms=3.0, settings={"read_timeout": 3, "connect_timeout": 3})
    figures: dict = {"scenes": args.scenes, "mode": args.mode, "outage_seconds": args.outage_seconds}
    try:
        began = sync_under_way(stage, "bench outage", args.timeout)
        outage_began = time.monotonic()
        stage.plex.outage(args.outage_seconds, mode=args.mode, status=502)
        stage.plex.fail_next(40, status=500, route=ITEM_READ)
        wait_until(lambda: time.monotonic() - outage_began >= args.outage_seconds, args.outage_seconds + 60,
                   "the outage to end", interval=0.5)
        figures["requests_during_outage"] = stage.plex.count("outage")
        figures["requests_during_outage_by_route"] = refused_by_route(stage, 502) if args.mode == "fail" else {}
        figures["synced_at_outage_end"] = len(stage.synced_ids())
        wait_until(lambda: sum(1 for e in stage.plex.request_log() if e["status"] == 500) >= 40, args.timeout,
                   "the 40 answers of 500", interval=0.2)
        figures["seconds_to_get_through_the_500s"] = round(time.monotonic() - outage_began - args.outage_seconds, 1)
        stage.plex.hang_next(3, seconds=10.0, apply=False)
        wait_until(lambda: settled(stage), args.timeout, "every matchable scene synced", interval=0.5)
        figures["seconds_total"] = round(time.monotonic() - began, 1)
        figures["seconds_after_outage_to_all_synced"] = round(time.monotonic() - outage_began - args.outage_seconds, 1)
        figures.update(after_the_fault(stage))
    finally:
        stage.close()
    print_figures(figures, args.json, f"{args.scenes:,}-scene sync; Plex {args.mode} for {args.outage_seconds:g} s, "
                  "then 40 item reads answered 500, then 3 requests hung past the 3 s read timeout")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
