"""The health check: the first thing to run when "nothing syncs", and what to fix, check by check.

Each step depends on the one before — Stash reachable, settings valid, Plex reachable, token
accepted, libraries found, index filled — and a failed step skips the rest with a reason. The
last step pushes a sample of real scenes through path mapping and matching (the warm index, no
Plex request per scene) and shows each result; when none is found it looks the file names up in
Plex's index and suggests the path_map that would have matched. Nothing is written anywhere.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Optional, Tuple

from common.errors import ConfigurationError, SyncError, TokenRejected
from common.log import add_secrets
from common.settings import WHERE, Settings, settings_from_mapping
from tasks.context import TaskContext, TaskResult, plural

if TYPE_CHECKING:
    from plex.target import PlexTarget
    from stash.client import StashClient

SAMPLE = 10
PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"


@dataclass
class Check:
    name: str
    state: str
    detail: str
    hint: str = ""

    @property
    def line(self) -> str:
        return f"{self.state} {self.name}: {self.detail}" + (f" → {self.hint}" if self.hint else "")


class _Report:
    def __init__(self) -> None:
        self.checks: List[Check] = []
        self.lines: List[str] = []

    def add(self, name: str, state: str, detail: str, hint: str = "") -> Check:
        check = Check(name, state, detail, hint)
        self.checks.append(check)
        self.lines.append(check.line)
        return check

    def skip(self, names: Tuple[str, ...], why: str) -> None:
        for name in names:
            self.add(name, SKIP, why)


def health(ctx: TaskContext, sample: int = SAMPLE) -> TaskResult:
    """Check Stash, the settings, Plex, the token, the libraries and matching; PASS/WARN/FAIL each."""
    report = _Report()
    client = _stash(ctx, report)
    target = None
    try:
        settings = _settings(ctx, client, report)
        if settings is None:
            report.skip(("Plex", "Plex token", "Plex libraries", "matching"), "needs valid settings")
        else:
            target = _plex(ctx, settings, client, report)
            if target is not None and client is not None:
                _matching(client, target, settings, max(1, int(sample)), report)
            elif target is not None:
                report.add("matching", SKIP, "needs Stash to read scenes from")
    finally:
        if target is not None:
            target.close()
        if client is not None:
            client.close()
    failed = [c for c in report.checks if c.state == FAIL]
    result = TaskResult("PlexSync health check", report.lines,
                        {"mode": "health", "checks": [c.__dict__ for c in report.checks]})
    if failed:
        result.failed = f"health check: {plural(len(failed), 'check')} failed; {failed[0].name}: {failed[0].detail}"
    return result


def _stash(ctx: TaskContext, report: _Report) -> Optional["StashClient"]:
    try:
        client = ctx.services.stash_client(ctx.stash_connection())
    except SyncError as exc:
        report.add("Stash", FAIL, str(exc), "is Stash running? On the command line pass --stash-url "
                                            "(and --stash-api-key when Stash has a login)")
        return None
    try:
        version = client.version()
    except SyncError as exc:
        client.close()
        report.add("Stash", FAIL, str(exc), "check the Stash address and API key")
        return None
    report.add("Stash", PASS, f"Stash {version} answers at {client.url}")
    return client


def _settings(ctx: TaskContext, client: Optional["StashClient"], report: _Report) -> Optional[Settings]:
    try:
        settings = (ctx.services.read_settings(client, ctx.overrides) if client is not None
                    else settings_from_mapping(dict(ctx.overrides)))
        settings.require_plex()
    except SyncError as exc:
        report.add("settings", FAIL, str(exc), f"set it in {WHERE}" if client is not None else "")
        return None
    add_secrets(settings.secrets)
    libraries = ", ".join(settings.libraries) or "every movie and show library"
    report.add("settings", PASS, f"plex_url {settings.plex_url}, libraries: {libraries}, "
                                 f"path_map: {settings.path_map or '(none: same paths)'}")
    return settings


def _plex(ctx: TaskContext, settings: Settings, client: Optional["StashClient"],
          report: _Report) -> Optional["PlexTarget"]:
    try:
        ctx.services.check_plex(settings)
    except TokenRejected:
        report.add("Plex", PASS, f"Plex answers at {settings.plex_url}")
        report.add("Plex token", FAIL, "Plex rejected the token (HTTP 401): the token is invalid or expired",
                   f"copy a current X-Plex-Token into plex_token in {WHERE}")
        report.skip(("Plex libraries", "matching"), "needs Plex")
        return None
    except ConfigurationError as exc:
        report.add("Plex", FAIL, str(exc))
        report.skip(("Plex token",), "needs Plex to answer")
        report.skip(("Plex libraries", "matching"), "needs Plex")
        return None
    except SyncError as exc:
        report.add("Plex", FAIL, str(exc), "is Plex running, and is plex_url the address Stash's machine reaches it at?")
        report.skip(("Plex token", "Plex libraries", "matching"), "needs Plex to answer")
        return None
    report.add("Plex", PASS, f"Plex answers at {settings.plex_url}")
    report.add("Plex token", PASS, "Plex accepted the token")
    fetch = client.fetch_image if client is not None else _no_images
    try:
        target = ctx.services.connect_plex(settings, fetch)
    except SyncError as exc:
        report.add("Plex libraries", FAIL, str(exc))
        report.skip(("matching",), "needs the libraries")
        return None
    sections = target.reads.sections()
    if not sections:
        target.close()
        report.add("Plex libraries", FAIL, "Plex has no movie or show library", "add the Stash folders to a Plex library")
        report.skip(("matching",), "needs a library")
        return None
    try:
        files = target.refresh_index()
    except SyncError as exc:
        target.close()
        report.add("Plex libraries", FAIL, f"could not list the libraries: {exc}")
        report.skip(("matching",), "needs the library listing")
        return None
    shown = "; ".join(f"{s.title!r} ({s.type}: {', '.join(s.locations) or 'no folder'})" for s in sections)
    state = PASS if files else WARN
    report.add("Plex libraries", state, f"{shown}; {plural(target.reads.indexed_files(), 'file')} indexed",
               "" if files else "the libraries list no files: scan them in Plex")
    return target


def _no_images(url: str) -> bytes:
    raise ConfigurationError("Stash is not connected")


@dataclass
class _Tally:
    """The sampled scenes' matches: found (by file name only), ambiguous, missing."""

    found: int = 0
    by_name: int = 0
    ambiguous: int = 0
    missing: int = 0
    suggestion: Optional[str] = None  # a path_map pair that would match by full path


def _matching(client: "StashClient", target: "PlexTarget", settings: Settings, sample: int, report: _Report) -> None:
    from plex.matcher import AMBIGUOUS, MATCHED

    try:
        ids: List[int] = next(iter(client.iter_scene_id_pages(page_size=sample)), [])[:sample]
        scenes = client.find_scenes_by_ids(ids)
    except SyncError as exc:
        report.add("matching", FAIL, f"could not read scenes from Stash: {exc}")
        return
    if not scenes:
        report.add("matching", WARN, "Stash has no scenes to try", "scan your library in Stash")
        return
    tally, lines = _Tally(), []
    for scene in (scenes[scene_id] for scene_id in ids if scene_id in scenes):
        label = f"scene {scene.id} {scene.title[:60]!r}" if scene.title else f"scene {scene.id}"
        if not scene.files:
            lines.append(f"    {label}: no files in Stash")
            continue
        try:
            result = target.match(scene)
        except SyncError as exc:
            lines.append(f"    {label}: {exc}")
            continue
        stash_path, plex_path = scene.files[0].path, result.mapped_paths[0] if result.mapped_paths else "?"
        if result.status == MATCHED:
            tally.found += 1
            lines.append(f"    {label}: {stash_path} → {plex_path} → Plex item {result.rating_key} ({result.step} match)")
            if result.step.startswith("basename"):
                tally.by_name += 1
                tally.suggestion = tally.suggestion or _suggest(stash_path, result.candidates)
        elif result.status == AMBIGUOUS:
            tally.ambiguous += 1
            lines.append(f"    {label}: {stash_path} → {len(result.candidates)} Plex items: {', '.join(result.candidates[:3])}")
        else:
            tally.missing += 1
            lines.append(f"    {label}: {stash_path} → {plex_path} → not in Plex")
    _matching_verdict(tally, target, report)
    report.lines.extend(lines)


def _matching_verdict(tally: _Tally, target: "PlexTarget", report: _Report) -> None:
    tried = tally.found + tally.ambiguous + tally.missing
    detail = f"{tally.found} of {plural(tried, 'sampled scene')} found in Plex"
    if tally.by_name:
        detail += f", {tally.by_name} by file name only"
    if tally.ambiguous:
        detail += f", {tally.ambiguous} ambiguous"
    folders = ", ".join(loc for section in target.reads.sections() for loc in section.locations)
    if tried and tally.found == tried and not tally.by_name:
        report.add("matching", PASS, detail)
    elif tally.found == 0 and tally.missing:
        report.add("matching", FAIL, detail + "; nothing matched",
                   f"Plex's libraries are in {folders}: set path_map in {WHERE} so the mapped paths above lie there")
    else:
        hints = []
        if tally.by_name:
            hints.append((f"set path_map to {tally.suggestion!r}" if tally.suggestion else "set path_map")
                         + f" in {WHERE}: a file-name match breaks when two files share a name")
        if tally.missing:
            hints.append("scenes not in Plex yet appear after Plex scans them")
        if tally.ambiguous:
            hints.append("several items for one scene: remove duplicates in Plex or turn strict_matching off")
        report.add("matching", WARN, detail, "; ".join(hints))


def _suggest(stash_path: str, plex_paths: Tuple[str, ...]) -> Optional[str]:
    """The path_map pair that maps `stash_path` onto a Plex path of the same file (None if none does)."""
    left = stash_path.replace("\\", "/").split("/")
    for plex_path in plex_paths:
        right = plex_path.replace("\\", "/").split("/")
        tail = 0
        while tail < min(len(left), len(right)) - 1 and left[-1 - tail] == right[-1 - tail]:
            tail += 1
        if tail:
            stash_prefix = "/".join(left[:-tail]) or "/"
            plex_prefix = "/".join(right[:-tail]) or "/"
            if stash_prefix != plex_prefix:
                return f"{stash_prefix}=>{plex_prefix}"
    return None
