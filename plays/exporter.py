"""Stash → Plex, opt-in (setting plays_to_plex): scenes played in Stash show as played in Plex for
the owner, and Stash's resume points reach Plex.

Plex cannot record a dated play from its API (`/:/scrobble` sets played "now", without a history
row), so a scene played in Stash only marks its unwatched Plex item played; a watched item is
left alone (scrobbling again would bump Plex's view count and date every run). Nothing echoes:
- only Stash plays PlexSync did not bring from Plex count (plays_imported knows those);
- after a write, the item's new state is recorded as "seen" for the importer (plays_resume), so
  the `lastViewedAt` a scrobble sets is not mistaken for a "mark as watched" and imported back;
- a resume point is sent only when it differs from Plex's (by a second or more), from what
  PlexSync last sent, and from what it last brought from Plex: no ping-pong.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Protocol

from plays.importer import RESUME_MIN_SECONDS  # one tolerance both ways: no resume ping-pong
from sync_queue.plays_store import PlaysStore

if TYPE_CHECKING:
    from plex.plays import PlexPlays
    from stash.plays import ScenePlays

EXPORT_WATERMARK = "export_watermark"


class StashActivity(Protocol):
    """What the way back reads of Stash (plays.service.StashGateway)."""

    def played_since(self, since: Optional[int]) -> List["ScenePlays"]: ...

    def resumed(self) -> List["ScenePlays"]: ...


@dataclass
class ExportReport:
    dry_run: bool = False
    marked_played: int = 0
    resume_sent: int = 0
    scenes: List[int] = field(default_factory=list)

    def to_json(self) -> Dict[str, object]:
        return {"marked_played": self.marked_played, "resume_sent": self.resume_sent, "dry_run": self.dry_run}


class PlaysExporter:
    def __init__(self, plex: "PlexPlays", stash: StashActivity, store: PlaysStore, *,
                 clock: Callable[[], float]) -> None:
        self.plex, self.stash, self.store, self.clock = plex, stash, store, clock

    def run(self, dry_run: bool = False) -> ExportReport:
        report = ExportReport(dry_run=dry_run)
        since: Optional[int] = self.store.meta(EXPORT_WATERMARK)
        played = self.stash.played_since(since)
        resumed = self.stash.resumed()
        items = self.store.items_for([s.scene_id for s in played + resumed])
        if not items:
            self._advance(played, dry_run)
            return report
        states = self.plex.view_states(sorted(set(items.values())))
        acted = self.store.resume_seen(sorted(set(items.values())))
        to_mark: List[int] = []
        for scene in played:
            rk = items.get(scene.scene_id)
            state = states.get(rk) if rk is not None else None
            if rk is None or state is None or state.view_count > 0:
                continue
            own = list(scene.history)
            for second in self.store.imported_seconds(scene.scene_id):
                if second in own:
                    own.remove(second)
            if own and (since is None or max(own) > since):
                to_mark.append(rk)
        sent = self.store.exported_resume([s.scene_id for s in resumed])
        to_resume: Dict[int, int] = {}
        exported = []
        for scene in resumed:
            rk = items.get(scene.scene_id)
            state = states.get(rk) if rk is not None else None
            if rk is None or state is None or rk in to_mark:
                continue
            brought = acted.get(rk, (0, 0))[1] / 1000.0
            if (abs(scene.resume_time - state.view_offset_ms / 1000.0) < RESUME_MIN_SECONDS
                    or abs(scene.resume_time - sent.get(scene.scene_id, -10.0)) < RESUME_MIN_SECONDS
                    or abs(scene.resume_time - brought) < RESUME_MIN_SECONDS):
                continue
            to_resume[rk] = int(scene.resume_time * 1000)
            exported.append((scene.scene_id, scene.resume_time))
        report.marked_played, report.resume_sent = len(set(to_mark)), len(to_resume)
        if dry_run:
            return report
        for rk in sorted(set(to_mark)):
            self.plex.mark_played(rk)
        for rk, offset in sorted(to_resume.items()):
            self.plex.set_progress(rk, offset)
        written = sorted(set(to_mark) | set(to_resume))
        if written:  # what Plex says now is PlexSync's own doing: the importer must not bring it back
            after = self.plex.view_states(written)
            self.store.set_resume_seen([(rk, s.last_viewed_at or 0, s.view_offset_ms) for rk, s in after.items()],
                                       self.clock())
        self.store.set_exported_resume(exported, self.clock())
        self._advance(played, dry_run)
        return report

    def _advance(self, played: List["ScenePlays"], dry_run: bool) -> None:
        newest = max((s.last_played_at for s in played if s.last_played_at), default=None)
        if newest is not None and not dry_run:
            self.store.set_meta({EXPORT_WATERMARK: newest})
