"""Which Stash scenes have no Plex item, or several: counts and examples, changing nothing.

Pages through every scene with bounded pages (ids, then the scenes of each page in a few
requests) and matches each against the warm path index, so Plex sees one index refresh when
the index is stale and otherwise only the rate-limited "newest items" read the matcher makes
before declaring a scene missing — never a request per scene. Memory stays flat: counts and a
bounded number of examples.
"""
from __future__ import annotations

from typing import Dict, List, Optional, TypedDict

from tasks.context import TaskContext, TaskResult, plural

PAGE_SIZE = 500
EXAMPLES = 10



class Example(TypedDict, total=False):
    """One scene shown as an example of a problem (as it appears in --json)."""

    scene_id: int
    title: str
    looked_for: List[str]  # not in Plex: the paths looked for
    candidates: List[str]  # ambiguous: the Plex files it matches
    step: str

def match_report(ctx: TaskContext, examples: int = EXAMPLES) -> TaskResult:
    """Counts of matched, missing, ambiguous and file-less scenes, with examples of each problem."""
    from plex.matcher import AMBIGUOUS, MATCHED

    session = ctx.connect()
    client = session.client
    target = None
    try:
        target = ctx.services.connect_plex(session.settings, client.fetch_image)
        target.reads.ensure_fresh()
        total = client.count_scenes()
        counts = {"matched": 0, "missing": 0, "ambiguous": 0, "no_files": 0}
        samples: Dict[str, List[Example]] = {"missing": [], "ambiguous": [], "no_files": []}
        seen = 0
        for ids in client.iter_scene_id_pages(page_size=PAGE_SIZE):
            scenes = client.find_scenes_by_ids(ids)
            for scene_id in ids:
                scene = scenes.get(scene_id)
                if scene is None:
                    continue  # deleted while we paged
                entry: Optional[Example]
                if not scene.files:
                    kind, entry = "no_files", {"scene_id": scene.id, "title": scene.title}
                else:
                    result = target.match(scene)
                    if result.status == MATCHED:
                        kind, entry = "matched", None
                    elif result.status == AMBIGUOUS:
                        kind, entry = "ambiguous", {"scene_id": scene.id, "title": scene.title,
                                                    "candidates": list(result.candidates[:5]), "step": result.step}
                    else:
                        kind, entry = "missing", {"scene_id": scene.id, "title": scene.title,
                                                  "looked_for": list(result.mapped_paths[:3])}
                counts[kind] += 1
                if entry is not None and len(samples[kind]) < examples:
                    samples[kind].append(entry)
            seen += len(ids)
            ctx.progress(min(1.0, seen / max(total, seen, 1)), f"matched {seen:,} of {max(total, seen):,} scenes")
    finally:
        if target is not None:
            target.close()
        client.close()
    return _render(counts, samples, session.settings.strict_matching)


def _render(counts: Dict[str, int], samples: Dict[str, List[Example]], strict: bool) -> TaskResult:
    scanned = sum(counts.values())
    lines = [f"{plural(scanned, 'scene')}: {counts['matched']:,} found in Plex, {counts['missing']:,} not in Plex, "
             f"{counts['ambiguous']:,} ambiguous (several Plex items), {counts['no_files']:,} without files"]
    for entry in samples["missing"]:
        lines.append(f"not in Plex: scene {entry['scene_id']}{_title(entry)}: looked for {', '.join(entry['looked_for'])}")
    for entry in samples["ambiguous"]:
        lines.append(f"ambiguous: scene {entry['scene_id']}{_title(entry)}: {', '.join(entry['candidates'])}")
    for entry in samples["no_files"]:
        lines.append(f"no files: scene {entry['scene_id']}{_title(entry)}")
    if counts["missing"]:
        lines.append("scenes not in Plex: let Plex scan their folders, or check path_map if Plex has them elsewhere")
    if counts["ambiguous"]:
        lines.append("ambiguous scenes are " + ("dead-lettered under strict matching: remove the duplicates in Plex "
                                                "or turn strict_matching off" if strict else
                                                "matched to the most similar path (strict_matching is off)"))
    return TaskResult("Match report", lines, {"mode": "match_report", "scenes": scanned, **counts, "examples": samples})


def _title(entry: Example) -> str:
    title = entry.get("title")
    return f" {title[:60]!r}" if title else ""

