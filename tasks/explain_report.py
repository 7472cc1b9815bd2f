"""The explain task's verdict: from the facts gathered about one scene, its cause and its fix.

Pure functions of `Facts` (no I/O), so every state reads the same in Stash's log, on the
command line and in `--json`: the first line names the cause, the sections show the evidence
(files, path_map rules, the matcher's steps and candidates, the Plex item, the last write, the
queue and the dead letter), and the last line says the exact setting or action that fixes it.
Every list is capped (MAX_SHOWN, then "... and N more") and long text is cut.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence, Tuple, TypedDict

from common.models import Scene, SyncRecord
from common.pathmap import PathRule, map_path
from common.settings import WHERE, Settings
from sync_queue.drainer_status import DrainerState
from tasks.context import TaskResult, plural, when

if TYPE_CHECKING:
    from plex.client import Section
    from plex.matcher import MatchResult, Probe
    from plex.plays import HistoryRow
    from plex.writer import ItemState
    from sync_queue.dead_letters import DeadLetter
    from sync_queue.jobs import Job

MAX_SHOWN = 10
MAX_TEXT = 300
MAX_LINE = 1000  # Stash's log reader breaks on very long lines
SYNC_ACTION = "run the task 'Sync changed scenes' (python PlexSync.py sync)"
RETRY_ACTION = "run the task 'Retry failed jobs' (python PlexSync.py dlq retry)"


class Verdict(TypedDict):
    """A Plex item a lookup found for the scene, and why it was taken or refused."""

    rating_key: int
    path: str
    verdict: str


@dataclass
class Facts:
    """What explain found; `result`, `trace`... stay empty until Plex was asked."""

    scene: Scene
    settings: Settings
    now: float
    record: Optional[SyncRecord] = None
    jobs: List[Tuple["Job", bool]] = field(default_factory=list)  # (job, in progress)
    dead_letter: Optional["DeadLetter"] = None
    drainer: DrainerState = field(default_factory=DrainerState)
    drainer_running: bool = False
    result: Optional["MatchResult"] = None
    trace: List["Probe"] = field(default_factory=list)
    sections: List["Section"] = field(default_factory=list)
    file_sections: List[Optional["Section"]] = field(default_factory=list)  # the library of each mapped path
    item: Optional["ItemState"] = None
    item_error: str = ""
    plex_error: str = ""  # Plex could not be asked (settings, token, unreachable)
    written: Dict[str, object] = field(default_factory=dict)
    would_write: bool = False
    plex_views: List["HistoryRow"] = field(default_factory=list)  # the matched item's completed views

    @property
    def mapped_paths(self) -> Tuple[str, ...]:
        return tuple(map_path(f.path, self.settings.path_rules) for f in self.scene.files)


def render(facts: Facts) -> TaskResult:
    """The report: cause first, the evidence, the fix last."""
    state, cause, fix = diagnose(facts)
    scene = facts.scene
    title = f"Explain scene {scene.id}" + (f" {_cut(scene.title, 60)!r}" if scene.title else "")
    lines = [f"cause: {cause}"]
    lines += _files(facts) + _mapping(facts) + _matching(facts) + _item(facts) + _written(facts) + _queue(facts)
    lines.append(f"fix: {fix}")
    data = {"mode": "explain", "scene_id": scene.id, "state": state, "cause": cause, "fix": fix,
            "files": [f.path for f in scene.files[:MAX_SHOWN]], "mapped_paths": list(facts.mapped_paths[:MAX_SHOWN]),
            "match": facts.result.status if facts.result else None,
            "rating_key": facts.result.rating_key if facts.result else None,
            "candidates": [c["path"] for c in _candidates(facts)[:MAX_SHOWN]],
            "last_written_at": facts.record.synced_at if facts.record else None,
            "queued_jobs": len(facts.jobs), "dead_letter": facts.dead_letter.message if facts.dead_letter else None}
    shown = [line if len(line) <= MAX_LINE else line[:MAX_LINE - 1] + "…" for line in lines]
    return TaskResult(title, shown, data)


# -- the verdict ------------------------------------------------------------------------------

def diagnose(facts: Facts) -> Tuple[str, str, str]:
    """(state, cause, fix) for the scene, most blocking problem first."""
    from plex.matcher import AMBIGUOUS, MATCHED

    scene, settings, result = facts.scene, facts.settings, facts.result
    if not scene.files:
        return ("no_files", "the scene has no files in Stash, and PlexSync finds Plex items by file path",
                "scan the scene's file into Stash (Tasks → Scan), then " + SYNC_ACTION)
    if facts.plex_error:
        also = (f"; it is also dead-lettered: {_cut(facts.dead_letter.message, MAX_TEXT)}"
                if facts.dead_letter is not None else "")
        return ("plex_error", f"PlexSync cannot ask Plex about it: {_cut(facts.plex_error, MAX_TEXT)}{also}",
                "fix what that names (the 'Health check' task, python PlexSync.py health, checks each step), "
                "then explain the scene again")
    assert result is not None  # without a plex_error, Plex was asked (tasks.explain._read_plex)
    problem = None
    if result is not None and result.status == AMBIGUOUS:
        problem = _ambiguous(facts)
    elif result is not None and result.status != MATCHED:
        problem = _missing(facts)
    if facts.dead_letter is not None:
        letter = facts.dead_letter
        cause = (f"dead-lettered after {plural(letter.attempts, 'attempt')} ({letter.error_kind}, last "
                 f"{when(letter.last_failed_at, facts.now)}): {_cut(letter.message, MAX_TEXT)}")
        if problem is not None:
            return "dead_lettered", cause, f"{problem[2]}; then {RETRY_ACTION}"
        if letter.error_kind == "configuration":
            return "dead_lettered", cause, f"fix the setting the error names in {WHERE}, then {RETRY_ACTION}"
        return "dead_lettered", cause, f"it matches Plex item {result.rating_key} now: {RETRY_ACTION}"
    if problem is not None:
        return problem
    if facts.item_error:
        return ("item_gone", f"its Plex item {result.rating_key} is gone: {_cut(facts.item_error, MAX_TEXT)}",
                "let Plex finish scanning the library, then " + SYNC_ACTION)
    if facts.jobs:
        return _queued(facts)
    guessed = "+similarity" in (result.step if result else "")
    if facts.record is not None and facts.record.rating_key == result.rating_key and not facts.would_write:
        return ("in_step", f"nothing is wrong: Plex item {result.rating_key} holds what Stash says (last written "
                           f"{when(facts.record.synced_at, facts.now)})" + (_GUESSED if guessed else ""),
                "nothing to fix" + ("; to stop guessing, remove the duplicate in Plex" if guessed else ""))
    if facts.record is None:
        what = "it was never written to Plex"
    elif facts.record.rating_key != result.rating_key:
        what = f"it was written to Plex item {facts.record.rating_key}, but now matches item {result.rating_key}"
    else:
        what = f"Stash has changes that Plex item {result.rating_key} does not have yet"
    note = _GUESSED if guessed else ""
    if not settings.enabled:
        return ("disabled", f"{what}, and sync as changes happen is off (setting `enabled`), so its edits are "
                            f"not queued{note}",
                f"turn on 'Sync changes as they happen' (enabled) in {WHERE}, or {SYNC_ACTION}")
    return ("never_synced" if facts.record is None else "changed",
            f"{what}, and nothing is queued for it{note}", SYNC_ACTION)


_GUESSED = "; several Plex items have its file and strict_matching is off, so the most alike path was taken"


def _ambiguous(facts: Facts) -> Tuple[str, str, str]:
    result = facts.result
    assert result is not None
    unmapped = [f.path for f in facts.scene.files if _rule_used(facts, f.path) is None]
    cause = (f"ambiguous: {plural(len(result.candidates), 'Plex file')} match it by {_step_name(result.step)} "
             f"and strict_matching is on, so PlexSync will not guess")
    fix = "remove the duplicate items in Plex"
    if unmapped:
        fix += f", or add a path_map rule for {_folder(unmapped[0])} so the full path matches one item"
    return "ambiguous", cause, fix + f", or turn strict_matching off in {WHERE}"


def _missing(facts: Facts) -> Tuple[str, str, str]:
    files = facts.scene.files
    mapped = facts.mapped_paths
    inside = [(path, section) for path, section in zip(mapped, facts.file_sections) if section is not None]
    if inside:
        path, section = inside[0]
        cause = f"not in Plex yet: Plex has no file at {path} (in the folders of library {section.title!r})"
        fix = f"let Plex scan library {section.title!r}"
        if not facts.settings.trigger_plex_scan:
            fix += f", or turn on 'Ask Plex to scan new scenes' (trigger_plex_scan) in {WHERE}"
        then = "the queued retry then syncs it" if facts.jobs else "then " + SYNC_ACTION
        return "not_in_plex", cause + _retry_note(facts), f"{fix}; {then}"
    folders = "; ".join(f"{s.title!r}: {', '.join(s.locations)}" for s in facts.sections[:MAX_SHOWN]) or "none"
    first = files[0].path
    if all(_rule_used(facts, f.path) is None for f in files):
        rules = facts.settings.path_map or "(empty)"
        cause = (f"unmapped path: no path_map rule applies to {first} (path_map: {rules}), and Plex's library "
                 f"folders do not hold it ({folders})")
        fix = (f"add a rule `{_folder(first)}=>FOLDER AS PLEX SEES IT` to path_map in {WHERE} (or add that "
               "folder to a Plex library)")
        return "unmapped", cause, fix
    # the first file a rule applies to (the first file itself unless only a later one is mapped)
    rule, shown = next((rule, path) for rule, path in ((_rule_used(facts, f.path), m) for f, m in zip(files, mapped))
                       if rule is not None)
    cause = (f"mapped path unknown to Plex: path_map rule `{rule.stash_prefix}=>{rule.plex_prefix}` gives "
             f"{shown}, which is in none of the library folders PlexSync syncs ({folders})")
    fix = (f"correct that rule in path_map in {WHERE} so it gives the path Plex shows for the file, or add the "
           "folder to a Plex library (and to plex_library, if that setting names libraries)")
    return "mapped_outside_plex", cause, fix


def _queued(facts: Facts) -> Tuple[str, str, str]:
    from tasks.drain import paused_on

    job, busy = facts.jobs[0]
    state = _job_state(job, busy, facts.now)
    cause = f"queued and not written yet: {job.event} job ({_cut(job.reason, 80)}), {state}"
    if job.last_error:
        cause += f"; last error: {_cut(job.last_error, MAX_TEXT)}"
    paused = paused_on(facts.drainer)
    if paused:
        return "queued", cause, f"the drainer is paused: {_cut(paused, MAX_TEXT)}"
    if not facts.drainer_running and not busy:
        return "queued", cause, "run the task 'Process queue now' (python PlexSync.py process-queue)"
    return "queued", cause, "nothing to do: the background drainer is working through the queue"


def _retry_note(facts: Facts) -> str:
    later = [job for job, busy in facts.jobs if not busy and job.not_before > facts.now]
    return f"; a retry is scheduled {when(later[0].not_before, facts.now)}" if later else ""


# -- the evidence -----------------------------------------------------------------------------

def _files(facts: Facts) -> List[str]:
    files = facts.scene.files
    lines = [f"files in Stash: {len(files)}"]
    for number, scene_file in enumerate(files[:MAX_SHOWN], 1):
        size = f" ({scene_file.size:,} bytes)" if scene_file.size else ""
        lines.append(f"  {number}. {scene_file.path}{size}")
    return lines + _more(len(files), "files")


def _mapping(facts: Facts) -> List[str]:
    rules = facts.settings.path_rules
    lines = [f"path mapping: {plural(len(rules), 'path_map rule')}" + ("" if rules else " (Plex is expected to "
                                                                           "see Stash's paths)")]
    for number, (scene_file, mapped) in enumerate(zip(facts.scene.files[:MAX_SHOWN], facts.mapped_paths), 1):
        used = _rule_used(facts, scene_file.path)
        for rule in rules[:MAX_SHOWN]:
            result = rule.apply(scene_file.path)
            verdict = (f"→ {result}" + (" (used)" if rule == used else " (a longer rule won)") if result is not None
                       else "does not apply")
            lines.append(f"  file {number}: `{rule.stash_prefix}=>{rule.plex_prefix}` {verdict}")
        lines += [f"  {line}" for line in _more(len(rules), "rules")]
        if used is None:
            lines.append(f"  file {number}: no rule applies: looked up in Plex as {mapped}")
        section = facts.file_sections[number - 1] if number <= len(facts.file_sections) else None
        if facts.sections:
            lines.append(f"  file {number}: " + (f"in the folders of Plex library {section.title!r}" if section else
                                                 "in none of the library folders PlexSync syncs"))
    return lines + _more(len(facts.scene.files), "files")


def _matching(facts: Facts) -> List[str]:
    if facts.result is None:
        return []
    strict = "on" if facts.settings.strict_matching else "off"
    lines = [f"matching (strict_matching {strict}): {facts.result.status}"
             + (f" by {_step_name(facts.result.step)}" if facts.result.step else "")]
    for probe in facts.trace[:MAX_SHOWN]:
        found = plural(len(probe.found), "item") if probe.found else "nothing"
        refused = f", {len(probe.refused)} refused (another file size)" if probe.refused else ""
        lines.append(f"  {_step_name(probe.step)} {probe.key!r}: {found}{refused}")
    lines += [f"  {line}" for line in _more(len(facts.trace), "lookups")]
    candidates = _candidates(facts)
    if candidates:
        lines.append(f"candidates: {len(candidates)}")
        for entry in candidates[:MAX_SHOWN]:
            lines.append(f"  Plex item {entry['rating_key']} {entry['path']}: {entry['verdict']}")
        lines += [f"  {line}" for line in _more(len(candidates), "candidates")]
    return lines


def _candidates(facts: Facts) -> List["Verdict"]:
    """Every item a lookup found, with why it was taken or refused."""
    from plex.matcher import AMBIGUOUS, similarity

    result = facts.result
    if result is None:
        return []
    entries: Dict[Tuple[int, int, str], Verdict] = {}
    sizes = [f.size for f in facts.scene.files if f.size]
    for probe in facts.trace:
        for candidate in probe.refused:
            entries.setdefault((candidate.section_id, candidate.rating_key, candidate.path), {
                "rating_key": candidate.rating_key, "path": candidate.path,
                "verdict": f"refused: same file name, another size (Plex {candidate.size or 0:,} bytes, Stash "
                           f"{', '.join(f'{s:,}' for s in sizes) or 'unknown'})"})
    deciding = tuple(facts.trace[-1].found) if facts.trace else ()  # the lookup that decided, if any
    for candidate in deciding:
        key = (candidate.section_id, candidate.rating_key, candidate.path)
        if result.status == AMBIGUOUS:
            verdict = (f"refused: one of {plural(len(result.candidates), 'Plex file')} found by "
                       f"{_step_name(result.step)}, and strict_matching is on")
        elif candidate.rating_key == result.rating_key:
            verdict = f"taken: {_step_name(result.step)}"
        else:
            alike = max(similarity(candidate.path, path) for path in facts.mapped_paths)
            taken = max((similarity(c.path, path) for c in deciding if c.rating_key == result.rating_key
                         for path in facts.mapped_paths), default=alike)
            verdict = (f"refused: its path is less like the scene's than item {result.rating_key}'s" if alike < taken
                       else f"refused: its path is as like the scene's as item {result.rating_key}'s, "
                            f"which won the tie (same size, or the older item)")
        entries[key] = {"rating_key": candidate.rating_key, "path": candidate.path, "verdict": verdict}
    return list(entries.values())


def _item(facts: Facts) -> List[str]:
    if facts.plex_error:
        return ["Plex item: unknown (Plex could not be asked, see the cause)"]
    if facts.item_error:
        return [f"Plex item: {_cut(facts.item_error, MAX_TEXT)}"]
    item = facts.item
    if item is None:
        return ["Plex item: none"]
    section = next((s.title for s in facts.sections if s.key == item.section_id), str(item.section_id))
    title = item.values.get("title", "")
    locked = f", locked: {', '.join(sorted(item.locked)[:MAX_SHOWN])}" if item.locked else ""
    return [f"Plex item: {item.rating_key}, {item.type} {_cut(title, 60)!r} in library {section!r}{locked}"]


def _written(facts: Facts) -> List[str]:
    record = facts.record
    if record is None:
        return ["last written: never (PlexSync has no record of writing this scene)"]
    lines = [f"last written: {when(record.synced_at, facts.now)} to Plex item {record.rating_key}"
             + (", images too" if record.poster_hash or record.art_hash else "")]
    if facts.written:
        names = sorted(facts.written)
        lines.append(f"  fields written: {', '.join(names[:MAX_SHOWN])}"
                     + (f" ... and {len(names) - MAX_SHOWN} more" if len(names) > MAX_SHOWN else ""))
    for tag in ("collection", "label"):  # shared with people and other tools: PlexSync owns only its own
        ours = facts.written.get(tag)
        if isinstance(ours, list):
            theirs = [name for name in (facts.item.tags.get(tag, ()) if facts.item else ())
                      if name.casefold() not in {str(n).casefold() for n in ours}]
            lines.append(f"  {tag}s PlexSync added: {_listed(ours)}; not PlexSync's (never removed): {_listed(theirs)}")
    if facts.result is not None and facts.item is not None:
        lines.append("  Stash has changes since then" if facts.would_write else "  Stash has not changed since then")
    return lines


def _listed(names: Sequence[object]) -> str:
    shown = ", ".join(repr(str(name)) for name in names[:MAX_SHOWN]) or "none"
    return shown + (f" ... and {len(names) - MAX_SHOWN} more" if len(names) > MAX_SHOWN else "")


def _queue(facts: Facts) -> List[str]:
    from tasks.drain import paused_on

    lines = [f"queue: {plural(len(facts.jobs), 'job')} for this scene"
             + ("" if facts.drainer_running else "; the drainer is not running")]
    for job, busy in facts.jobs[:MAX_SHOWN]:
        line = f"  {job.event} ({_cut(job.reason, 80)}): {_job_state(job, busy, facts.now)}"
        if job.last_error:
            line += f"; last error: {_cut(job.last_error, MAX_TEXT)}"
        lines.append(line)
    paused = paused_on(facts.drainer)
    if paused:
        lines.append(f"  the drainer is paused: {_cut(paused, MAX_TEXT)}")
    letter = facts.dead_letter
    if letter is None:
        lines.append("dead letter: none")
    else:
        lines.append(f"dead letter #{letter.id}: {letter.error_kind} after {plural(letter.attempts, 'attempt')}, "
                     f"first failed {when(letter.first_failed_at, facts.now)}, last "
                     f"{when(letter.last_failed_at, facts.now)}")
        lines.append(f"  last error: {_cut(letter.message, MAX_TEXT)}")
    return lines


# -- small helpers ----------------------------------------------------------------------------

def _job_state(job: "Job", busy: bool, now: float) -> str:
    if busy:
        state = "in progress"
    elif job.not_before > now:
        state = f"retry {when(job.not_before, now)}"
    else:
        state = "due now"
    return state + (f", {plural(job.attempts, 'failed attempt')}" if job.attempts else "")


def _rule_used(facts: Facts, path: str) -> Optional[PathRule]:
    """The path_map rule map_path uses for `path` (the longest that applies), or None."""
    return next((rule for rule in facts.settings.path_rules if rule.apply(path) is not None), None)


def _step_name(step: str) -> str:
    names = {"path": "full path", "normalized": "normalised path", "folded": "path ignoring case",
             "basename": "file name only"}
    base, _, guessed = step.partition("+")
    return names.get(base, base) + (" (most alike path taken)" if guessed else "")


def _folder(path: str) -> str:
    cut = max(path.rfind("/"), path.rfind("\\"))
    return path[:cut] if cut > 0 else path


def _more(total: int, what: str, shown: int = MAX_SHOWN) -> List[str]:
    return [f"... and {total - shown} more {what}"] if total > shown else []


def _cut(text: Optional[str], limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
