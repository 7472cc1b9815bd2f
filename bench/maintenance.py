"""A full-length Plex database migration during a full sync: 503 "Maintenance" on every path.

    .venv/bin/python bench/maintenance.py [--scenes 2000] [--maintenance-seconds 600]

After a Plex update the server migrates its database for minutes to hours and answers every
request, `/identity` included, with 503 and its "Maintenance" page (REAL-SERVERS.md P10). The
real drainer (`PlexSync.py worker`, detached, real timings) syncs a seeded library from the fake
Stash into the fake Plex (3 ms latency); once 100 scenes are written the fake Plex goes into
maintenance for `--maintenance-seconds`. Printed: requests that reached Plex during it (the fake
counts them exactly, by route), probes logged, what `status` said while it lasted, dead letters,
and whether every matchable scene says in Plex what it says in Stash afterwards.
tests/integration/test_transport_e2e.py plays the same with a shrunk clock.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.outages import after_the_fault, print_figures, refused_by_route, settled, sync_under_way  # noqa: E402
from devkit.demo.stage import Stage  # noqa: E402
from devkit.processes import wait_until  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def status_line(stage: Stage) -> str:
    """The line of `PlexSync.py status` about Plex, as a user would read it."""
    env = dict(stage.env(), PLEXSYNC_STASH_URL=stage.stash.url)
    done = subprocess.run([sys.executable, str(REPO / "PlexSync.py"), "status"], capture_output=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=120)
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    return next((line.strip() for line in lines if "Plex" in line and ("upgrading" in line or "answer" in line)), "")


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--maintenance-seconds", type=float, default=600.0)
    parser.add_argument("--timeout", type=float, default=7200.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    stage = Stage(args.scenes, args.seed, plex_latency_ms=3.0, settings={"read_timeout": 3, "connect_timeout": 3})
    figures: Dict[str, object] = {"scenes": args.scenes, "maintenance_seconds": args.maintenance_seconds}
    try:
        began = sync_under_way(stage, "bench maintenance", args.timeout)
        started = time.monotonic()
        stage.plex.maintenance(args.maintenance_seconds)
        wait_until(lambda: time.monotonic() - started >= args.maintenance_seconds / 2, args.maintenance_seconds,
                   "half of the maintenance", interval=0.5)
        figures["status_during"] = status_line(stage)
        wait_until(lambda: not stage.plex.in_maintenance, args.maintenance_seconds + 60, "the maintenance to end",
                   interval=0.5)
        by_route = refused_by_route(stage, 503)
        figures["requests_during_maintenance"] = sum(by_route.values())
        figures["requests_during_maintenance_by_route"] = by_route
        figures["synced_at_maintenance_end"] = len(stage.synced_ids())
        wait_until(lambda: settled(stage), args.timeout, "every matchable scene synced", interval=0.5)
        figures["seconds_after_maintenance_to_all_synced"] = round(
            time.monotonic() - started - args.maintenance_seconds, 1)
        figures["seconds_total"] = round(time.monotonic() - began, 1)
        figures.update(after_the_fault(stage))
    finally:
        stage.close()
    print_figures(figures, args.json,
                  f"{args.scenes:,}-scene sync; Plex answering 503 Maintenance on every path for {args.maintenance_seconds:g} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
