"""What the hook path costs a user's save: fast enqueue in-process, and as a whole process.

    .venv/bin/python bench/queue_enqueue.py [--calls 300] [--processes 30]

Prints median and 95th-percentile milliseconds for: one `enqueue()` call with no other
connection open (the hook's close then checkpoints the WAL), one call while a drainer holds a
connection (the usual case), a `drainer_running()` probe, and a whole hook-like process
(`python -c "import ...; enqueue(...); drainer_running(...)"`) next to an empty interpreter.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sync_queue.db import Database  # noqa: E402
from sync_queue.rows import enqueue  # noqa: E402
from worker.launcher import drainer_running  # noqa: E402


def report(label: str, samples: list) -> None:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(f"{label:<52} median {statistics.median(ordered) * 1000:7.2f} ms   p95 {p95 * 1000:7.2f} ms")


def timed(action, count: int) -> list:
    samples = []
    for index in range(count):
        began = time.perf_counter()
        action(index)
        samples.append(time.perf_counter() - began)
    return samples


def main(argv: list) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--processes", type=int, default=30)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as temp:
        alone, shared = Path(temp) / "alone", Path(temp) / "shared"
        enqueue(alone, [1], "update", "warm up")
        report("enqueue(), no other connection open", timed(lambda i: enqueue(alone, [i + 1], "update", "bench"), args.calls))
        with Database(shared):
            enqueue(shared, [1], "update", "warm up")
            report("enqueue(), a drainer connection open", timed(lambda i: enqueue(shared, [i + 1], "update", "bench"), args.calls))
        report("drainer_running() probe", timed(lambda i: drainer_running(shared), args.calls))
        code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); from sync_queue.rows import enqueue;"
                f" from worker.launcher import drainer_running; enqueue({str(shared)!r}, [7], 'update', 'bench');"
                f" drainer_running({str(shared)!r})")
        run = [sys.executable, "-c", code]
        empty = [sys.executable, "-c", "pass"]
        report("python -c pass (interpreter alone)", timed(lambda i: subprocess.run(empty, check=True), args.processes))
        report("python -c <import + enqueue + probe> (hook-like)", timed(lambda i: subprocess.run(run, check=True), args.processes))
        imports = subprocess.run([sys.executable, "-X", "importtime", "-c", "import sync_queue.rows, worker.launcher"],
                                 cwd=str(REPO), capture_output=True, text=True, check=True).stderr.splitlines()
        ours = [line for line in imports if line.rstrip().endswith(("sync_queue.rows", "worker.launcher"))]
        for line in ours:
            micros = int(line.split("|")[1])
            print(f"import {line.rsplit('|', 1)[-1].strip():<45} cumulative {micros / 1000:7.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
