"""Edit planning: fewest writes, exact tag sets, locks, the preserve rule — and plexapi's own parameter names."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl

from plexapi.utils import joinArgs
from plexapi.video import Movie

from plex.fields import Wanted, clean_line, clean_names, clean_summary
from plex.writer import QUERY_MAX, RATING_KEY, REQUEST_LINE_MAX, ItemState, field_params, plan_edit, query_len, tag_params

ITEM = ItemState(rating_key=5, section_id=1, type="movie",
                 values={"title": "Old", "summary": "Same", "studio": ""},
                 tags={"genre": ("Keep", "Drop me", "case"), "actor": ("Ann",)}, thumbs={},
                 locked=frozenset({"summary", "actor"}), user_rating=6.0)


def test_only_changed_or_unlocked_fields_are_written_and_all_are_locked():
    want = Wanted(values={"title": "New", "summary": "Same"}, tags={"actor": ("Ann",)})
    plan = plan_edit(want, ITEM)
    assert plan.groups == {"title": {"title.value": "New", "title.locked": 1}}


def test_equal_but_unlocked_fields_are_locked():
    plan = plan_edit(Wanted(values={"title": "Old"}), ITEM)
    assert plan.groups == {"title": {"title.value": "Old", "title.locked": 1}}


def test_tags_become_exactly_the_wanted_set():
    plan = plan_edit(Wanted(tags={"genre": ("Keep", "New", "Case")}), ITEM)
    params = plan.groups["genre"]
    assert params["genre[0].tag.tag"] == "Keep" and params["genre[1].tag.tag"] == "New"
    assert params["genre[2].tag.tag"] == "Case"
    assert params["genre[].tag.tag-"] == "Drop%20me"  # "case" differs only in case: re-added, not removed
    assert params["genre.locked"] == 1


def test_removing_every_tag():
    plan = plan_edit(Wanted(tags={"actor": ()}), ITEM)
    assert plan.groups["actor"] == {"actor.locked": 1, "actor[].tag.tag-": "Ann"}


def test_actor_thumbs_ride_with_their_names():
    plan = plan_edit(Wanted(tags={"actor": ("Ann",)}, thumbs={"Ann": "http://s/1"}), ITEM)
    assert plan.groups["actor"] == {"actor.locked": 1, "actor[0].tag.tag": "Ann", "actor[0].tag.thumb": "http://s/1"}


def test_preserve_keeps_fields_locked_by_someone_else():
    item = ItemState(5, 1, "movie", values={"title": "Hand", "summary": "Ours"}, locked=frozenset({"title", "summary"}))
    want = Wanted(values={"title": "Stash", "summary": "Stash summary"})
    plan = plan_edit(want, item, written={"summary": "Ours"}, preserve_plex_edits=True)
    assert plan.kept == ["title"] and set(plan.groups) == {"summary"}
    assert plan.written == {"summary": "Stash summary"}
    # Without the flag every field is Stash's.
    assert set(plan_edit(want, item, written={"summary": "Ours"}).groups) == {"title", "summary"}


def test_preserve_tags_compares_with_what_we_wrote():
    item = ItemState(5, 1, "movie", tags={"genre": ("b", "a")}, locked=frozenset({"genre"}))
    ours = plan_edit(Wanted(tags={"genre": ("c",)}), item, written={"genre": ["a", "b"]}, preserve_plex_edits=True)
    assert "genre" in ours.groups
    theirs = plan_edit(Wanted(tags={"genre": ("c",)}), item, written={"genre": ["a"]}, preserve_plex_edits=True)
    assert theirs.kept == ["genre"] and not theirs.groups


def test_rating_is_set_when_changed_and_cleared_only_if_we_set_it():
    assert not plan_edit(Wanted(rating=6.0, sync_rating=True), ITEM).rate
    plan = plan_edit(Wanted(rating=7.5, sync_rating=True), ITEM)
    assert plan.rate and plan.rating == 7.5 and plan.written[RATING_KEY] == 7.5
    assert not plan_edit(Wanted(rating=None, sync_rating=True), ITEM).rate
    cleared = plan_edit(Wanted(rating=None, sync_rating=True), ITEM, written={RATING_KEY: 6.0})
    assert cleared.rate and cleared.rating is None and RATING_KEY not in cleared.written
    assert not plan_edit(Wanted(rating=1.0, sync_rating=False), ITEM).rate


def test_image_locks_only_when_not_yet_locked():
    item = ItemState(5, 1, "movie", locked=frozenset({"thumb"}))
    assert plan_edit(Wanted(), item, locks=("thumb", "art")).groups == {"art": {"art.locked": 1}}


def test_one_put_normally_and_a_split_per_field_only_when_too_long():
    plan = plan_edit(Wanted(values={"title": "T", "summary": "S"}, tags={"genre": ("x",)}), ITEM)
    assert len(plan.requests()) == 1
    names = [f"{i:03d}" + "é" * 200 for i in range(100)]
    crowded = ItemState(5, 1, "movie", tags={"genre": tuple(names), "director": tuple(names)})
    plan = plan_edit(Wanted(values={"title": "T"}, tags={"genre": clean_names(n + "x" for n in names),
                                                          "director": clean_names(n + "y" for n in names)}), crowded)
    chunks = plan.requests()
    assert len(chunks) >= 3 and all(query_len(c) <= QUERY_MAX for c in chunks)
    removed = [n for c in chunks for key, value in c.items() if key == "genre[].tag.tag-" for n in value.split(",")]
    assert len(removed) == 100 and len(set(removed)) == 100
    assert sum(1 for c in chunks for key in c if key.startswith("director[") and key.endswith(".tag.tag")) > 0


def test_parameter_names_and_encoding_match_plexapis_edit_mixins():
    """Contract: our parameters are byte-for-byte what plexapi's editField/_tagHelper produce."""
    movie = Movie(None, ET.fromstring('<Video ratingKey="5" type="movie" title="x" librarySectionID="1"/>'))
    movie.batchEdits()
    movie.editTitle("Tïtle & co", locked=True).editSummary("a\nb").editTags("genre", ["A b", "C,d"])
    movie.editTags("genre", ["Old one", "x/y"], remove=True)
    ours = {**field_params("title", "Tïtle & co"), **field_params("summary", "a\nb"),
            **tag_params("genre", ("A b", "C,d"), remove=("Old one", "x/y"))}
    assert joinArgs(ours) == joinArgs(movie._edits)
    sent = dict(parse_qsl(joinArgs(ours)[1:]))
    assert sent["genre[].tag.tag-"] == "Old%20one,x/y" and sent["title.value"] == "Tïtle & co"


def test_collections_and_labels_lose_only_the_names_plexsync_added():
    item = ItemState(5, 1, "movie", tags={"collection": ("My Favorites", "Old Studio"),
                                          "label": ("Overlay", "kids ok")}, locked=frozenset({"collection"}))
    # an earlier version's record: it wrote "Old Studio" and "Kids OK" (exact sets then: carried over as its own)
    written = {"collection": ["Old Studio"], "label": ["Kids OK"]}
    plan = plan_edit(Wanted(tags={"collection": ("New Studio",), "label": ()}), item, written)
    collection = plan.groups["collection"]
    assert [collection[f"collection[{i}].tag.tag"] for i in range(2)] == ["My Favorites", "New Studio"]
    assert collection["collection[].tag.tag-"] == "Old%20Studio"
    assert plan.groups["label"] == {"label.locked": 1, "label[0].tag.tag": "Overlay", "label[].tag.tag-": "kids%20ok"}
    assert plan.written["collection"] == ["New Studio"] and plan.written["label"] == []
    assert plan.owned["collection"] == ("New Studio",) and plan.others["collection"] == ("My Favorites",)


def test_a_name_that_was_there_before_plexsync_wanted_it_stays_the_users():
    item = ItemState(5, 1, "movie", tags={"label": ("Kids OK",)}, locked=frozenset({"label"}))
    first = plan_edit(Wanted(tags={"label": ("Kids OK",)}), item, {})
    assert "label" not in first.groups and first.written["label"] == []  # nothing to write, and not PlexSync's
    later = plan_edit(Wanted(tags={"label": ()}), item, first.written)
    assert "label" not in later.groups  # Stash dropped it, but PlexSync never added it


def test_without_a_record_nothing_on_the_item_is_plexsyncs():
    item = ItemState(5, 1, "episode", tags={"label": ("Overlay", "Tag A")}, locked=frozenset({"label"}))
    plan = plan_edit(Wanted(tags={"label": ("Tag B",)}), item, {})
    labels = plan.groups["label"]
    assert [labels[f"label[{i}].tag.tag"] for i in range(3)] == ["Overlay", "Tag A", "Tag B"]
    assert "label[].tag.tag-" not in labels and plan.written["label"] == ["Tag B"]


def test_preserve_keeps_a_shared_field_when_someone_removed_plexsyncs_name():
    item = ItemState(5, 1, "movie", tags={"collection": ("Hand",)}, locked=frozenset({"collection"}))
    plan = plan_edit(Wanted(tags={"collection": ("Studio",)}), item, {"collection": ["Studio"]}, True)
    assert plan.kept == ["collection"] and "collection" not in plan.groups


def test_every_request_line_of_a_crowded_edit_stays_under_8000_bytes():
    long_names = tuple(f"{i:03d} " + "東京" * 40 for i in range(100))
    want = Wanted(values={"title": clean_line("題" * 400), "summary": clean_summary("説明" * 3000)},
                  tags={"genre": clean_names(long_names), "actor": clean_names(long_names),
                        "director": clean_names(long_names[:1])}, rating=7.0, sync_rating=True)
    plan = plan_edit(want, ItemState(123456789, 12, "movie"))
    for params in plan.requests(("actor",)):
        line = f"PUT /library/sections/12/all{joinArgs(dict(params, type=1, id=123456789))} HTTP/1.1"
        assert len(line) <= REQUEST_LINE_MAX


def test_a_cut_goes_back_to_a_word_boundary():
    text = clean_line("wordy " * 100, 52)
    assert text.endswith("wordy…") and len(text) <= 52
