"""The scene as PlexSync needs it: what `stash/` reads and `plex/` writes, free of library objects."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

# The largest screenshot PlexSync downloads from Stash (what Plex accepts is smaller, about 10 MB:
# plex.images.PLEX_UPLOAD_LIMIT; a larger one is downloaded once, hashed and not uploaded).
MAX_IMAGE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Performer:
    name: str
    image_url: Optional[str] = None


@dataclass(frozen=True)
class SceneFile:
    path: str
    size: Optional[int] = None

    @property
    def basename(self) -> str:
        return self.path.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class CollectionArt:
    """What a studio's or group's Plex collection shows: the studio image or the group's front
    cover (a URL on Stash, "" for none) and the studio's details or the group's synopsis."""

    name: str
    image_url: str = ""
    summary: str = ""


@dataclass(frozen=True)
class Scene:
    id: int
    title: str = ""
    details: str = ""
    date: Optional[str] = None  # YYYY-MM-DD
    rating100: Optional[int] = None
    studio: Optional[str] = None
    parent_studio: Optional[str] = None
    performers: Tuple[Performer, ...] = ()
    tags: Tuple[str, ...] = ()
    # (tag name, its ancestors' names) for each tag that has parents in Stash's tag hierarchy
    tag_parents: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    director: Optional[str] = None
    groups: Tuple[str, ...] = ()
    files: Tuple[SceneFile, ...] = ()
    screenshot_url: Optional[str] = None
    updated_at: str = ""
    collection_art: Tuple[CollectionArt, ...] = ()  # the studio's, then each group's


@dataclass(frozen=True)
class SyncRecord:
    """What PlexSync last wrote for a scene, so an unchanged scene costs no Plex request."""

    scene_id: int
    section_id: int
    rating_key: int
    metadata_hash: str = ""
    image_source: str = ""  # the screenshot URL the image hashes were taken from
    poster_hash: str = ""
    art_hash: str = ""
    synced_at: float = 0.0
