"""Benchmark: how long building the Plex path index takes, and how many requests it costs.

Runs the real client (plexapi over loopback HTTP) against the fake Plex with 10,000 and
100,000 movies, and prints build time, requests, the budget ceil(items / page size) + 2
(connect + sections + pages), index rows, peak Python memory during a rebuild, and the cost
of matching with the index warm.
Usage: .venv/bin/python bench/plex_index.py [--sizes 10000 100000] [--page-size 500]
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common.models import Scene, SceneFile  # noqa: E402
from common.settings import settings_from_mapping  # noqa: E402
from devkit.fakes.plex_server import FakePlexServer  # noqa: E402
from plex.target import PlexTarget  # noqa: E402
from sync_queue.db import Database  # noqa: E402


def run(items: int, page_size: int) -> None:
    plex = FakePlexServer()
    plex.start()
    try:
        plex.add_section(1, "Videos", "movie", ["/media/videos"])
        for i in range(items):
            plex.add_movie(1, [f"/media/videos/{i % 97:02d}/clip-{i:07d}.mp4"], f"Clip {i:07d}",
                           size=1_000_000 + i, added_at=1_600_000_000 + i)
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            settings = settings_from_mapping({"plex_url": plex.url, "plex_token": plex.token})
            plex.reset_counts()
            started = time.perf_counter()
            database = Database(data)
            target = PlexTarget.connect(settings, data, database, lambda url: b"", page_size=page_size)
            rows = target.refresh_index(full=True)
            elapsed = time.perf_counter() - started
            requests = sum(plex.counts().values())
            tracemalloc.start()  # a second, traced rebuild: both sides of the loopback, one page at a time
            target.refresh_index(full=True)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            plex.reset_counts()
            probes = 1000
            started = time.perf_counter()
            for i in range(0, items, max(1, items // probes)):
                path = f"/media/videos/{i % 97:02d}/clip-{i:07d}.mp4"
                assert target.match(Scene(id=i, files=(SceneFile(path),))).rating_key is not None
            per_match = (time.perf_counter() - started) / min(items, probes)
            warm = sum(plex.counts().values())
            target.close()
        budget = math.ceil(items / page_size) + 2
        print(f"{items:>7} items  page {page_size}: build {elapsed:6.2f} s, {requests} requests "
              f"(budget {budget}), {rows} rows, peak {peak / 2**20:.1f} MiB; "
              f"warm match {per_match * 1e6:.0f} µs, {warm} requests")
    finally:
        plex.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--page-size", type=int, default=500)
    args = parser.parse_args()
    for size in args.sizes:
        run(size, args.page_size)


if __name__ == "__main__":
    main()
