"""Fixtures shared across the test packages.

- `fakes_factory`: fake Stash and fake Plex on loopback with a seeded world, PlexSync configured
  in the fake Stash, and `PlexSync.py` run as Stash runs it (tests/integration/e2e.py);
- `stores`: the queue database's stores opened on a fresh data dir.

The terminal summary ends with the Windows lane's own count (tests/windows/, under Wine), so a
CI log shows whether it ran or was skipped.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from sync_queue.stores import Stores, open_stores
from tests.integration.e2e import fakes_factory  # noqa: F401  (re-exported as a fixture)


@pytest.fixture
def stores(tmp_path) -> Iterator[Stores]:
    opened = open_stores(tmp_path)
    yield opened
    opened.close()


def pytest_terminal_summary(terminalreporter) -> None:
    outcomes: dict = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if getattr(report, "nodeid", "").startswith("tests/windows/") and (report.when == "call" or outcome != "passed"):
                outcomes.setdefault(report.nodeid, outcome)
    if outcomes:
        counts = {outcome: list(outcomes.values()).count(outcome) for outcome in ("passed", "failed", "error", "skipped")}
        text = ", ".join(f"{count} {outcome}" for outcome, count in counts.items() if count)
        terminalreporter.write_line(f"Windows lane (Windows CPython under Wine): {len(outcomes)} tests: {text}")
