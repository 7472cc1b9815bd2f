"""The Windows lane: PlexSync under python.org's Windows CPython, run by Wine; the fakes on Linux.

All modules here share ONE Wine prefix (its first start costs ~8 s) through the session fixture
`wine`. Without Wine the lane is skipped with one reason saying how to enable it; under CI
(`CI=true`) a missing Wine fails instead, so the lane cannot silently stop running.
"""
from __future__ import annotations

import os
from typing import Iterator

import pytest

from devkit.wine import Wine, find_wine

IN_CI = os.environ.get("CI", "").lower() == "true"
SKIP_REASON = ("Windows lane: needs Wine (apt-get install -y wine64); `CI=true bash .ci/run` installs it "
               "and the Windows CPython, then runs these tests")
needs_wine = pytest.mark.skipif(find_wine() is None and not IN_CI, reason=SKIP_REASON)


@pytest.fixture(scope="session")
def wine(tmp_path_factory) -> Iterator[Wine]:
    if find_wine() is None:
        pytest.fail(f"CI=true but Wine is missing. {SKIP_REASON}")
    prefix = tmp_path_factory.mktemp("wineprefix")
    session = Wine(prefix)
    session.boot()
    try:
        yield session
    finally:
        session.shutdown()
