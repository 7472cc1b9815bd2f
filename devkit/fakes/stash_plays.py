"""Scene plays and activity in the fake Stash, with Stash's own semantics (PLAYS.md section 2).

Kept apart from stash_store.py (scenes and metadata) because the rules differ, and a test must
be able to catch a double count:
- `sceneAddPlay(id, times)` inserts one row per time, duplicates included (no unique
  constraint); no times = one play at now. Times are stored to the second, in UTC.
- `play_count` = number of rows; `last_played_at` = the newest row; `play_history` newest first.
- `sceneDeletePlay(times)` removes at most one row per given time (exact second); no times =
  the newest row. `sceneResetPlayCount` removes every row.
- `sceneSaveActivity(resume_time, playDuration)` sets resume_time and ADDS playDuration
  (null leaves a field alone); `sceneResetActivity` sets the chosen fields to 0.
- `sceneUpdate.resume_time` is ignored (Stash's resolver never reads it).
- none of them fires a hook, and none moves `updated_at`.
Timestamp input: RFC3339, "2006-01-02", "2006-01-02 15:04:05" (UTC), "<4h" (past), ">5m" (future).

Test aids: `plays_of(store)` -> ScenePlays; the server control POST /__fake__/plays {"id"}
answers {"play_history": [...], "resume_time", "play_duration"}; `mutation_count` counts writes.
"""
from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Optional

from devkit.fakes.stash_store import StashError, StashStore, format_time

if TYPE_CHECKING:
    from devkit.fakes.stash_server import FakeStashServer

_RELATIVE = re.compile(r"^([<>])(\d+)([smhdwy])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}
Resolve = Callable[[str, str, Callable], None]


class ScenePlays:
    """Every scene's view dates (epoch seconds), resume time and play duration."""

    def __init__(self, store: StashStore) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.views: dict[int, list[int]] = {}
        self.resume: dict[int, float] = {}
        self.duration: dict[int, float] = {}
        self.mutation_count = 0

    def _require(self, scene_id: Any) -> int:
        scene = int(scene_id)
        if self.store.scene(scene) is None:
            raise StashError(f"scene with id {scene} not found")
        return scene

    def parse_timestamp(self, text: str) -> int:
        relative = _RELATIVE.match(text.strip())
        if relative:
            sign = -1 if relative.group(1) == "<" else 1
            return int(self.store.now()) + sign * int(relative.group(2)) * _UNITS[relative.group(3)]
        for layout in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
            try:
                return int(datetime.strptime(text, layout).replace(tzinfo=timezone.utc).timestamp())
            except ValueError:
                pass
        try:
            return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
        except ValueError:
            raise StashError(f"cannot parse Timestamp {text!r}") from None

    def add_play(self, scene_id: Any, times: Optional[list] = None) -> dict:
        scene = self._require(scene_id)
        stamps = [self.parse_timestamp(t) for t in times] if times else [int(self.store.now())]
        with self.lock:
            self.mutation_count += 1
            self.views.setdefault(scene, []).extend(stamps)
            return self._result(scene)

    def delete_play(self, scene_id: Any, times: Optional[list] = None) -> dict:
        scene = self._require(scene_id)
        with self.lock:
            self.mutation_count += 1
            rows = self.views.setdefault(scene, [])
            if not times:
                if rows:
                    rows.remove(max(rows))
            else:
                for stamp in (self.parse_timestamp(t) for t in times):
                    if stamp in rows:
                        rows.remove(stamp)
            return self._result(scene)

    def reset_play_count(self, scene_id: Any) -> int:
        scene = self._require(scene_id)
        with self.lock:
            self.mutation_count += 1
            self.views[scene] = []
            return 0

    def save_activity(self, scene_id: Any, resume_time: Optional[float] = None,
                      playDuration: Optional[float] = None) -> bool:  # noqa: N803 (Stash's argument name)
        scene = self._require(scene_id)
        with self.lock:
            self.mutation_count += 1
            if resume_time is not None:
                self.resume[scene] = float(resume_time)
            if playDuration is not None:
                self.duration[scene] = self.duration.get(scene, 0.0) + float(playDuration)
            return True

    def reset_activity(self, scene_id: Any, reset_resume: Optional[bool] = None,
                       reset_duration: Optional[bool] = None) -> bool:
        scene = self._require(scene_id)
        with self.lock:
            self.mutation_count += 1
            if reset_resume:
                self.resume[scene] = 0.0
            if reset_duration:
                self.duration[scene] = 0.0
            return True

    def history(self, scene_id: int) -> list[int]:
        with self.lock:
            return sorted(self.views.get(scene_id, []), reverse=True)

    def _result(self, scene: int) -> dict:
        rows = sorted(self.views.get(scene, []), reverse=True)
        return {"count": len(rows), "history": [self._text(t) for t in rows]}

    def _text(self, stamp: int) -> str:
        return format_time(stamp, self.store.utc_offset_minutes)

    def describe(self, scene_id: int) -> dict:
        return {"play_history": [self._text(t) for t in self.history(scene_id)],
                "resume_time": self.resume.get(scene_id, 0.0), "play_duration": self.duration.get(scene_id, 0.0)}


def plays_of(store: StashStore) -> ScenePlays:
    """The play state kept beside a store (created on first use)."""
    plays = getattr(store, "_plays", None)
    if plays is None:
        plays = ScenePlays(store)
        store._plays = plays  # type: ignore[attr-defined]
    return plays


def attach(resolve: Resolve) -> None:
    """Resolvers of the scene play fields and the play and activity mutations."""
    def plays(info: Any) -> ScenePlays:
        return plays_of(info.context.server.store)

    def mutation(method: str) -> Callable:
        def run(source: Any, info: Any, **args: Any) -> Any:
            info.context.started = True
            return getattr(plays(info), method)(**{("scene_id" if k == "id" else k): v for k, v in args.items()})
        return run

    resolve("Scene", "play_history", lambda row, info: [plays(info)._text(t) for t in plays(info).history(row.id)])
    resolve("Scene", "play_count", lambda row, info: len(plays(info).history(row.id)))
    resolve("Scene", "last_played_at", lambda row, info: next(
        (plays(info)._text(t) for t in plays(info).history(row.id)), None))
    resolve("Scene", "resume_time", lambda row, info: plays(info).resume.get(row.id, 0.0))
    resolve("Scene", "play_duration", lambda row, info: plays(info).duration.get(row.id, 0.0))
    resolve("Mutation", "sceneAddPlay", mutation("add_play"))
    resolve("Mutation", "sceneDeletePlay", mutation("delete_play"))
    resolve("Mutation", "sceneResetPlayCount", mutation("reset_play_count"))
    resolve("Mutation", "sceneSaveActivity", mutation("save_activity"))
    resolve("Mutation", "sceneResetActivity", mutation("reset_activity"))


def add_controls(server: "FakeStashServer") -> None:
    server.add_control("plays", lambda payload: plays_of(server.store).describe(int(payload["id"])))
    server.add_control("add_play", lambda payload: plays_of(server.store).add_play(
        int(payload["id"]), payload.get("times")))


def filter_rows(store: StashStore, rows: list, scene_filter: dict) -> list:
    """SceneFilterType's play criteria: resume_time and play_count (IntCriterionInput, resume_time
    compared as Stash does, on the stored float), last_played_at (TimestampCriterionInput on the
    newest play; a scene never played has none)."""
    from devkit.fakes.stash_store import _int_criterion

    plays = plays_of(store)
    if scene_filter.get("resume_time"):
        rows = [r for r in rows if _int_criterion(plays.resume.get(r.id, 0.0), scene_filter["resume_time"])]
    if scene_filter.get("play_count"):
        rows = [r for r in rows if _int_criterion(len(plays.history(r.id)), scene_filter["play_count"])]
    criterion = scene_filter.get("last_played_at")
    if criterion:
        low = plays.parse_timestamp(criterion["value"])
        high = plays.parse_timestamp(criterion["value2"]) if criterion.get("value2") else None
        checks = {"GREATER_THAN": lambda t: t > low, "LESS_THAN": lambda t: t < low, "EQUALS": lambda t: t == low,
                  "BETWEEN": lambda t: high is not None and low <= t <= high}
        if criterion["modifier"] not in checks:
            raise StashError(f"unsupported timestamp modifier {criterion['modifier']}")
        rows = [r for r in rows if plays.history(r.id) and checks[criterion["modifier"]](plays.history(r.id)[0])]
    return rows
