"""Preview changes (`sync --dry-run`, the `preview` task) against the fakes over HTTP: only GET
requests reach Plex, PlexSync's state stays as it was, and a real sync afterwards writes exactly
what the preview listed."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

from hooks.snapshot import snapshot_path
from stash.connection import connection_path
from tests.integration.e2e import Fakes

PLURALS = {"genre": "genres", "actor": "actors", "director": "directors", "collection": "collections",
           "label": "labels"}


def _preview(fakes: Fakes, *argv: str) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    run = fakes.run_cli("sync", "--dry-run", "--json", *argv)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    documents = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert documents and "totals" in documents[-1], run.stdout[-2000:]
    scenes = documents[:-1]
    assert all("scene_id" in scene for scene in scenes)
    return scenes, documents[-1]


def _only_reads(fakes: Fakes) -> None:
    counts = fakes.plex.counts()
    assert counts and all(key.startswith("GET ") for key in counts), counts
    assert fakes.plex.refreshes == []  # a scan is a GET that changes Plex: never asked for


def _state(fakes: Fakes) -> Dict[str, Any]:
    """Everything PlexSync keeps in its database, as rows."""
    with fakes.stores() as stores:
        tables = [row[0] for row in stores.db.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert {"ack_queue_jobs", "dead_letters", "sync_state", "plex_items", "plex_written"} <= set(tables)
        return {table: sorted(stores.db.query(f"SELECT * FROM {table}")) for table in tables}


def _same(plex_value: Any, after: Any) -> bool:
    if isinstance(after, list):
        names = [entry[0] if isinstance(entry, (list, tuple)) else entry for entry in plex_value or ()]
        return sorted(names) == sorted(after)
    if isinstance(after, float) or plex_value is None and after is None:
        return plex_value == after
    return (plex_value or "") == (after or "")


def _field_value(item: Dict[str, Any], name: str) -> Any:
    return item[PLURALS[name]] if name in PLURALS else item[name]


def test_dry_run_on_a_fresh_library_lists_what_the_sync_then_writes(fakes_factory):
    fakes = fakes_factory(scenes=60, seed=5)
    world = fakes.world
    fakes.plex.reset_counts()
    scenes, final = _preview(fakes)

    _only_reads(fakes)
    assert not (fakes.data_dir / "queue.db").exists()  # no queue, no sync state, no index written
    assert not connection_path(fakes.data_dir).exists() and not Path(snapshot_path(fakes.data_dir)).exists()
    by_id = {scene["scene_id"]: scene for scene in scenes}
    assert sorted(by_id) == sorted(world.scene_ids)
    changing = {scene_id for scene_id, scene in by_id.items() if scene["status"] == "change"}
    assert changing == set(world.matchable_ids)
    assert {scene_id for scene_id, scene in by_id.items() if scene["status"] == "unmatched"} == \
        set(world.missing_ids | world.pending_ids | world.ambiguous_ids)
    assert final["totals"] == {"scanned": len(by_id), "would_change": len(changing), "unchanged": 0,
                               "unmatched": len(by_id) - len(changing), "failed": 0}
    for scene_id in world.ambiguous_ids:
        assert "matches 2 Plex files" in by_id[scene_id]["reason"]
    example = by_id[min(changing)]
    assert example["plex_item"] in fakes.rating_keys[min(changing)]
    assert example["fields"]["title"]["changed"] and example["images"]["poster"] in ("upload", "unchanged")

    items = {key for keys in fakes.rating_keys.values() for key in keys}
    previewed_items = {by_id[scene_id]["plex_item"] for scene_id in changing}
    before = {key: fakes.plex.item(key) for key in items - previewed_items}
    synced = fakes.run_cli("sync")
    assert synced.returncode == 0, synced.stderr[-2000:]

    for scene_id in changing:
        scene = by_id[scene_id]
        item = fakes.plex.item(scene["plex_item"])
        for name, field in scene["fields"].items():
            assert _same(_field_value(item, name), field["after"]), (scene_id, name, field, _field_value(item, name))
        for kind in ("poster", "art"):
            assert (item[kind] is not None) == (scene["images"][kind] == "upload"), (scene_id, kind)
    assert {key: fakes.plex.item(key) for key in before} == before  # items the preview left alone

    fakes.plex.reset_counts()
    again, final = _preview(fakes)
    assert [scene for scene in again if scene["status"] == "change"] == []
    assert final["totals"]["would_change"] == 0 and final["totals"]["unchanged"] == len(changing)
    assert sum(fakes.plex.counts().values()) <= 2 + 2 * len(world.plex_sections)  # the warm index, no item read


def test_preview_of_one_edit_after_a_sync_leaves_the_state_as_it_was(fakes_factory):
    fakes = fakes_factory(scenes=40, seed=6)
    assert fakes.run_cli("sync").returncode == 0
    scene_id = min(fakes.world.matchable_ids - fakes.world.episode_ids)
    rating_key = fakes.rating_keys[scene_id][0]
    old_title = fakes.plex.item(rating_key)["title"]
    fakes.stash.edit_scene(scene_id, title="Previewed title")
    state = _state(fakes)
    fakes.plex.reset_counts()

    run = fakes.run_cli("sync", "--dry-run")
    assert run.returncode == 0, run.stderr[-2000:]
    _only_reads(fakes)
    assert _state(fakes) == state
    assert f"scene {scene_id} 'Previewed title' → Plex movie {rating_key} (path match):" in run.stdout
    assert f"    title: {old_title!r} → 'Previewed title'" in run.stdout
    assert "would change" in run.stdout and "1 would change" in run.stdout
    assert fakes.plex.item(rating_key)["title"] == old_title


def test_the_preview_task_as_stash_runs_it(fakes_factory):
    fakes = fakes_factory(scenes=50, seed=7)
    fakes.plex.reset_counts()
    run = fakes.run_task("preview", details=3)
    assert run.returncode == 0 and run.error is None, run.stderr[-2000:]
    _only_reads(fakes)
    lines = run.output.splitlines()
    assert lines[0] == "Preview changes"
    assert sum(1 for line in lines if line.startswith("  scene ")) == 3  # bounded: the first 3 in full
    changing = len(fakes.world.matchable_ids)
    assert f"… and {changing - 3} more scenes would change" in run.output
    assert f"50 scenes scanned: {changing} would change, 0 unchanged, {50 - changing} not matched" in run.output
    assert "not matched: scene " in run.output
    assert "Preview changes" in run.logs("i") and run.progress and run.progress[-1] == 1.0
    assert fakes.queue_rows() == 0 and fakes.synced_scene_ids() == set() and fakes.dead_letters() == []
    assert not connection_path(fakes.data_dir).exists()

    bad = fakes.run_task("preview", details=-1)
    assert bad.error == "args.details must be at least 0, got -1"


def test_plex_down_is_one_line_and_leaves_no_state(fakes_factory):
    fakes = fakes_factory(scenes=10, seed=8)
    fakes.plex.down()
    run = fakes.run_cli("sync", "--dry-run")
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("plexsync: Plex is unreachable")
    assert not (fakes.data_dir / "queue.db").exists()


def test_with_trigger_plex_scan_the_preview_says_so_and_asks_for_no_scan(fakes_factory):
    fakes = fakes_factory(scenes=40, seed=9)
    fakes.configure(trigger_plex_scan=True)
    fakes.plex.reset_counts()
    scenes, _ = _preview(fakes)
    _only_reads(fakes)
    pending = [scene for scene in scenes if scene["scene_id"] in fakes.world.pending_ids]
    assert pending and all("a sync would ask Plex to scan its folder" in scene["reason"] for scene in pending)
    outside = [scene for scene in scenes if scene["scene_id"] in fakes.world.unmapped_ids]
    assert outside and not any("scan" in scene["reason"] for scene in outside)  # in no library's folder
