"""The edit PUTs of one item: as few as fit, split further when Plex or its proxy refuses one as
too long, and episode actors on their own once Plex refused them.

`EditPlan.requests()` packs the edit into PUTs whose request line stays under 8,000 bytes
(plex/writer.py). A PUT refused anyway as too long (`RequestTooLong`: nginx's 414, or Plex's
HTML 400 on a long URL) is sent again in halves, down to `MIN_QUERY`; a single field still
refused at that size is left out with one warning naming the scene, and the rest of the scene
is written (never a dead letter). What real Plex does with episode actors is unverified
(REAL-SERVERS.md P1): they ride in the same PUT until Plex refuses an episode edit carrying
them; that edit is sent again without them, and from then on this process sends episode actors
in a PUT of their own, whose refusal alone is a warning.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

from common.errors import PermanentError, RequestTooLong
from common.log import get_logger
from common.models import Scene
from plex.client import PlexClient
from plex.fields import ACTOR
from plex.writer import QUERY_MAX, EditPlan, ItemState, packed, query_len

log = get_logger("plex")
MIN_QUERY = 1_000  # a PUT refused as too long is halved down to this


def fields_of(params: Dict[str, Any]) -> Tuple[str, ...]:
    """The field names edit parameters are about (`genre[0].tag.tag` -> genre)."""
    return tuple(sorted({key.split(".")[0].split("[")[0] for key in params}))


class EditRequests:
    """One per PlexTarget (what it learnt about episode actors holds for the process)."""

    def __init__(self, client: PlexClient) -> None:
        self.client = client
        self._episode_actors_alone = False  # set once Plex refused an episode edit carrying actors

    def send(self, scene: Scene, item: ItemState, plan: EditPlan) -> None:
        """Every PUT of `plan`; a field Plex refused alone is dropped from `plan.written`."""
        if item.type == "episode" and ACTOR in plan.groups and not self._episode_actors_alone:
            if self._send_together(scene, item, plan):
                return
        alone = (ACTOR,) if item.type == "episode" else ()
        for params in plan.requests(alone):
            if alone and fields_of(params) == alone:
                try:
                    self._edit(scene, item, params, plan)
                except PermanentError as exc:
                    plan.written.pop(ACTOR, None)
                    log.warning("scene %s: Plex refused the performers of episode %s, the rest is written (%s)",
                                scene.id, item.rating_key, exc)
                continue
            self._edit(scene, item, params, plan)

    def _send_together(self, scene: Scene, item: ItemState, plan: EditPlan) -> bool:
        """An episode's edit with its actors in it; False once Plex refused that (send it again apart)."""
        for params in plan.requests():
            try:
                self._edit(scene, item, params, plan)
            except PermanentError:
                if not any(key.startswith(ACTOR) for key in params):
                    raise
                self._episode_actors_alone = True
                log.info("Plex refused an episode edit carrying performers: they go in an edit of their own")
                return False
        return True

    def _edit(self, scene: Scene, item: ItemState, params: Dict[str, Any], plan: EditPlan,
              limit: int = QUERY_MAX) -> None:
        """One PUT; refused as too long (414, or Plex's HTML 400), it is sent again in halves.

        A single field's parameters that are still refused at the smallest size are left out with
        one warning naming the scene (never a dead letter: the rest of the scene is written)."""
        try:
            self.client.edit(item, params, fields_of(params))
            return
        except RequestTooLong:
            smaller = max(MIN_QUERY, min(limit, query_len(params)) // 2)
        groups = [{k: v for k, v in params.items() if fields_of({k: v})[0] == name} for name in fields_of(params)]
        chunks = packed(groups, smaller)
        if len(chunks) > 1:
            for chunk in chunks:
                self._edit(scene, item, chunk, plan, smaller)
            return
        for name in fields_of(params):
            plan.written.pop(name, None)
        log.warning("scene %s: Plex refused the %s of item %s as too long; the rest is written", scene.id,
                    ", ".join(fields_of(params)), item.rating_key)
