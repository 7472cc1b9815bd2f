"""Plex views → Stash plays, exactly once; the owner's resume points → Stash's resume_time.

Each completed view (a row of Plex's play history) of an item PlexSync matched becomes one
Stash play at its `viewedAt`. Exactly once, whatever happens between runs:
- history is read from an inclusive watermark (`viewedAt>=`), so the watermark's second comes
  back again: rows already recorded (by historyKey) are skipped;
- before adding, Stash's `play_history` is read and compared at whole-second UTC: per (scene,
  second) PlexSync owes as many plays as it has seen views (recorded + new), and adds only what
  Stash lacks. A run killed between writing Stash and recording finds its plays in Stash and
  records them without adding; the same play reported twice (one historyKey) counts once; two
  accounts finishing the same item in the same second count twice;
- the caller holds a lock, so runs never overlap.
Views of items no scene is matched to are parked (counted and named) and imported once a sync
matches the item. An item the owner marked watched (no history row) gives one play at its
`lastViewedAt` when neither PlexSync nor Stash has a view there.

Resume: the owner's `viewOffset` becomes `resume_time` when Plex's view (`lastViewedAt`) is newer
than Stash's last play and than what PlexSync last acted on for that item; a finished view
clears it. Only `resume_time` is written: never a play duration (Stash adds those).

Pure logic over three collaborators (plex.plays.PlexPlays, a Stash gateway, the PlaysStore);
the task, the CLI, the drainer and watch mode build them (plays.service).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Protocol, Sequence, Set, Tuple

from sync_queue.plays_store import LAST_IMPORT, RESUME_WATERMARK, Imported, PlaysStore, Unmatched

if TYPE_CHECKING:
    from plex.client import Section
    from plex.plays import HistoryRow, PlexPlays, ViewState
    from stash.plays import ScenePlays

RATINGS_WATERMARK = "ratings_watermark"

OWNER = 1
MARKED_NEAR_SECONDS = 60  # a lastViewedAt this close to an imported view is that view, not a "mark watched"
RESUME_MIN_SECONDS = 1.0  # resume points closer than this to Stash's are left alone
NAMED_UNMATCHED = 10
PREVIEW_PLAYS = 50
# History is read again from this long before the watermark: a row Plex writes late with an earlier
# viewedAt (a client that reports after coming back online) is still found; known rows cost nothing.
OVERLAP_SECONDS = 3600
STATE_READ_AT = "state_read_at"


class StashPlays(Protocol):
    def read(self, scene_ids: Sequence[int]) -> Dict[int, "ScenePlays"]: ...

    def add(self, plays: Dict[int, List[int]]) -> None: ...

    def save_resume(self, resume: Dict[int, float]) -> None: ...

    def save_ratings(self, ratings: Dict[int, int]) -> None: ...


@dataclass(frozen=True)
class AccountChoice:
    """Whose plays to import: the owner (default), named accounts, or all."""

    ids: Optional[frozenset]  # None: every account

    @property
    def signature(self) -> str:
        return "all" if self.ids is None else ",".join(str(i) for i in sorted(self.ids))

    def wants(self, account_id: int) -> bool:
        return self.ids is None or account_id in self.ids

    @property
    def single(self) -> Optional[int]:
        return next(iter(self.ids)) if self.ids is not None and len(self.ids) == 1 else None

    @property
    def owner(self) -> bool:
        return self.wants(OWNER)


@dataclass
class ImportReport:
    dry_run: bool = False
    history_rows: int = 0
    new_views: int = 0
    plays_added: int = 0
    already_in_stash: int = 0
    other_accounts: int = 0
    other_libraries: int = 0  # views in Plex libraries PlexSync does not sync (setting plex_library)
    unmatched: int = 0
    unmatched_titles: List[str] = field(default_factory=list)
    marked_watched: int = 0
    resume_set: int = 0
    resume_cleared: int = 0
    ratings_set: int = 0
    scenes_written: int = 0
    watermark: Optional[int] = None
    plays: List[Tuple[int, int, int]] = field(default_factory=list)  # (scene, viewed_at, account), for a preview
    exported: Dict[str, object] = field(default_factory=dict)  # the way back (plays.exporter), when on

    def to_json(self) -> Dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class PlaysImporter:
    def __init__(self, plex: "PlexPlays", stash: StashPlays, store: PlaysStore, accounts: AccountChoice, *,
                 resume: bool = True, clock: Callable[[], float], sections: Callable[[], List["Section"]],
                 after_stash_write: Callable[[], None] = lambda: None, ratings: bool = False,
                 state_every: float = 0.0) -> None:
        self.plex, self.stash, self.store, self.accounts = plex, stash, store, accounts
        self.ratings = ratings
        self.state_every = state_every
        self.resume, self.clock, self.sections = resume, clock, sections
        self.after_stash_write = after_stash_write

    # -- the run ----------------------------------------------------------------------------------
    def run(self, dry_run: bool = False) -> ImportReport:
        report = ImportReport(dry_run=dry_run)
        self._viewed: List[Tuple[int, int]] = []  # (rating key, viewedAt) of this run's views (a preview records none)
        self._section_keys: Optional[Set[int]] = None  # the synced libraries, asked once a run if a view needs it
        signature = self.accounts.signature
        watermark = self.store.watermark(signature)
        report.watermark = watermark
        seen: Set[str] = set()
        since = None if watermark is None else watermark - OVERLAP_SECONDS
        for page in self.plex.history(since, self.accounts.single):
            report.history_rows += len(page)
            fresh = []
            known = self.store.known_keys([view_key(row) for row in page])
            for row in page:
                if view_key(row) in known or view_key(row) in seen:
                    continue
                seen.add(view_key(row))
                if not self.accounts.wants(row.account_id):
                    report.other_accounts += 1
                    continue
                if not self._synced_library(row.section_id):
                    report.other_libraries += 1
                    continue
                fresh.append(row)
            report.new_views += len(fresh)
            self._import_views([(view_key(r), r.rating_key, r.account_id, r.viewed_at, r.title) for r in fresh],
                               report, dry_run)
            if page and not dry_run:
                newest = max(row.viewed_at for row in page)
                if watermark is None or newest > watermark:
                    watermark = newest
                    self.store.set_watermark(signature, watermark)
        report.watermark = watermark
        parked = [row for row in self.store.unmatched() if self.accounts.wants(row[2])]
        if parked:  # items a sync has matched since
            now_matched = self.store.scenes_for([row[1] for row in parked])
            self._import_views([row for row in parked if row[1] in now_matched], report, dry_run, parked=True)
        if self._state_due(report, dry_run):
            if self.resume and self.accounts.owner:
                self._owner_state(report, dry_run)
            if self.ratings:
                self._ratings(report, dry_run)
        report.unmatched = report.unmatched if dry_run else self.store.unmatched_count()
        if not report.unmatched_titles and not dry_run:
            report.unmatched_titles = [row[4] for row in self.store.unmatched(NAMED_UNMATCHED)]
        if not dry_run:
            self.store.set_meta({LAST_IMPORT: {"at": self.clock(), **{k: v for k, v in report.to_json().items()
                                                                    if k != "plays"}}})
        return report

    def _synced_library(self, section_id: int) -> bool:
        """Is a view's library one PlexSync syncs? (Views of family films in another library are
        not PlexSync's to match, name or wait for; a row without a library counts as synced.)"""
        if self._section_keys is None:
            self._section_keys = {section.key for section in self.sections()}
        return not section_id or section_id in self._section_keys

    def _state_due(self, report: ImportReport, dry_run: bool) -> bool:
        """Whether this run reads the owner's item state (one listing per library), on top of history.

        History is the one request every run makes: a completed view is a row in it
        (../shared/plex/openapi.yaml l.3706, /status/sessions/history/all). Resume points and "mark as
        watched" are not: they live only in the owner's per-item state (openapi.yaml l.417, /:/scrobble:
        "this does not create any view history of this item"; viewOffset is per item, PLAYS.md 1a),
        which this reads per library (openapi.yaml l.7878, /library/sections/{sectionId}/all, filtered
        on lastViewedAt). So the listings run when
        `state_every` is 0 (task, CLI, watch mode: always), when this run found a new view (a finished
        view changes the state), or when the last listing is `state_every` seconds old (the drainer:
        a nothing-new catch-up costs the one history request; a mark-watched or a half-watched play
        arrives within `state_every`, and in seconds with watch mode)."""
        if self.state_every <= 0 or report.new_views:
            due = True
        else:
            last = float(self.store.meta(STATE_READ_AT, 0) or 0)
            due = self.clock() - last >= self.state_every
        if due and not dry_run:
            self.store.set_meta({STATE_READ_AT: self.clock()})
        return due

    # -- views → plays ----------------------------------------------------------------------------
    def _import_views(self, views: Sequence[Unmatched], report: ImportReport, dry_run: bool,
                      parked: bool = False) -> None:
        """views: (history_key, rating_key, account, viewed_at, title)."""
        if not views:
            return
        scenes_of = self.store.scenes_for({v[1] for v in views})
        matched: List[Imported] = []
        unmatched: List[Unmatched] = []
        for key, rating_key, account, viewed_at, title in views:
            self._viewed.append((rating_key, viewed_at))
            scenes = scenes_of.get(rating_key)
            if not scenes:
                unmatched.append((key, rating_key, account, viewed_at, title))
                continue
            matched.extend((key, scene, rating_key, account, viewed_at) for scene in scenes)
        if unmatched and not parked:
            report.unmatched += len(unmatched)
            report.unmatched_titles.extend(v[4] for v in unmatched[:NAMED_UNMATCHED - len(report.unmatched_titles)])
            if not dry_run:
                self.store.park_unmatched(unmatched)
        self._write_plays(matched, report, dry_run)

    def _write_plays(self, matched: List[Imported], report: ImportReport, dry_run: bool) -> None:
        if not matched:
            return
        new_per_second = Counter((scene, viewed_at) for _, scene, _, _, viewed_at in matched)
        owed = self.store.owed(new_per_second)
        in_stash = self.stash.read(sorted({scene for scene, _ in new_per_second}))
        adds: Dict[int, List[int]] = defaultdict(list)
        recorded: List[Imported] = []
        rows_at: Dict[Tuple[int, int], List[Imported]] = defaultdict(list)
        for row in matched:
            rows_at[(row[1], row[4])].append(row)
        for (scene, second), new in sorted(new_per_second.items()):
            plays = in_stash.get(scene)
            if plays is None:  # the scene was deleted in Stash: nothing to add to
                continue
            missing = owed.get((scene, second), 0) + new - plays.count_at(second)
            adds[scene].extend([second] * max(0, missing))
            report.already_in_stash += new - max(0, min(new, missing))
            recorded.extend(rows_at[(scene, second)])
        added = sum(len(times) for times in adds.values())
        report.plays_added += added
        report.scenes_written += sum(1 for times in adds.values() if times)
        if dry_run:
            accounts = {(row[1], row[4]): row[3] for row in matched}
            report.plays.extend((scene, t, accounts.get((scene, t), OWNER))
                                for scene, times in adds.items() for t in times
                                if len(report.plays) < PREVIEW_PLAYS)
            return
        if added:
            self.stash.add({scene: times for scene, times in adds.items() if times})
            self.after_stash_write()
        self.store.record(recorded, self.clock())

    # -- the owner's item state: marked watched, resume points --------------------------------------
    def _owner_state(self, report: ImportReport, dry_run: bool) -> None:
        since = int(self.store.meta(RESUME_WATERMARK, 0) or 0)
        states = []
        newest = since
        for section in self.sections():
            for state in self.plex.viewed_items(section, since):
                if state.last_viewed_at:
                    newest = max(newest, state.last_viewed_at)
                    states.append(state)
        scenes_of = self.store.scenes_for([s.rating_key for s in states])
        states = [s for s in states if s.rating_key in scenes_of]
        acted = self.store.resume_seen([s.rating_key for s in states])
        changed = [s for s in states if acted.get(s.rating_key) != (s.last_viewed_at, s.view_offset_ms)]
        if changed:
            self._marked_watched([s for s in changed if s.view_count > 0 and s.view_offset_ms == 0], scenes_of,
                                 report, dry_run)
            self._resume_points(changed, scenes_of, acted, report, dry_run)
        if not dry_run:
            self.store.set_resume_seen([(s.rating_key, s.last_viewed_at or 0, s.view_offset_ms) for s in changed],
                                       self.clock())
            self.store.set_meta({RESUME_WATERMARK: newest})

    def _ratings(self, report: ImportReport, dry_run: bool) -> None:
        """The owner's ratings made in Plex since the last import → rating100 (PlexSync's own hook
        ignores the write, so it does not go back to Plex)."""
        since = int(self.store.meta(RATINGS_WATERMARK, 0) or 0)
        rated = [s for section in self.sections() for s in self.plex.viewed_items(section, since, "lastRatedAt")
                 if s.last_rated_at and s.user_rating is not None]
        if not rated:
            return
        scenes_of = self.store.scenes_for([s.rating_key for s in rated])
        in_stash = self.stash.read(sorted({scene for s in rated for scene in scenes_of.get(s.rating_key, [])}))
        ratings: Dict[int, int] = {}
        for state in rated:
            wanted = stash_rating(state.user_rating or 0.0)  # rated: not None
            for scene in scenes_of.get(state.rating_key, []):
                plays = in_stash.get(scene)
                if wanted is not None and plays is not None and plays.rating100 != wanted:
                    ratings[scene] = wanted
        report.ratings_set = len(ratings)
        if dry_run:
            return
        if ratings:
            self.stash.save_ratings(ratings)
        self.store.set_meta({RATINGS_WATERMARK: max(s.last_rated_at or 0 for s in rated)})

    def _marked_watched(self, watched: List["ViewState"], scenes_of: Dict[int, List[int]], report: ImportReport,
                        dry_run: bool) -> None:
        views = []
        for state in watched:
            at = state.last_viewed_at or 0  # _owner_state keeps only states with a time
            if self.store.has_view_near(state.rating_key, at, MARKED_NEAR_SECONDS) or any(
                    rk == state.rating_key and abs(t - at) <= MARKED_NEAR_SECONDS for rk, t in self._viewed):
                continue
            if self._history_near(state.rating_key, at):  # a view finished after this run read history
                continue
            views.append((f"marked:{state.rating_key}:{at}", state.rating_key, OWNER, at, ""))
        if not views:
            return
        known = self.store.known_keys([v[0] for v in views])
        fresh = [v for v in views if v[0] not in known]
        matched: List[Imported] = [(key, scene, rk, account, at) for key, rk, account, at, _ in fresh
                                   for scene in scenes_of[rk]]
        before = report.plays_added
        self._write_plays(matched, report, dry_run)
        report.marked_watched += report.plays_added - before

    def _history_near(self, rating_key: int, at: int) -> bool:
        """Does Plex's history have a view of this item near `at`? (one request; only for an item that
        looks marked watched, which is rare)"""
        for page in self.plex.history(at - MARKED_NEAR_SECONDS, rating_key=rating_key):
            if any(abs(row.viewed_at - at) <= MARKED_NEAR_SECONDS for row in page):
                return True
        return False

    def _resume_points(self, changed: List["ViewState"], scenes_of: Dict[int, List[int]],
                       acted: Dict[int, Tuple[int, int]], report: ImportReport, dry_run: bool) -> None:
        in_stash = self.stash.read(sorted({scene for s in changed for scene in scenes_of[s.rating_key]}))
        resume: Dict[int, float] = {}
        for state in changed:
            before = acted.get(state.rating_key)
            viewed_at = state.last_viewed_at or 0  # _owner_state keeps only states with a time
            if before is not None and viewed_at <= before[0] and state.view_offset_ms == before[1]:
                continue
            for scene in scenes_of[state.rating_key]:
                plays = in_stash.get(scene)
                if plays is None:
                    continue
                last = plays.last_played_at
                if state.view_offset_ms > 0:
                    if last is not None and viewed_at <= last:
                        continue  # Stash has a newer play: its state wins
                    seconds = state.view_offset_ms / 1000.0
                    if abs(seconds - plays.resume_time) >= RESUME_MIN_SECONDS:
                        resume[scene] = seconds
                        report.resume_set += 1
                elif state.view_count > 0 and plays.resume_time > 0 and (last is None or viewed_at >= last):
                    resume[scene] = 0.0
                    report.resume_cleared += 1
        if resume and not dry_run:
            self.stash.save_resume(resume)


def view_key(row: "HistoryRow") -> str:
    """A history row's identity: its historyKey and its time (a Plex database rebuilt from scratch
    numbers its history from 1 again; the time keeps a new view from passing for an old one)."""
    return f"{row.history_key}@{row.viewed_at}"


def stash_rating(user_rating: float) -> Optional[int]:
    """Plex's 0-10 (stars x 2) as Stash's rating100; 0 is no rating."""
    value = int(round(user_rating * 10))
    return min(100, value) if value >= 1 else None


def parse_accounts(text: str, known: Callable[[], Dict[int, str]]) -> AccountChoice:
    """The setting: "" = the owner; "all"; or account names / ids, comma-separated."""
    words = [w.strip() for w in (text or "").split(",") if w.strip()]
    if not words:
        return AccountChoice(frozenset({OWNER}))
    if any(w.lower() in ("all", "*") for w in words):
        return AccountChoice(None)
    ids: Set[int] = set()
    accounts: Dict[int, str] = {}
    for word in words:
        if word.isdigit():
            ids.add(int(word))
            continue
        accounts = accounts or known()
        found = [aid for aid, name in accounts.items() if name.casefold() == word.casefold()]
        if not found:
            from common.errors import ConfigurationError
            from common.settings import WHERE

            raise ConfigurationError(f"plays_accounts names {word!r}, which is not an account of this Plex server "
                                     f"(its accounts: {', '.join(sorted(accounts.values())) or 'none'}): {WHERE}")
        ids.update(found)
    return AccountChoice(frozenset(ids))


def describe(report: ImportReport) -> List[str]:
    verb = "would add" if report.dry_run else "added"
    lines = [f"history rows read: {report.history_rows:,}; new views: {report.new_views:,}",
             f"plays {verb} to Stash: {report.plays_added:,} on {report.scenes_written:,} scenes"
             + (f" ({report.marked_watched:,} from items marked watched)" if report.marked_watched else ""),
             f"already in Stash: {report.already_in_stash:,}"]
    if report.other_accounts:
        lines.append(f"views of other accounts left out: {report.other_accounts:,} (setting plays_accounts)")
    if report.other_libraries:
        lines.append(f"views in Plex libraries PlexSync does not sync, left out: {report.other_libraries:,} "
                     "(setting plex_library)")
    if report.unmatched:
        lines.append(f"views of Plex items no scene is matched to: {report.unmatched:,} ("
                     + ", ".join(repr(t) for t in report.unmatched_titles[:NAMED_UNMATCHED]) + ")")
    if report.ratings_set:
        lines.append(f"ratings from Plex {'to set' if report.dry_run else 'set'}: {report.ratings_set:,}")
    if report.resume_set or report.resume_cleared:
        lines.append(f"resume points {'to set' if report.dry_run else 'set'}: {report.resume_set:,}, "
                     f"{'to clear' if report.dry_run else 'cleared'}: {report.resume_cleared:,}")
    lines.append(f"watermark: {report.watermark if report.watermark is not None else 'none (first import)'}")
    if report.exported:
        lines.append(f"Stash → Plex: {'would mark' if report.dry_run else 'marked'} "
                     f"{report.exported['marked_played']:,} items played for the owner, "
                     f"{report.exported['resume_sent']:,} resume points")
    return lines

