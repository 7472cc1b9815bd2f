"""A seeded, reproducible Stash library and the Plex library that mirrors it.

Integration and scale tests need the awkward cases real libraries have — unicode, emoji and
right-to-left titles, scenes without a title or date, multi-file scenes, same basename in two
folders, files Plex has not scanned or never will, a "Series" folder Plex shows as episodes,
timestamps that tie — in one place, at any size up to 100,000 scenes, built in seconds.
Rows are tuples (stash_store's NamedTuples), so a big world stays small in memory.

`build_world(...)` returns a frozen `World`: `stash_data` seeds a FakeStashServer (which copies
it), `populate_plex(fake_plex)` fills a FakePlexServer with Plex-side paths, and the
`*_ids` sets tell tests what the product should find.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from devkit.fakes.stash_store import (
    FileRow,
    GroupRow,
    PerformerRow,
    SceneRow,
    StashData,
    StudioRow,
    TagRow,
    format_time,
    parse_time,
)

MOVIE_SECTION = (1, "Stash Movies", "movie", "movies")
SHOW_SECTION = (2, "Stash Series", "show", "Series")
EPOCH = 1704067200  # 2024-01-01T00:00:00Z
STASH_BOX = "https://stashdb.org/graphql"

_WORDS = ("Sunset Drive Velvet Echo Midnight Harbor Silver Lining Golden Hour Paper Moon Neon "
          "Garden Winter Light Ocean Breeze Crimson Tide Quiet Storm Amber Road Lucky Star "
          "Wild Heart Blue Horizon Summer Rain Hidden Valley Late Night Open Door").split()
_SPECIAL_TITLES = (
    "Café Crème à la Française", "Über den Wolken — Teil 2", "東京の夜 (Tokyo Nights)",
    "🔥 Hot Summer 🌴 Vibes", "שלום עולם", "مرحبا بالعالم", "Zoë & Chloë's \"Big\" <Day>",
    "Ünïcödé 🎬 Mix العربية", "  Leading and trailing spaces  ", "100% Natural #1 + More?",
    "Ça va? Ja! Да! Ναι!", "A" * 250,
)
_FIRST = ("Anna Maria Lena Zoë José Björk Ana Chloé Mia Sofia Léa Yuki Анна Ірина 美咲 Nadia "
          "Camille Eva Lucía Ingrid").split()
_LAST = ("Smith Müller García Rossi Novak Østergaard Kowalski Dubois Tanaka Haddad O'Brien "
         "Nguyen Silva Schmidt Ivanova Jensen").split()
_STUDIO_WORDS = ("Nordlicht Études Paradox Harbor Lumen Vertex Cascade Aurora Velvet Zenith "
                 "Mosaic Prism Ember Atlas Orbit Halcyon").split()
_TAG_WORDS = ("Outdoor Indoor Beach Studio POV Interview Behind-the-Scenes Compilation Solo Duo "
              "4K HD Vintage Amateur Professional Ünicode-Tag 🎬 Cosplay Dance Music").split()
_GENDERS = ("FEMALE", "FEMALE", "FEMALE", "MALE", "TRANSGENDER_FEMALE", "NON_BINARY", None)
_EXTENSIONS = (".mp4", ".mp4", ".mp4", ".mkv", ".m4v", ".wmv", ".MP4")


@dataclass(frozen=True)
class World:
    """One generated library, Stash side and Plex side, with what tests should expect.

    missing_ids: scenes Plex has no item for (includes unmapped_ids, whose files lie outside
    stash_root, so the path map cannot translate them); pending_ids: files on disk Plex has not
    scanned — they appear after a partial refresh of their folder; multi_file_ids: scenes with
    two files, shown as one Plex item with two parts when in versioned_ids, else as two items;
    duplicate_basename_ids: pairs of scenes whose files share a basename in different folders
    (ambiguous to anything matching by file name alone); ambiguous_ids: scenes whose file lies
    outside stash_root (no path match) while Plex holds two copies of its basename in different
    folders, items of no scene: ambiguous under strict matching; episode_info: scene id -> (show,
    season, episode) for scenes under stash_root/Series, which Plex lists as episodes;
    untitled_ids: title null or ""; special_title_ids: unicode, emoji, RTL, markup, 250 chars;
    coverless_ids: matchable scenes without a cover (Stash serves its SVG placeholder).
    """
    seed: int
    stash_root: str
    plex_root: str
    stash_data: StashData
    episode_info: dict = field(repr=False)
    missing_ids: frozenset = frozenset()
    pending_ids: frozenset = frozenset()
    unmapped_ids: frozenset = frozenset()
    multi_file_ids: frozenset = frozenset()
    versioned_ids: frozenset = frozenset()
    duplicate_basename_ids: frozenset = frozenset()
    ambiguous_ids: frozenset = frozenset()
    untitled_ids: frozenset = frozenset()
    special_title_ids: frozenset = frozenset()
    coverless_ids: frozenset = frozenset()

    @property
    def path_map(self) -> str:
        return f"{self.stash_root}=>{self.plex_root}"

    @property
    def scene_ids(self) -> list[int]:
        return [row.id for row in self.stash_data.scenes]

    @property
    def episode_ids(self) -> frozenset:
        return frozenset(self.episode_info)

    @property
    def plex_sections(self) -> list[str]:
        return [MOVIE_SECTION[1], SHOW_SECTION[1]]

    @property
    def matchable_ids(self) -> frozenset:
        """Scenes that have exactly one Plex item from the start (not missing, pending or ambiguous)."""
        return frozenset(self.scene_ids) - self.missing_ids - self.pending_ids - self.ambiguous_ids

    def to_plex_path(self, stash_path: str) -> str:
        if stash_path.startswith(self.stash_root + "/"):
            return self.plex_root + stash_path[len(self.stash_root):]
        return stash_path

    def populate_plex(self, plex: Any) -> dict[int, tuple]:
        """Adds both sections and every item Plex has; returns scene id -> its ratingKeys."""
        movie_key, movie_title, movie_type, movie_dir = MOVIE_SECTION
        show_key, show_title, show_type, show_dir = SHOW_SECTION
        plex.add_section(movie_key, movie_title, movie_type, [f"{self.plex_root}/{movie_dir}"],
                         agent="tv.plex.agents.none")
        plex.add_section(show_key, show_title, show_type, [f"{self.plex_root}/{show_dir}"])
        keys: dict[int, tuple] = {}
        for row in self.stash_data.scenes:
            if row.id in self.ambiguous_ids:
                base = row.files[0].path.rsplit("/", 1)[-1]
                for copy in ("copies-a", "copies-b"):
                    plex.add_movie(movie_key, [f"{self.plex_root}/{movie_dir}/{copy}/{base}"], _plex_title(base),
                                   size=row.files[0].size)
                continue
            if row.id in self.missing_ids:
                continue
            paths = [self.to_plex_path(f.path) for f in row.files]
            section = show_key if row.id in self.episode_info else movie_key
            if row.id in self.pending_ids:
                for path, f in zip(paths, row.files):
                    plex.add_pending_file(section, path, _plex_title(path), size=f.size)
                continue
            added_at = parse_time(row.created_at) + 60
            if row.id in self.episode_info:
                show, season, episode = self.episode_info[row.id]
                keys[row.id] = (plex.add_episode(section, paths, f"Episode {episode}", show, season,
                                                 episode, size=row.files[0].size, added_at=added_at),)
            elif row.id in self.versioned_ids or len(paths) == 1:
                keys[row.id] = (plex.add_movie(section, paths, _plex_title(paths[0]),
                                               size=row.files[0].size, added_at=added_at),)
            else:
                keys[row.id] = tuple(plex.add_movie(section, [path], _plex_title(path), size=f.size,
                                                    added_at=added_at)
                                     for path, f in zip(paths, row.files))
        return keys


def build_world(scenes: int = 200, seed: int = 1, stash_root: str = "/data/videos",
                plex_root: str = "/media/videos") -> World:
    """Scene ids run 1..scenes; the same arguments always give the same world."""
    rng = random.Random(seed)
    stash_root, plex_root = stash_root.rstrip("/"), plex_root.rstrip("/")
    studios = _studios(rng, max(6, min(400, scenes // 200)))
    performers = _performers(rng, max(12, min(3000, scenes // 20)))
    tags = tuple(TagRow(i + 1, name) for i, name in enumerate(_names(rng, _TAG_WORDS, max(12, min(300, scenes // 100)))))
    groups = tuple(GroupRow(i + 1, f"{name} Collection") for i, name in
                   enumerate(_names(rng, _WORDS, max(4, min(300, scenes // 300)))))

    order = list(range(1, scenes + 1))
    rng.shuffle(order)
    cursor = 0

    def take(share: float, minimum: int) -> list[int]:
        nonlocal cursor
        count = min(max(minimum, int(scenes * share)), max(0, scenes - cursor))
        chosen = order[cursor:cursor + count]
        cursor += count
        return chosen

    missing = set(take(0.02, 3))
    unmapped = set(take(0.004, 1))
    pending = set(take(0.01, 2))
    multi = take(0.03, 4)
    versioned = set(multi[::2])
    multi = set(multi)
    dup_pairs = take(0.01, 4)
    untitled = take(0.03, 4)
    empty_title = set(untitled[::4])
    untitled = set(untitled)
    special = take(0.05, len(_SPECIAL_TITLES))
    episodes = take(0.10, 6)
    ambiguous = set(take(0.01, 2))
    coverless = set(take(0.02, 3))
    special_title = {scene_id: _SPECIAL_TITLES[i % len(_SPECIAL_TITLES)] for i, scene_id in enumerate(special)}
    dup_partner = {min(a, b): max(a, b) for a, b in zip(dup_pairs[::2], dup_pairs[1::2])}
    episode_info = _episodes(rng, sorted(episodes))

    studio_dirs = {s.id: _slug(s.name) for s in studios}
    basenames: dict[int, str] = {}
    rows = []
    stamp = EPOCH
    updated_prev = format_time(EPOCH)
    file_id = 0
    for scene_id in range(1, scenes + 1):
        stamp += rng.randint(60, 600)
        created = format_time(stamp)
        updated = updated_prev if rng.random() < 0.05 else format_time(stamp + rng.randint(0, 90 * 86400))
        updated = max(updated, created)
        updated_prev = updated

        if scene_id in special_title:
            title: Optional[str] = special_title[scene_id]
        elif scene_id in empty_title:
            title = ""
        elif scene_id in untitled:
            title = None
        else:
            title = " ".join(rng.sample(_WORDS, rng.randint(2, 4)))
        studio_id = rng.choice(studios).id if rng.random() < 0.9 else None

        if scene_id in basenames:
            base = basenames[scene_id]
        else:
            stem = _slug(title) if title and title.strip() else f"VID_{stamp:x}"
            base = f"{stem} [{rng.getrandbits(24):06x}]{rng.choice(_EXTENSIONS)}"
            if scene_id in dup_partner:
                basenames[dup_partner[scene_id]] = base
        if scene_id in unmapped:
            folder = "/mnt/elsewhere/videos"
        elif scene_id in ambiguous:
            folder = "/mnt/elsewhere/ambiguous"
        elif scene_id in episode_info:
            show, season, episode = episode_info[scene_id]
            folder = f"{stash_root}/{SHOW_SECTION[3]}/{show}/Season {season:02d}"
            base = f"{show} - S{season:02d}E{episode:02d}{base[base.rindex('.'):]}"
        else:
            sub = studio_dirs.get(studio_id, "_unsorted")
            if scene_id in basenames:
                sub = f"{sub}/duplicates"
            folder = f"{stash_root}/{MOVIE_SECTION[3]}/{sub}"
        size = rng.randint(50_000_000, 6_000_000_000)
        duration = float(rng.randint(300, 7200))
        file_id += 1
        files = [FileRow(file_id, f"{folder}/{base}", size, duration)]
        if scene_id in multi:
            file_id += 1
            stem, ext = base.rsplit(".", 1)
            files.append(FileRow(file_id, f"{folder}/{stem} (part 2).{ext}", size // 2, duration / 2))

        rows.append(SceneRow(
            id=scene_id, title=title,
            code=f"SC-{scene_id:06d}" if rng.random() < 0.3 else None,
            details=_details(rng, scene_id),
            director=rng.choice(performers).name if rng.random() < 0.2 else None,
            urls=tuple(f"https://example.com/scenes/{scene_id}/{n}" for n in range(rng.choice((0, 0, 1, 2)))),
            date=None if rng.random() < 0.15 else
            f"{rng.randint(2005, 2024)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            rating100=None if rng.random() < 0.3 else rng.randrange(20, 101, 5),
            organized=rng.random() < 0.4,
            created_at=created, updated_at=updated, files=tuple(files), studio_id=studio_id,
            performer_ids=tuple(sorted({rng.choice(performers).id for _ in range(rng.choice((0, 1, 1, 2, 3, 4)))})),
            tag_ids=tuple(sorted({rng.choice(tags).id for _ in range(rng.randint(0, 6))})),
            groups=((rng.choice(groups).id, rng.choice((None, rng.randint(1, 20)))),)
            if rng.random() < 0.1 else (),
            stash_ids=((STASH_BOX, _uuid(rng)),) if rng.random() < 0.3 else (),
            cover=0 if scene_id in coverless else 1,
        ))

    duplicates = {a for pair in dup_partner.items() for a in pair}
    return World(
        seed=seed, stash_root=stash_root, plex_root=plex_root,
        stash_data=StashData(scenes=tuple(rows), studios=studios, performers=performers, tags=tags,
                             groups=groups),
        episode_info=episode_info,
        missing_ids=frozenset(missing | unmapped), pending_ids=frozenset(pending),
        unmapped_ids=frozenset(unmapped), multi_file_ids=frozenset(multi),
        versioned_ids=frozenset(versioned), duplicate_basename_ids=frozenset(duplicates),
        ambiguous_ids=frozenset(ambiguous),
        untitled_ids=frozenset(untitled), special_title_ids=frozenset(special_title),
        coverless_ids=frozenset(coverless),
    )


def _studios(rng: random.Random, count: int) -> tuple:
    names = _names(rng, _STUDIO_WORDS, count, suffixes=("Studios", "Films", "Media", "Pictures"))
    networks = max(2, count // 6)
    return tuple(StudioRow(i + 1, name, None if i < networks or rng.random() < 0.5 else rng.randint(1, networks))
                 for i, name in enumerate(names))


def _performers(rng: random.Random, count: int) -> tuple:
    rows: list[PerformerRow] = []
    used: dict[str, int] = {}
    while len(rows) < count:
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        twins = 2 if rng.random() < 0.1 else 1
        taken = used.get(name, 0)
        used[name] = taken + twins
        for twin in range(twins):
            disambiguation = f"{rng.choice(('US', 'EU', 'JP', 'Model', 'Dancer'))} {taken + twin + 1}" \
                if twins > 1 or taken else None
            rows.append(PerformerRow(len(rows) + 1, name, disambiguation, rng.choice(_GENDERS),
                                     rng.random() < 0.6, format_time(EPOCH - rng.randint(0, 10**7))))
    return tuple(rows[:count])


def _names(rng: random.Random, words: tuple, count: int, suffixes: tuple = ("",)) -> list[str]:
    seen: set[str] = set()
    names = []
    while len(names) < count:
        parts = [rng.choice(words)] + ([rng.choice(words)] if len(seen) >= len(words) else [])
        name = " ".join(parts + [rng.choice(suffixes)]).strip()
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def _episodes(rng: random.Random, scene_ids: list[int]) -> dict:
    shows = [f"{' '.join(rng.sample(_WORDS, 2))} Show" for _ in range(max(2, len(scene_ids) // 20))]
    info, numbers = {}, {}
    for scene_id in scene_ids:
        show = rng.choice(shows)
        season = 1 if rng.random() < 0.7 else 2
        numbers[(show, season)] = numbers.get((show, season), 0) + 1
        info[scene_id] = (show, season, numbers[(show, season)])
    return info


def _details(rng: random.Random, scene_id: int) -> Optional[str]:
    pick = rng.random()
    if pick < 0.25:
        return None
    if pick < 0.3:
        return ""
    if pick < 0.33:
        return f"Line one of scene {scene_id}.\nLine two with <b>markup</b> & \"quotes\".\n\nLast line 🎬."
    return " ".join(rng.choice(_WORDS).lower() for _ in range(rng.randint(5, 40))).capitalize() + "."


def _slug(title: str) -> str:
    return re.sub(r'[\\/:*?"<>|\s]+', " ", title).strip()[:80] or "untitled"


def _plex_title(path: str) -> str:
    return path.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _uuid(rng: random.Random) -> str:
    text = f"{rng.getrandbits(128):032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

