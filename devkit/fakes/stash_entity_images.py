"""Studio images and group covers for the fake Stash, at Stash's own paths, with the details and
synopsis that go with them.

Stash serves a studio's image at `/studio/{id}/image` and a group's covers at
`/group/{id}/frontimage` and `/group/{id}/backimage` (internal/api/routes_studio.go,
routes_group.go), and the GraphQL `image_path` / `front_image_path` name them with `?t=` the
entity's update time, plus `&default=true` when none is stored (then the route serves Stash's
default SVG). PlexSync puts them on the studio's and group's Plex collections; a third-party
plugin run against the fakes reads them too. Kept apart from stash_server.py: none of it is the
GraphQL endpoint.

Which entities have art is seeded, so every world gets some: every third studio has an image
and details, every other group a front cover and a synopsis. Tests change it:
    stash.entity_images.set("studio", 4, image=True, details="About Studio Four")  # a new image
    stash.entity_images.set("studio", 4, details="Other words")   # image=None: the image stays
    stash.entity_images.set("group", 2, image=False, details=None)  # no image, no synopsis
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from devkit.fakes.base import HTTPError, Request, Response

if TYPE_CHECKING:
    from devkit.fakes.stash_server import FakeStashServer

STUDIO, GROUP = "studio", "group"
ROUTES = {STUDIO: "image", GROUP: "frontimage"}


class EntityImages:
    """(kind, id) -> (has an image, details or synopsis, update time, image version), seeded, changeable."""

    def __init__(self, started_at: int) -> None:
        self._started_at = started_at
        self._lock = threading.Lock()
        self._set: Dict[Tuple[str, int], Tuple[bool, Optional[str], int, int]] = {}

    def get(self, kind: str, entity_id: int, name: str = "") -> Tuple[bool, Optional[str], int, int]:
        with self._lock:
            found = self._set.get((kind, entity_id))
        if found is not None:
            return found
        seeded = entity_id % (3 if kind == STUDIO else 2) == 0
        what = "details" if kind == STUDIO else "synopsis"
        return seeded, (f"The {what} of {name or f'{kind} {entity_id}'}." if seeded else None), self._started_at, 0

    def set(self, kind: str, entity_id: int, image: Optional[bool] = None, details: Optional[str] = None) -> None:
        """What a user's edit in Stash does: a new image (True), none (False) or the same (None), the
        text; the update time (and so the `?t=` of the URL) moves either way, as in Stash."""
        has_image, _, updated, version = self.get(kind, entity_id)
        with self._lock:
            self._set[(kind, entity_id)] = (has_image if image is None else image, details,
                                            max(int(time.time()), updated + 1), version + (image is True))

    def url(self, base: str, kind: str, entity_id: int, name: str = "") -> str:
        has_image, _, updated, _ = self.get(kind, entity_id, name)
        url = f"{base}/{kind}/{entity_id}/{ROUTES[kind]}?t={updated}"
        return url if has_image else url + "&default=true"


def install(server: "FakeStashServer", started_at: int, png: Callable[[str, int, int], bytes],
            placeholder: bytes) -> EntityImages:
    """Give `server` its entity images: the routes, and `server.entity_images`."""
    images = EntityImages(started_at)

    def serve(kind: str) -> Callable[[Request], Response]:
        def answer(req: Request) -> Response:
            try:
                entity_id = int(req.params["id"])
            except ValueError:
                raise HTTPError(404, b"not found") from None
            known = server.store.studios if kind == STUDIO else server.store.groups
            if entity_id not in known:
                raise HTTPError(404, b"not found")
            has_image, _, _, version = images.get(kind, entity_id)
            if not has_image:
                return Response(200, placeholder, "image/svg+xml")
            return Response(200, png(f"{kind}:{entity_id}:{version}", 24, 24), "image/png")
        return answer

    server.route("GET", "/studio/{id}/image", serve(STUDIO))
    server.route("GET", "/group/{id}/frontimage", serve(GROUP))
    server.route("GET", "/group/{id}/backimage", lambda req: Response(200, placeholder, "image/svg+xml"))
    return images


def attach(resolve: Callable[[str, str, Callable], None]) -> None:
    """The GraphQL fields that name them (set after stash_fields' defaults, which they replace)."""
    def images(info: Any) -> EntityImages:
        return info.context.server.entity_images

    def base(info: Any) -> str:
        return info.context.server.url

    resolve("Studio", "image_path", lambda s, info: images(info).url(base(info), STUDIO, s.id, s.name))
    resolve("Studio", "details", lambda s, info: images(info).get(STUDIO, s.id, s.name)[1])
    resolve("Group", "front_image_path", lambda g, info: images(info).url(base(info), GROUP, g.id, g.name))
    resolve("Group", "synopsis", lambda g, info: images(info).get(GROUP, g.id, g.name)[1])
