"""Value cleaning, what each setting makes PlexSync write, and the metadata hash."""
from __future__ import annotations

import dataclasses

import pytest

from common.models import Performer, Scene, SceneFile
from common.settings import Settings
from plex.fields import (
    ACTOR,
    COLLECTION,
    CONTENT_RATING,
    DATE,
    DIRECTOR,
    GENRE,
    STUDIO,
    SUMMARY,
    SUMMARY_MAX,
    TAGS_PER_FIELD,
    TITLE,
    clean_date,
    clean_line,
    clean_names,
    clean_summary,
    encoded_len,
    file_stem,
    for_item_type,
    metadata_hash,
    scene_rating,
    wanted,
)

SCENE = Scene(id=7, title="Title", details="Details", date="2020-02-03", rating100=73, studio="Studio",
              parent_studio="Parent", performers=(Performer("Ann", "http://s/p/1"), Performer("Bob")),
              tags=("b", "a"), director="Dir", groups=("G1", "G2"), files=(SceneFile("/v/My Clip.mp4"),))


def test_clean_line_strips_controls_collapses_space_and_normalises():
    assert clean_line("  a\tb\n\x00c\x1b[0m  ") == "a b c[0m"
    assert clean_line("Cafe\u0301") == "Café"
    assert clean_line("\u200fשלום\u200e") == "\u200fשלום\u200e"  # direction marks are kept
    assert clean_line("lone \ud800 surrogate") == "lone surrogate"
    assert clean_line(None) == ""


def test_clean_summary_keeps_lines_and_tabs():
    assert clean_summary("a\r\nb\r\tc\x07\n\n\n\nd") == "a\nb\n\tc\n\nd"


def test_long_values_are_cut_with_an_ellipsis_inside_char_and_byte_limits():
    text = clean_summary("x" * 10_000)
    assert len(text) == SUMMARY_MAX and text.endswith("…")
    emoji = clean_summary("😀" * 4000)
    assert emoji.endswith("…") and encoded_len(emoji) <= 6000
    assert all(ch in "😀…" for ch in emoji)
    assert len(clean_line("t" * 300)) == 255


def test_cutting_never_leaves_a_dangling_joiner_or_combining_mark():
    text = clean_line("a" * 253 + "e\u0301\u0301x")
    assert not text[-2:-1].isspace() and text.endswith("…") and "\u0301…" not in text


def test_dates_are_yyyy_mm_dd_or_nothing():
    assert clean_date("2020-01-02") == "2020-01-02"
    assert clean_date("2020-01-02T10:00:00Z") == "2020-01-02"
    assert clean_date("2020-02-30") == "" and clean_date("2020") == "" and clean_date(None) == ""


def test_tag_names_are_deduplicated_ignoring_case_and_bounded():
    assert clean_names(["A", "a", " ", None, "B\x00"]) == ("A", "B")
    assert len(clean_names(f"t{i}" for i in range(500))) == TAGS_PER_FIELD
    big = clean_names("é" * 255 + str(i) for i in range(100))
    assert sum(encoded_len(n) for n in big) <= 6000


def test_rating_and_stem():
    assert scene_rating(73) == 7.3 and scene_rating(100) == 10.0 and scene_rating(None) is None
    assert file_stem(r"C:\x\My.Clip.mkv") == "My.Clip" and file_stem("/a/.hidden") == ".hidden"


def test_wanted_with_defaults():
    want = wanted(SCENE, Settings())
    assert want.values == {TITLE: "Title", SUMMARY: "Details", DATE: "2020-02-03", STUDIO: "Studio"}
    assert want.tags == {GENRE: ("b", "a"), ACTOR: ("Ann", "Bob"), DIRECTOR: ("Dir",),
                         COLLECTION: ("Studio", "G1", "G2")}
    assert want.thumbs == {} and want.rating == 7.3 and want.sync_rating


def test_wanted_follows_each_setting():
    want = wanted(SCENE, Settings(content_rating="XXX", performer_photos=True, collection_parent_studio=True,
                                  sync_groups=False))
    assert want.values[CONTENT_RATING] == "XXX"
    assert want.thumbs == {"Ann": "http://s/p/1"}
    assert want.tags[COLLECTION] == ("Studio", "Parent")
    off = Settings(**{name: False for name in ("sync_title", "sync_summary", "sync_date", "sync_studio",
                                               "sync_rating", "sync_tags", "sync_performers", "sync_director",
                                               "sync_collections")})
    want = wanted(SCENE, off)
    assert want.values == {} and want.tags == {} and not want.sync_rating


def test_title_falls_back_to_the_first_file_name():
    assert wanted(dataclasses.replace(SCENE, title=""), Settings()).values[TITLE] == "My Clip"
    assert TITLE not in wanted(dataclasses.replace(SCENE, title="", files=()), Settings()).values


def test_empty_stash_values_clear_plex():
    want = wanted(Scene(id=1, files=(SceneFile("/a.mp4"),)), Settings())
    assert want.values[SUMMARY] == "" and want.values[STUDIO] == "" and want.values[DATE] == ""
    assert want.tags[GENRE] == () and want.tags[COLLECTION] == () and want.rating is None


def test_episodes_drop_what_plex_episodes_do_not_have():
    want = for_item_type(wanted(SCENE, Settings()), "episode")
    assert STUDIO not in want.values and GENRE not in want.tags and ACTOR in want.tags


def test_hash_is_stable_and_covers_every_written_thing():
    base = metadata_hash(wanted(SCENE, Settings()), ["/v/My Clip.mp4"])
    assert base == metadata_hash(wanted(SCENE, Settings()), ["/v/My Clip.mp4"])
    variants = [
        metadata_hash(wanted(dataclasses.replace(SCENE, tags=("a",)), Settings()), ["/v/My Clip.mp4"]),
        metadata_hash(wanted(dataclasses.replace(SCENE, rating100=74), Settings()), ["/v/My Clip.mp4"]),
        metadata_hash(wanted(SCENE, Settings(sync_tags=False)), ["/v/My Clip.mp4"]),
        metadata_hash(wanted(SCENE, Settings(content_rating="R")), ["/v/My Clip.mp4"]),
        metadata_hash(wanted(SCENE, Settings(performer_photos=True)), ["/v/My Clip.mp4"]),
        metadata_hash(wanted(SCENE, Settings()), ["/v/Moved.mp4"]),
        metadata_hash(wanted(SCENE, Settings()), ["/v/My Clip.mp4"], preserve_plex_edits=True),
    ]
    assert base not in variants and len(set(variants)) == len(variants)


def test_hash_ignores_what_is_not_written():
    changed = dataclasses.replace(SCENE, updated_at="2030-01-01", screenshot_url="http://x?t=2")
    assert metadata_hash(wanted(changed, Settings()), ["/p"]) == metadata_hash(wanted(SCENE, Settings()), ["/p"])
    unsynced = dataclasses.replace(SCENE, tags=("other",))
    off = Settings(sync_tags=False)
    assert metadata_hash(wanted(unsynced, off), ["/p"]) == metadata_hash(wanted(SCENE, off), ["/p"])


@pytest.mark.parametrize("text", ["", "abc", "é", "😀", "a b/c?d=e&f"])
def test_encoded_len_matches_quote(text):
    from urllib.parse import quote
    assert encoded_len(text) == len(quote(text, safe=""))


def test_performer_photo_urls_are_bounded_in_total():
    performers = tuple(Performer(f"P{i}", "http://stash.local/performer/%d/image?t=%s" % (i, "9" * 200))
                       for i in range(100))
    want = wanted(dataclasses.replace(SCENE, performers=performers), Settings(performer_photos=True))
    assert len(want.tags[ACTOR]) == 100 and 0 < len(want.thumbs) < 100
    assert sum(encoded_len(url) + 24 for url in want.thumbs.values()) <= 5000


def test_excluded_and_label_tags_follow_the_tag_hierarchy():
    from common.models import Scene
    from common.settings import settings_from_mapping
    from plex.fields import LABEL, for_item_type, kept_tags, wanted

    scene = Scene(id=1, tags=("Drama", "To Review", "Kids OK", "plex:Shared"),
                  tag_parents=(("To Review", ("Workflow",)), ("Kids OK", ("Family",))))
    settings = settings_from_mapping({"exclude_tags": "workflow", "label_tags": "Family", "label_prefix": "plex:"})
    assert kept_tags(scene, settings.excluded_tag_names) == ("Drama", "Kids OK", "plex:Shared")
    want = wanted(scene, settings)
    assert want.tags[LABEL] == ("Kids OK", "plex:Shared")
    assert for_item_type(want, "episode").tags[LABEL] == ("Kids OK", "plex:Shared", "Drama")
    assert LABEL not in wanted(scene, settings_from_mapping({})).tags  # movie labels left to Plex
