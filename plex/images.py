"""Poster and background art from Stash's screenshot: download only when it changed, upload only new bytes.

Stash's screenshot URL carries `?t=<timestamp>` that changes with the image, so an unchanged URL
means an unchanged image and costs nothing. A changed URL costs one download from Stash (the
caller's `fetch_image`, which carries Stash's credentials); the bytes' hash is then compared with
what was last uploaded, so a re-generated but identical screenshot costs no Plex request. Only
real image bytes are ever uploaded (the peer plugin once sent a video file as art).

Real Plex answers 500 to uploads over about 10 MB (Kometa caps them at 10,480,000 bytes): an
image over `PLEX_UPLOAD_LIMIT` is not uploaded; the scene gets one warning naming it, and the
bytes are remembered as settled so the next sync neither downloads nor warns again.

A scene without a cover is served Stash's SVG placeholder, which Plex cannot use. That answer
is remembered like an uploaded image (hash `NO_IMAGE` for the URL), so the next sync of the
unchanged scene downloads nothing; a cover set later comes with a new URL and is fetched.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Optional

from common.log import get_logger
from common.models import MAX_IMAGE_BYTES, Scene, SyncRecord
from common.settings import Settings

log = get_logger("plex.images")
PLEX_UPLOAD_LIMIT = 10_480_000  # Plex answers 500 to larger uploads (REAL-SERVERS.md P8; Kometa's margin)
NO_IMAGE = "none"  # the hash remembered for a URL that served no usable image (placeholder)


@dataclass(frozen=True)
class ImagePlan:
    """What to upload (if anything) and the image state to remember afterwards."""

    data: bytes = b""
    source: str = ""
    digest: str = ""
    poster: bool = False
    art: bool = False
    settled: bool = False  # nothing to upload for these bytes (too large for Plex), remember them


    @property
    def uploads(self) -> int:
        return int(self.poster) + int(self.art)


def image_type(data: bytes) -> Optional[str]:
    """The image format from its magic bytes, or None for anything that is not an image."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def is_placeholder(data: bytes) -> bool:
    """True for an SVG document, what Stash serves for a scene without a cover."""
    head = data[:256].lstrip().lower()
    return head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:1024].lower())


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def needs_download(scene: Scene, previous: Optional[SyncRecord], settings: Settings, force: bool = False) -> bool:
    """True when the screenshot must be fetched: new URL, an enabled kind never uploaded, or force."""
    if not scene.screenshot_url or not (settings.sync_poster or settings.sync_art):
        return False
    if force or previous is None or previous.image_source != scene.screenshot_url:
        return True
    return (settings.sync_poster and not previous.poster_hash) or (settings.sync_art and not previous.art_hash)


def plan_images(scene: Scene, previous: Optional[SyncRecord], settings: Settings,
                fetch_image: Callable[[str], bytes], force: bool = False) -> ImagePlan:
    """Download the screenshot if needed and decide which of poster and art to upload."""
    if not needs_download(scene, previous, settings, force):
        return ImagePlan()
    url = scene.screenshot_url or ""
    data = fetch_image(url)
    if not data or len(data) > MAX_IMAGE_BYTES or image_type(data) is None:
        if is_placeholder(data):
            log.debug("scene %s has no cover in Stash (placeholder image), nothing uploaded", scene.id)
        else:
            log.warning("scene %s: the screenshot is not an image (%d bytes), not uploaded",
                        scene.id, len(data or b""))
        return ImagePlan(b"", url, NO_IMAGE, settled=True)  # remembered: not fetched again
    hashed = digest(data)
    if len(data) > PLEX_UPLOAD_LIMIT:
        log.warning("scene %s: the screenshot is %.1f MB, over what Plex accepts (%.1f MB); not uploaded",
                    scene.id, len(data) / 1e6, PLEX_UPLOAD_LIMIT / 1e6)
        return ImagePlan(b"", url, hashed, settled=True)
    poster = settings.sync_poster and (force or previous is None or previous.poster_hash != hashed)
    art = settings.sync_art and (force or previous is None or previous.art_hash != hashed)
    return ImagePlan(data if poster or art else b"", url, hashed, poster, art)
