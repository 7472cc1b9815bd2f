"""Which Plex item is this Stash scene? Decided from file paths only, in a fixed order.

Order: the mapped full path exactly as Plex reports it → the normalised path (separators, trailing
slashes, drive-letter case, then case and Unicode form for case-insensitive file systems) → a
unique basename (with the same size when both sides know it). Any file of a multi-file scene may
match; within a step the files are tried in Stash's order (the primary file first), so a scene
whose two files Plex lists as two items goes to its primary file's item. The first file that finds
anything decides: one item is a match, several are ambiguous (under strict matching the caller
fails naming them; otherwise the one whose path is most like the scene's wins). Never a title
search. Lookups are injected, so the order is tested on in-memory candidates and runs on the
SQLite index in production.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Tuple

from common.models import SceneFile
from common.pathmap import PathRule, map_path, normalize

MATCHED, MISSING, AMBIGUOUS = "matched", "missing", "ambiguous"


@dataclass(frozen=True)
class Candidate:
    section_id: int
    rating_key: int
    path: str  # as Plex reports it
    size: Optional[int] = None


@dataclass(frozen=True)
class MatchResult:
    status: str  # "matched" | "missing" | "ambiguous"
    rating_key: Optional[int] = None
    section_id: Optional[int] = None
    candidates: Tuple[str, ...] = ()  # Plex paths of every candidate item (ambiguous) or of the match
    mapped_paths: Tuple[str, ...] = ()  # the scene's files as Plex should see them
    step: str = ""  # "path" | "normalized" | "folded" | "basename", "+similarity" when guessed


class Lookup(Protocol):
    def by_path(self, path: str) -> List[Candidate]: ...
    def by_norm(self, norm: str) -> List[Candidate]: ...
    def by_fold(self, fold: str) -> List[Candidate]: ...
    def by_base(self, base: str) -> List[Candidate]: ...


def fold_key(path: str) -> str:
    """Comparison key for case-insensitive file systems: normalised, NFC, case folded."""
    return unicodedata.normalize("NFC", normalize(path)).casefold()


def base_key(path: str) -> str:
    return unicodedata.normalize("NFC", path.replace("\\", "/").rsplit("/", 1)[-1]).casefold()


def _components(path: str) -> List[str]:
    return [part for part in fold_key(path).split("/") if part]


def similarity(a: str, b: str) -> Tuple[int, int]:
    """(equal trailing path components, equal leading components): higher is more alike."""
    left, right = _components(a), _components(b)
    tail = 0
    while tail < min(len(left), len(right)) and left[-1 - tail] == right[-1 - tail]:
        tail += 1
    head = 0
    while head < min(len(left), len(right)) and left[head] == right[head]:
        head += 1
    return tail, head


def _distinct(found: List[Candidate]) -> Dict[Tuple[int, int], Candidate]:
    items: Dict[Tuple[int, int], Candidate] = {}
    for candidate in found:
        items.setdefault((candidate.section_id, candidate.rating_key), candidate)
    return items


def _same_size(candidates: List[Candidate], size: Optional[int]) -> List[Candidate]:
    if not size:
        return candidates
    return [c for c in candidates if not c.size or c.size == size]


def _best(items: Dict[Tuple[int, int], Candidate], mapped: Sequence[str], files: Sequence[SceneFile]) -> Candidate:
    sizes = {f.size for f in files if f.size}

    def score(candidate: Candidate) -> Tuple:
        alike = max(similarity(candidate.path, path) for path in mapped)
        return (alike, candidate.size in sizes, -candidate.rating_key)

    return max(items.values(), key=score)


@dataclass(frozen=True)
class Probe:
    """One lookup the matcher made (for `explain`): the step, the mapped path, the key it looked
    up, the candidates kept, and those the key found but the step refused (another file size)."""

    step: str
    path: str
    key: str
    found: Tuple[Candidate, ...] = ()
    refused: Tuple[Candidate, ...] = ()


def match_files(files: Sequence[SceneFile], rules: Tuple[PathRule, ...], lookup: Lookup,
                strict: bool = True, trace: Optional[List[Probe]] = None) -> MatchResult:
    """Run the matching order over every file of a scene; each lookup is appended to `trace` if given."""
    mapped = tuple(map_path(f.path, rules) for f in files)
    steps: List[Tuple[str, Callable[[str], str], Callable[[str], List[Candidate]]]] = [
        ("path", lambda path: path, lookup.by_path),
        ("normalized", normalize, lookup.by_norm),
        ("folded", fold_key, lookup.by_fold),
        ("basename", base_key, lookup.by_base),
    ]
    for step, key_of, find in steps:
        for path, scene_file in zip(mapped, files):
            key = key_of(path)
            looked_up = find(key)
            found = _same_size(looked_up, scene_file.size) if step == "basename" else looked_up
            if trace is not None:
                trace.append(Probe(step, path, key, tuple(found), tuple(c for c in looked_up if c not in found)))
            if found:
                return _decide(found, step, mapped, files, strict)
    return MatchResult(MISSING, mapped_paths=mapped)


def _decide(found: List[Candidate], step: str, mapped: Tuple[str, ...], files: Sequence[SceneFile],
            strict: bool) -> MatchResult:
    """One file's candidates at one step: one item is the match; several are ambiguous."""
    items = _distinct(found)
    if len(items) == 1:
        only = next(iter(items.values()))
        return MatchResult(MATCHED, only.rating_key, only.section_id, (only.path,), mapped, step)
    paths = tuple(sorted({c.path for c in found}))
    if strict:
        return MatchResult(AMBIGUOUS, None, None, paths, mapped, step)
    best = _best(items, mapped, files)
    return MatchResult(MATCHED, best.rating_key, best.section_id, paths, mapped, step + "+similarity")
