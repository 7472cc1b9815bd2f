"""The matching order on in-memory candidates, and the same lookups on the SQLite index."""
from __future__ import annotations

from typing import List, Sequence

import pytest

from common.models import SceneFile
from common.pathmap import normalize, parse_path_map
from plex.index import LibraryIndex
from plex.matcher import AMBIGUOUS, MATCHED, MISSING, Candidate, base_key, fold_key, match_files, similarity
from sync_queue.db import Database

RULES = parse_path_map(r"/data/videos=>/media/videos; D:\Stash=>/mnt/stash")


class MemoryLookup:
    """The matcher's lookups over a list of candidates, beside the SQLite index."""

    def __init__(self, candidates: Sequence[Candidate]):
        self.candidates = list(candidates)

    def by_path(self, path: str) -> List[Candidate]:
        return [c for c in self.candidates if c.path == path]

    def by_norm(self, norm: str) -> List[Candidate]:
        return [c for c in self.candidates if normalize(c.path) == norm]

    def by_fold(self, fold: str) -> List[Candidate]:
        return [c for c in self.candidates if fold_key(c.path) == fold]

    def by_base(self, base: str) -> List[Candidate]:
        return [c for c in self.candidates if base_key(c.path) == base]


def files(*paths, size=None):
    return tuple(SceneFile(p, size) for p in paths)


@pytest.fixture(params=["memory", "sqlite"])
def lookup_of(request, tmp_path):
    def build(candidates):
        if request.param == "memory":
            return MemoryLookup(candidates)
        index = LibraryIndex(Database(tmp_path))
        for c in candidates:
            index.add_rows(c.section_id, [(c.rating_key, c.path, c.size, None)])
        return index
    return build


def test_mapped_full_path_wins_over_a_same_named_file(lookup_of):
    lookup = lookup_of([Candidate(1, 10, "/media/videos/a/clip.mp4"), Candidate(1, 11, "/other/clip.mp4")])
    result = match_files(files("/data/videos/a/clip.mp4"), RULES, lookup)
    assert (result.status, result.rating_key, result.step) == (MATCHED, 10, "path")
    assert result.mapped_paths == ("/media/videos/a/clip.mp4",)


def test_windows_stash_path_onto_posix_plex(lookup_of):
    lookup = lookup_of([Candidate(1, 10, "/mnt/stash/Sub/Clip.mp4")])
    assert match_files(files(r"d:\STASH\Sub\Clip.mp4"), RULES, lookup).rating_key == 10


def test_normalised_path_handles_separators_slashes_and_windows_case(lookup_of):
    lookup = lookup_of([Candidate(1, 10, r"E:\Media\Sub\Clip.mp4")])
    result = match_files(files(r"/x/media//sub/clip.mp4"), parse_path_map(r"/x=>E:\\"), lookup)
    assert (result.status, result.step) == (MATCHED, "normalized")


def test_case_and_unicode_form_differences_match_when_unique(lookup_of):
    lookup = lookup_of([Candidate(1, 10, "/media/videos/Cafe\u0301/CLIP.mp4")])
    result = match_files(files("/data/videos/Café/clip.mp4"), RULES, lookup)
    assert (result.status, result.rating_key, result.step) == (MATCHED, 10, "folded")


def test_unique_basename_is_the_last_resort(lookup_of):
    lookup = lookup_of([Candidate(2, 20, "/somewhere/else/clip.mp4", 100)])
    result = match_files(files("/nowhere/clip.mp4", size=100), RULES, lookup)
    assert (result.status, result.rating_key, result.step) == (MATCHED, 20, "basename")


def test_basename_size_filters_candidates(lookup_of):
    lookup = lookup_of([Candidate(1, 10, "/a/clip.mp4", 100), Candidate(1, 11, "/b/clip.mp4", 200)])
    assert match_files(files("/x/clip.mp4", size=200), RULES, lookup).rating_key == 11
    assert match_files(files("/x/clip.mp4", size=300), RULES, lookup).status == MISSING


def test_ambiguous_under_strict_names_every_candidate(lookup_of):
    lookup = lookup_of([Candidate(1, 10, "/a/clip.mp4"), Candidate(1, 11, "/b/clip.mp4")])
    result = match_files(files("/x/clip.mp4"), RULES, lookup, strict=True)
    assert result.status == AMBIGUOUS and result.candidates == ("/a/clip.mp4", "/b/clip.mp4")
    assert result.rating_key is None


def test_non_strict_picks_the_most_similar_path(lookup_of):
    lookup = lookup_of([Candidate(1, 10, "/a/studio/clip.mp4"), Candidate(1, 11, "/b/other/clip.mp4")])
    result = match_files(files("/x/studio/clip.mp4"), RULES, lookup, strict=False)
    assert (result.status, result.rating_key, result.step) == (MATCHED, 10, "basename+similarity")


def test_any_file_of_a_multi_file_scene_may_match(lookup_of):
    lookup = lookup_of([Candidate(1, 10, "/media/videos/b.mp4")])
    assert match_files(files("/data/videos/a.mp4", "/data/videos/b.mp4"), RULES, lookup).rating_key == 10


def test_two_files_in_one_item_are_one_candidate(lookup_of):
    lookup = lookup_of([Candidate(1, 10, "/media/videos/a.mp4"), Candidate(1, 10, "/media/videos/b.mp4")])
    assert match_files(files("/data/videos/a.mp4", "/data/videos/b.mp4"), RULES, lookup).status == MATCHED


def test_nothing_found_is_missing(lookup_of):
    result = match_files(files("/data/videos/a.mp4"), RULES, lookup_of([]))
    assert result.status == MISSING and result.mapped_paths == ("/media/videos/a.mp4",)


def test_similarity_counts_equal_tail_then_head_components():
    assert similarity("/a/b/c.mp4", "/x/b/C.mp4") == (2, 0)
    assert similarity("/a/b/c.mp4", "/a/y/c.mp4") == (1, 1)


def test_the_primary_file_decides_when_plex_lists_each_file_as_its_own_item(lookup_of):
    lookup = lookup_of([Candidate(1, 11, "/media/videos/b.mp4"), Candidate(1, 10, "/media/videos/a.mp4")])
    result = match_files(files("/data/videos/a.mp4", "/data/videos/b.mp4"), RULES, lookup)
    assert (result.status, result.rating_key, result.step) == (MATCHED, 10, "path")


def test_an_exact_path_of_a_second_file_beats_a_basename_of_the_first(lookup_of):
    lookup = lookup_of([Candidate(1, 10, "/elsewhere/a.mp4"), Candidate(1, 11, "/media/videos/b.mp4")])
    result = match_files(files("/data/videos/a.mp4", "/data/videos/b.mp4"), RULES, lookup)
    assert (result.rating_key, result.step) == (11, "path")


def test_one_file_in_two_libraries_is_ambiguous(lookup_of):
    lookup = lookup_of([Candidate(1, 10, "/media/videos/a.mp4"), Candidate(2, 20, "/media/videos/a.mp4")])
    assert match_files(files("/data/videos/a.mp4"), RULES, lookup).status == AMBIGUOUS
