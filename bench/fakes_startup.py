"""Startup time and resident memory of `python -m devkit.fakes serve` for a big world.

Run from the repository root: `python bench/fakes_startup.py [--scenes 100000]`. Prints
figures only; the tests assert nothing about time beyond a generous deadline.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devkit.fakes.__main__ import launch, rss_bytes, terminate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    proc, _, seconds = launch("--scenes", str(args.scenes), "--seed", str(args.seed), deadline=300.0)
    try:
        rss = rss_bytes(proc.pid)
        print(f"scenes={args.scenes} startup_seconds={seconds:.2f} "
              f"rss_mib={'n/a' if rss is None else f'{rss / 2**20:.0f}'}")
    finally:
        terminate(proc)


if __name__ == "__main__":
    main()
