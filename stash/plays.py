"""Scene plays and resume points in Stash: read `play_history`, add plays, set resume points.

Stash's play mutations are not idempotent (`sceneAddPlay` with a time it already has adds a
second play; `sceneSaveActivity` ADDS its playDuration) and fire no hook, so callers read
`play_history` first and compare at whole-second UTC, which is how Stash stores it. Writes for
many scenes go in one document of aliased mutations (WRITE_BATCH scenes a request); PlexSync
never sends a playDuration.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from common.datadir import OWN_RATING_WRITE  # the mark PlexSync's hook knows its own rating writes by
from common.errors import PermanentError
from stash.answers import without_missing_scenes
from stash.client import MAX_PAGE_SIZE, StashClient

WRITE_BATCH = 250
READ_BATCH = 500  # scenes per findScenes(ids:) asking only for play fields (small answers)
_FRACTION = re.compile(r"\.\d+")

SCENE_PLAYS = """
query PlexSyncScenePlays($ids: [ID!], $filter: FindFilterType) {
  findScenes(ids: $ids, filter: $filter) {
    scenes { id play_history resume_time play_duration last_played_at rating100 }
  }
}
"""


@dataclass(frozen=True)
class ScenePlays:
    scene_id: int
    history: Tuple[int, ...]  # epoch seconds, UTC, as Stash stores them
    resume_time: float
    play_duration: float
    rating100: Optional[int] = None

    @property
    def last_played_at(self) -> Optional[int]:
        return max(self.history) if self.history else None

    def count_at(self, second: int) -> int:
        return sum(1 for t in self.history if t == second)


def parse_time(text: str) -> int:
    """Stash's RFC3339(Nano) `Time` as whole epoch seconds."""
    clean = _FRACTION.sub("", text.strip()).replace("Z", "+00:00")
    moment = datetime.fromisoformat(clean)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def timestamp(epoch: int) -> str:
    """A Timestamp Stash parses as exactly this second, UTC."""
    return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_plays(client: StashClient, scene_ids: Sequence[int]) -> Dict[int, ScenePlays]:
    """Play state by scene id (READ_BATCH a request); deleted scenes are left out."""
    wanted = list(dict.fromkeys(int(i) for i in scene_ids))
    found: Dict[int, ScenePlays] = {}
    for start in range(0, len(wanted), min(READ_BATCH, MAX_PAGE_SIZE)):
        data = without_missing_scenes(
            wanted[start:start + min(READ_BATCH, MAX_PAGE_SIZE)],
            lambda chunk: client.transport.graphql(SCENE_PLAYS, {"ids": [str(i) for i in chunk],
                                                                 "filter": {"per_page": len(chunk), "page": 1}}))
        if data is None:
            continue
        for raw in (data.get("findScenes") or {}).get("scenes") or ():
            try:
                scene_id = int(raw["id"])
                history = tuple(parse_time(t) for t in raw.get("play_history") or ())
            except (KeyError, TypeError, ValueError):
                raise PermanentError("Stash answered PlexSyncScenePlays with a malformed scene") from None
            found[scene_id] = ScenePlays(scene_id, history, float(raw.get("resume_time") or 0.0),
                                         float(raw.get("play_duration") or 0.0), raw.get("rating100"))
    return found


def add_plays_document(count: int) -> str:
    """`mutation PlexSyncAddPlays` adding plays to `count` scenes (aliases p0..)."""
    params = ", ".join(f"$i{n}: ID!, $t{n}: [Timestamp!]" for n in range(count))
    fields = " ".join(f"p{n}: sceneAddPlay(id: $i{n}, times: $t{n}) {{ count }}" for n in range(count))
    return f"mutation PlexSyncAddPlays({params}) {{ {fields} }}"


def save_resume_document(count: int) -> str:
    """`mutation PlexSyncSaveResume` setting the resume time of `count` scenes, never a duration."""
    params = ", ".join(f"$i{n}: ID!, $r{n}: Float" for n in range(count))
    fields = " ".join(f"r{n}: sceneSaveActivity(id: $i{n}, resume_time: $r{n})" for n in range(count))
    return f"mutation PlexSyncSaveResume({params}) {{ {fields} }}"


def save_ratings_document(count: int) -> str:
    """`mutation PlexSyncSaveRatings` setting rating100 of `count` scenes (aliases s0..)."""
    params = ", ".join(f"$s{n}: SceneUpdateInput!" for n in range(count))
    fields = " ".join(f"s{n}: sceneUpdate(input: $s{n}) {{ id }}" for n in range(count))
    return f"mutation PlexSyncSaveRatings({params}) {{ {fields} }}"


def save_ratings(client: StashClient, ratings: Mapping[int, int]) -> None:
    """Set rating100 (1-100) of these scenes, marked as PlexSync's own write, WRITE_BATCH a request."""
    items = list(ratings.items())
    for start in range(0, len(items), WRITE_BATCH):
        chunk = items[start:start + WRITE_BATCH]
        variables = {f"s{n}": {"id": str(scene), "rating100": int(value), "clientMutationId": OWN_RATING_WRITE}
                     for n, (scene, value) in enumerate(chunk)}
        client.transport.graphql(save_ratings_document(len(chunk)), variables)


def add_plays(client: StashClient, plays: Mapping[int, List[int]]) -> None:
    """Add these plays (scene id -> epoch seconds), WRITE_BATCH scenes a request."""
    items = [(scene, times) for scene, times in plays.items() if times]
    for start in range(0, len(items), WRITE_BATCH):
        chunk = items[start:start + WRITE_BATCH]
        variables: Dict[str, object] = {}
        for n, (scene, times) in enumerate(chunk):
            variables[f"i{n}"] = str(scene)
            variables[f"t{n}"] = [timestamp(t) for t in sorted(times)]
        client.transport.graphql(add_plays_document(len(chunk)), variables)


def save_resume(client: StashClient, resume: Mapping[int, float]) -> None:
    """Set resume points (scene id -> seconds; 0 clears), WRITE_BATCH scenes a request."""
    items = list(resume.items())
    for start in range(0, len(items), WRITE_BATCH):
        chunk = items[start:start + WRITE_BATCH]
        variables: Dict[str, object] = {}
        for n, (scene, seconds) in enumerate(chunk):
            variables[f"i{n}"], variables[f"r{n}"] = str(scene), round(float(seconds), 3)
        client.transport.graphql(save_resume_document(len(chunk)), variables)


def played_since(client: StashClient, since: Optional[int], page_size: int = 1000) -> List[ScenePlays]:
    """Scenes whose last play is after `since` (epoch seconds; None: every scene ever played)."""
    scene_filter: Dict[str, object] = ({"last_played_at": {"value": timestamp(since), "modifier": "GREATER_THAN"}}
                                       if since is not None else {"play_count": {"value": 0, "modifier": "GREATER_THAN"}})
    return _scenes_where(client, scene_filter, page_size)


def resumed(client: StashClient, page_size: int = 1000) -> List[ScenePlays]:
    """Scenes with a resume point."""
    return _scenes_where(client, {"resume_time": {"value": 0, "modifier": "GREATER_THAN"}}, page_size)


def _scenes_where(client: StashClient, scene_filter: Dict[str, object], page_size: int) -> List[ScenePlays]:
    found: List[ScenePlays] = []
    page = 1
    while True:
        data = client.transport.graphql(PLAYED_SINCE, {"scene_filter": scene_filter,
                                              "filter": {"per_page": page_size, "page": page, "sort": "id",
                                                         "direction": "ASC"}})
        scenes = (data.get("findScenes") or {}).get("scenes") or []
        for raw in scenes:
            found.append(ScenePlays(int(raw["id"]), tuple(parse_time(t) for t in raw.get("play_history") or ()),
                                    float(raw.get("resume_time") or 0.0), float(raw.get("play_duration") or 0.0)))
        if len(scenes) < page_size:
            return found
        page += 1


PLAYED_SINCE = """
query PlexSyncPlayedScenes($scene_filter: SceneFilterType, $filter: FindFilterType) {
  findScenes(scene_filter: $scene_filter, filter: $filter) {
    scenes { id play_history resume_time play_duration }
  }
}
"""
