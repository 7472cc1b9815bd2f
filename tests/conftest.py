"""Fixtures shared across the test packages.

- `fakes_factory`: fake Stash and fake Plex on loopback with a seeded world, PlexSync configured
  in the fake Stash, and `PlexSync.py` run as Stash runs it (tests/integration/e2e.py);
- `stores`: the queue database's stores opened on a fresh data dir.
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
