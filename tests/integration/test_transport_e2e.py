"""The transport as it really is, played against the real PlexSync.py and its drainer.

- nginx in front of Plex refuses request lines over 8 KiB with 414 (REAL-SERVERS.md P7): a
  scene with a long Japanese title and 3,000 characters of Japanese details (9 bytes each once
  encoded) still reaches Plex, every field of it, with one warning and no dead letter; behind a
  proxy stricter still, the refused edit is split further and only what cannot fit stays out.
- After an update Plex migrates its database and answers 503 "Maintenance" on every path,
  `/identity` too, for minutes to hours (P10): nothing is charged, only probes reach Plex, and
  `status` names it. bench/maintenance.py plays it at full length on 2,000 scenes.
"""
from __future__ import annotations

import time

import pytest

from tests.integration.e2e import Fakes, wait_until
from tests.integration.test_outages import (
    MINUTE,
    assert_nothing_charged_and_all_synced,
    drainer_log,
    start_sync,
    task_error,
)

JAPANESE = "東京の夜景はとても美しいです。"  # 15 characters, 45 bytes of UTF-8, 135 once percent-encoded
MAINTENANCE = "Plex is upgrading its database"


def _movie(fakes: Fakes) -> int:
    world, store = fakes.world, fakes.stash.store
    return next(i for i in sorted(world.matchable_ids - world.episode_ids - world.multi_file_ids)
                if store.scene(i).tag_ids and store.scene(i).performer_ids and store.scene(i).studio_id)


def _warnings_naming(fakes: Fakes, scene_id: int) -> list:
    return [line for line in drainer_log(fakes).splitlines() if " WARNING " in line and f"scene {scene_id}:" in line]


def _synced_long_scene(fakes: Fakes):
    fakes.configure(label_tags=",".join(tag.name for tag in fakes.stash.store.tags.values()))
    run = fakes.run_task("sync_all")
    assert run.returncode == 0 and run.error is None, run.stderr[-2000:]
    fakes.wait_drained()
    scene_id = _movie(fakes)
    title = (JAPANESE * 17)[:249]
    details = (JAPANESE * 200)[:3000]
    fakes.edit_in_stash(scene_id, title=title, details=details, rating100=60)
    rating_key = fakes.rating_keys[scene_id][0]
    wait_until(lambda: fakes.plex.item(rating_key)["title"] == title, timeout=60, message="the long title in Plex")
    fakes.wait_drained()
    return scene_id, fakes.plex.item(rating_key), details


def test_3000_characters_of_japanese_details_sync_through_an_8_kib_request_line_limit(fakes_factory):
    fakes = fakes_factory(scenes=40, seed=4)
    assert fakes.plex.max_request_line == 8192  # nginx's default, as in front of most Plex servers
    scene_id, item, details = _synced_long_scene(fakes)
    row, store = fakes.stash.store.scene(scene_id), fakes.stash.store

    assert item["summary"].endswith("…") and details.startswith(item["summary"][:-1])
    assert len(item["summary"]) > 500  # as much as one request carries, not a token
    assert item["userRating"] == 6.0 and item["studio"] == store.studios[row.studio_id].name
    assert sorted(item["genres"]) == sorted({store.tags[t].name for t in row.tag_ids})
    assert sorted(item["labels"]) == sorted({store.tags[t].name for t in row.tag_ids})
    assert sorted(name for name, _ in item["actors"]) == sorted({store.performers[p].name for p in row.performer_ids})
    refused = [e for e in fakes.plex.request_log() if e["status"] in (400, 414)]
    assert refused == []  # every request line fit
    assert {letter.scene_id for letter in fakes.dead_letters()} <= set(fakes.world.ambiguous_ids)
    warnings = _warnings_naming(fakes, scene_id)
    assert len(warnings) == 1 and "details" in warnings[0] and "shortened" in warnings[0], warnings


def test_behind_a_stricter_proxy_a_refused_edit_is_split_further_and_never_dead_lettered(fakes_factory):
    fakes = fakes_factory(scenes=40, seed=4)
    fakes.plex.max_request_line = 4096  # a proxy stricter than nginx's default: the details cannot fit
    scene_id, item, _ = _synced_long_scene(fakes)
    row, store = fakes.stash.store.scene(scene_id), fakes.stash.store

    assert any(e["status"] == 414 for e in fakes.plex.request_log())
    assert item["userRating"] == 6.0 and sorted(item["genres"]) == sorted({store.tags[t].name for t in row.tag_ids})
    assert scene_id not in {letter.scene_id for letter in fakes.dead_letters()}
    assert any("refused the summary" in line and "too long" in line for line in _warnings_naming(fakes, scene_id))


@pytest.mark.timeout(400)
def test_ten_minutes_of_maintenance_cost_nothing_only_probes_and_status_names_it(fakes_factory):
    fakes = fakes_factory(scenes=2000, seed=5)
    proc = start_sync(fakes)
    wait_until(lambda: len(fakes.synced_scene_ids()) >= 20, timeout=120, message="the sync to be under way")
    fakes.plex.reset_counts()
    started = time.monotonic()
    fakes.plex.maintenance(10 * MINUTE)
    status_lines = []

    def status_names_it() -> bool:
        run = fakes.run_cli("status")
        status_lines[:] = run.stdout.splitlines()
        return any(MAINTENANCE in line for line in status_lines)

    wait_until(status_names_it, timeout=10 * MINUTE, interval=0.2, message="status to name the maintenance")
    assert time.monotonic() - started < 10 * MINUTE  # seen while it lasted
    wait_until(lambda: not fakes.plex.in_maintenance, timeout=60, message="the maintenance to end")
    refused = [e for e in fakes.plex.request_log() if e["status"] == 503]
    probes = [e for e in refused if e["route"] == "GET /identity"]
    assert 1 <= len(probes) <= 30, len(probes)  # 10 minutes at full length: about 15
    assert len(refused) - len(probes) <= 5  # the requests in flight when it began; then probes only
    assert_nothing_charged_and_all_synced(fakes)
    task_error(proc)
    assert MAINTENANCE in drainer_log(fakes)
