"""The explain task's pure parts: the scene id it accepts, and a report that stays bounded however
many files, rules and candidates a scene has (the states themselves: tests/integration/test_explain.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import pytest

from common.models import Scene, SceneFile
from common.settings import settings_from_mapping
from common.task_args import SceneIdError, parse_scene_id
from entry.protocol import InputError
from entry.task import task_options
from plex.matcher import Candidate, match_files
from tasks.explain_report import MAX_SHOWN, Facts, render


@pytest.mark.parametrize("value, expected", [(12, 12), ("12", 12), (" 7 ", 7), (3.0, 3), ("2147483647", 2**31 - 1)])
def test_scene_ids_accepted(value, expected):
    assert parse_scene_id(value) == expected


@pytest.mark.parametrize("value", ["", "abc", "1.5", 0, -1, True, None, [3], "2147483648", "nan", "1e400", 10**400])
def test_scene_ids_refused_with_what_to_give(value):
    with pytest.raises(SceneIdError, match=r"^args\.scene_id must be a scene id \(the number in the scene's "
                                           r"address in Stash, /scenes/ID\), got "):
        parse_scene_id(value)


def test_task_args_leave_a_missing_id_to_the_setting_and_refuse_a_bad_one():
    assert task_options("explain", {"mode": "explain"}) == {} and task_options("explain", {"scene_id": ""}) == {}
    assert task_options("explain", {"scene_id": "42"}) == {"scene_id": 42}
    with pytest.raises(InputError, match="args.scene_id must be a scene id"):
        task_options("explain", {"scene_id": "forty-two"})


@dataclass(frozen=True)
class Section:
    key: int
    title: str
    locations: Tuple[str, ...]


class Duplicates:
    """A lookup where every file name has 14 Plex copies (and no full path matches)."""

    def by_path(self, path):
        return []

    by_norm = by_fold = by_path

    def by_base(self, base):
        return [Candidate(1, 100 + n, f"/media/copy-{n:02d}/{base}") for n in range(14)]


def test_the_report_caps_every_list():
    rules = ";".join(f"/data/r{n}=>/media/r{n}" for n in range(12))
    settings = settings_from_mapping({"plex_url": "http://plex:32400", "plex_token": "t", "path_map": rules})
    scene = Scene(id=5, title="Many", files=tuple(SceneFile(f"/elsewhere/part {n}.mp4", 10) for n in range(15)))
    trace: list = []
    result = match_files(scene.files, settings.path_rules, Duplicates(), strict=True, trace=trace)
    facts = Facts(scene=scene, settings=settings, now=1e9, result=result, trace=trace,
                  sections=[Section(1, "Movies", ("/media",))], file_sections=[None] * 15)
    report = render(facts)
    assert report.data["state"] == "ambiguous" and len(report.data["candidates"]) == MAX_SHOWN
    text = report.text
    for more in ("... and 5 more files", "... and 2 more rules", "... and 36 more lookups", "... and 4 more candidates"):
        assert more in text, more
    assert text.count("refused: one of 14 Plex files") == MAX_SHOWN
    assert len(report.lines) < 200 and max(len(line) for line in report.lines) <= 1000


def test_the_queue_answers_for_one_scene_only(stores):
    """jobs_for_scene pre-filters rows by text: 5 must not find the jobs of 15, 50 or 105."""
    from sync_queue.dead_letters import DeadLetterEntry

    stores.jobs.put_batch([15, 50, 105], "sync", "sync task", now=1.0)
    assert stores.jobs.jobs_for_scene(5) == []
    stores.jobs.put_batch([3, 5], "sync", "sync task", now=2.0)
    found = stores.jobs.jobs_for_scene(5)
    assert [(job.scene_ids, busy) for job, busy in found] == [([3, 5], False)]
    stores.dead_letters.add(DeadLetterEntry(50, "{}", "PermanentError", "permanent", "no", 1, 1.0, 1.0))
    assert stores.dead_letters.for_scene(5) is None and stores.dead_letters.for_scene(50).message == "no"
