"""The SQLite side of the index: generations, staleness, re-added files, the written-memory, file mode."""
from __future__ import annotations

import os
import stat

from plex.index import LibraryIndex
from sync_queue.db import Database


def test_a_rebuild_replaces_the_previous_generation_and_unselected_sections(tmp_path):
    index = LibraryIndex(Database(tmp_path))
    gen = index.begin_build()
    index.add_rows(1, [(1, "/a.mp4", 10, 100), (2, "/b.mp4", 20, 200)], gen)
    index.add_rows(2, [(3, "/c.mp4", None, None)], gen)
    assert index.finish_build(gen, [1, 2], "sig", now=1000.0) == 3
    gen = index.begin_build()
    index.add_rows(1, [(1, "/a.mp4", 10, 100)], gen)
    assert index.finish_build(gen, [1], "sig2", now=2000.0) == 1
    assert index.by_path("/b.mp4") == [] and index.by_path("/c.mp4") == []
    assert [c.rating_key for c in index.by_path("/a.mp4")] == [1]


def test_staleness(tmp_path):
    index = LibraryIndex(Database(tmp_path))
    assert index.is_stale("sig", now=1000.0, max_age=60)
    index.finish_build(index.begin_build(), [], "sig", now=1000.0)
    assert not index.is_stale("sig", now=1059.0, max_age=60)
    assert index.is_stale("sig", now=1061.0, max_age=60)
    assert index.is_stale("other", now=1001.0, max_age=60)
    assert index.is_stale("sig", now=999.0, max_age=60)  # the clock went back


def test_a_re_added_file_drops_its_old_rating_key(tmp_path):
    index = LibraryIndex(Database(tmp_path))
    index.add_rows(1, [(5, "/a.mp4", None, 1)])
    index.add_rows(1, [(9, "/a.mp4", None, 2)])
    assert [c.rating_key for c in index.by_path("/a.mp4")] == [9]
    assert index.latest_added(1) == 2


def test_lookup_keys(tmp_path):
    index = LibraryIndex(Database(tmp_path))
    index.add_rows(1, [(5, r"D:\Media\Clip.MP4", 1, 1)])
    assert index.by_norm("d:/media/clip.mp4")[0].rating_key == 5
    assert index.by_fold("d:/media/clip.mp4")[0].rating_key == 5
    assert index.by_base("clip.mp4")[0].rating_key == 5


def test_written_memory_round_trips_and_is_pruned_with_vanished_items(tmp_path):
    index = LibraryIndex(Database(tmp_path))
    index.add_rows(1, [(5, "/a.mp4", None, None)])
    index.set_written(5, {"title": "T", "genre": ["a"], "userRating": 7.5}, now=1.0)
    index.set_written(6, {"title": "gone"}, now=1.0)
    assert index.written(5) == {"title": "T", "genre": ["a"], "userRating": 7.5}
    gen = index.begin_build()
    index.add_rows(1, [(5, "/a.mp4", None, None)], gen)
    index.finish_build(gen, [1], "sig", now=2.0)
    assert index.written(6) == {} and index.written(5)["title"] == "T"


def test_the_database_file_is_created_private_and_shared_safely(tmp_path):
    first = LibraryIndex(Database(tmp_path / "sub"))
    second = LibraryIndex(Database(tmp_path / "sub"))
    first.add_rows(1, [(1, "/a.mp4", None, None)])
    assert second.count() == 1
    assert stat.S_IMODE(os.stat(tmp_path / "sub" / "queue.db").st_mode) == 0o600
    first.close()
    second.close()


def test_scan_marks_are_pruned(tmp_path):
    index = LibraryIndex(Database(tmp_path))
    index.set_meta("scan:1:/a", 100.0)
    index.set_meta("scan:1:/b", 900.0)
    index.prune_meta("scan:", 500.0)
    assert index.meta("scan:1:/a") == "" and index.meta("scan:1:/b") == "900.0"
