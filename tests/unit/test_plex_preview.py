"""The preview reads each field's before → after off the edit the sync would send; the CLI maps
`sync --dry-run` to the preview task; the database copy keeps the real one untouched."""
from __future__ import annotations

import pytest

from common.models import SyncRecord
from entry import cli
from plex.fields import Wanted, for_item_type
from plex.images import ImagePlan
from plex.preview import CHANGE, UNCHANGED, describe
from plex.writer import ItemState, plan_edit
from sync_queue.db import Database
from sync_queue.scratch import scratch_copy
from sync_queue.sync_state import SyncStateStore


def item(**fields):
    values = dict(rating_key=7, section_id=1, type="movie", values={"title": "old", "summary": "same"},
                  tags={"genre": ("Keep", "Drop, with comma", "Drop/slash")}, locked=frozenset({"summary"}),
                  user_rating=None)
    values.update(fields)
    return ItemState(**values)


def preview_of(want, state, written=None, preserve=False, images=ImagePlan()):
    want = for_item_type(want, state.type)
    locks = (("thumb",) if images.poster else ()) + (("art",) if images.art else ())  # as ItemWrites.plan
    return describe(1, state, want, plan_edit(want, state, written, preserve, locks), images, "path", "A scene")


def test_fields_tags_and_rating_before_and_after():
    want = Wanted({"title": "new", "summary": "same"}, {"genre": ("Keep", "New")}, rating=8.0, sync_rating=True)
    answer = preview_of(want, item())
    fields = {change.name: change for change in answer.fields}
    assert answer.status == CHANGE and answer.rating_key == 7 and answer.step == "path"
    assert (fields["title"].before, fields["title"].after, fields["title"].written) == ("old", "new", True)
    assert fields["summary"].after == "same" and not fields["summary"].written  # held and locked: not sent
    genre = fields["genre"]
    assert genre.before == ["Keep", "Drop, with comma", "Drop/slash"] and genre.after == ["Keep", "New"]
    assert genre.added == ("New",) and genre.removed == ("Drop, with comma", "Drop/slash")  # unquoted
    assert (fields["userRating"].before, fields["userRating"].after) == (None, 8.0)
    assert answer.to_json()["fields"]["genre"]["removed"] == ["Drop, with comma", "Drop/slash"]


def test_a_value_held_but_unlocked_is_only_locked():
    answer = preview_of(Wanted({"title": "old"}), item(tags={}))
    assert answer.status == CHANGE and answer.locks == ("title",)
    assert not answer.fields[0].changed and answer.fields[0].written


def test_nothing_to_send_is_unchanged():
    state = item(tags={"genre": ("A",)}, locked=frozenset({"title", "genre"}), values={"title": "t"})
    answer = preview_of(Wanted({"title": "t"}, {"genre": ("A",)}), state)
    assert answer.status == UNCHANGED and all(not change.written for change in answer.fields)


def test_hand_edits_are_kept_and_images_counted():
    state = item(values={"title": "By hand"}, locked=frozenset({"title"}), tags={})
    answer = preview_of(Wanted({"title": "From Stash"}), state, written={}, preserve=True,
                        images=ImagePlan(b"x", "u", "d", poster=True, art=False))
    title = answer.fields[0]
    assert title.kept and title.after == "By hand" and not title.written
    assert answer.status == CHANGE and answer.poster and not answer.art and "thumb" in answer.locks


def test_an_episode_gets_its_tags_as_labels_and_no_studio():
    state = item(type="episode", values={"title": "t"}, tags={}, locked=frozenset())
    answer = preview_of(Wanted({"title": "t", "studio": "S"}, {"genre": ("Tag",)}), state)
    names = [change.name for change in answer.fields]
    assert "studio" not in names and "genre" not in names
    assert next(change for change in answer.fields if change.name == "label").after == ["Tag"]


@pytest.mark.parametrize("argv, options", [
    (["sync", "--dry-run"], {"details": 20}),
    (["sync", "--dry-run", "--force", "--details", "3"], {"details": 3, "force": True}),
    (["sync", "--dry-run", "--recent"], {"details": 20, "hours": 24.0}),
])
def test_dry_run_maps_to_the_preview_task(argv, options):
    assert cli._mode(cli.build_parser().parse_args(argv)) == ("preview", options)


def test_the_copy_reads_the_state_and_its_writes_stay_in_the_copy(tmp_path):
    with Database(tmp_path) as real:
        SyncStateStore(real).put(SyncRecord(1, 1, 7, "hash"))
    with scratch_copy(tmp_path) as copy:
        state = SyncStateStore(copy)
        assert state.get(1) == SyncRecord(1, 1, 7, "hash")
        state.put(SyncRecord(2, 1, 8, "other"))
    with Database(tmp_path) as real:
        assert SyncStateStore(real).get(2) is None and SyncStateStore(real).count() == 1
    empty = tmp_path / "fresh"
    with scratch_copy(empty) as copy:
        assert SyncStateStore(copy).count() == 0
    assert not empty.exists()
