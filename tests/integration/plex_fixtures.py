"""Fixtures for the Plex-side tests: a fake Plex over loopback and a PlexTarget built against it."""
from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
import requests

from common.models import Performer, Scene, SceneFile
from common.settings import Settings, settings_from_mapping
from devkit.fakes.plex_server import FakePlexServer
from plex.target import PlexTarget
from sync_queue.db import Database

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(range(256))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


class Images:
    """fetch_image stand-in: serves bytes per URL and counts downloads."""

    def __init__(self) -> None:
        self.by_url: Dict[str, bytes] = {}
        self.fetched: List[str] = []

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        return self.by_url.get(url, JPEG)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def plex() -> Iterator[FakePlexServer]:
    server = FakePlexServer()
    server.start()
    server.add_section(1, "Videos", "movie", ["/media/videos"])
    server.add_section(2, "Series", "show", ["/media/series"])
    try:
        yield server
        # An edit without `id` edits every item of the library on a real server: always damage.
        assert server.bulk_edits == 0, "an edit without an item id reached Plex"
    finally:
        server.stop()


@pytest.fixture
def images() -> Images:
    return Images()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_settings(plex: FakePlexServer, **overrides: Any) -> Settings:
    values = {"plex_url": plex.url, "plex_token": plex.token}
    values.update(overrides)
    return settings_from_mapping(values)


@pytest.fixture
def connect(plex: FakePlexServer, tmp_path: Path, images: Images, clock: Clock) -> Iterator[Callable[..., PlexTarget]]:
    """connect(**settings) -> a PlexTarget on the fake (closed after the test)."""
    opened: List[PlexTarget] = []
    database = Database(tmp_path / "data")

    def _connect(*, page_size: int = 500, recent_interval: float = 0.0, **overrides: Any) -> PlexTarget:
        target = PlexTarget.connect(make_settings(plex, **overrides), tmp_path / "data", database,
                                    images, clock=clock, page_size=page_size, recent_interval=recent_interval)
        opened.append(target)
        return target

    yield _connect
    for target in opened:
        target.close()
    database.close()


_ids = itertools.count(1)


def scene(files: List[str], **fields: Any) -> Scene:
    """A Stash scene with sensible defaults; `performers` may be plain names."""
    performers = tuple(p if isinstance(p, Performer) else Performer(p) for p in fields.pop("performers", ()))
    sizes = fields.pop("sizes", None) or [None] * len(files)
    return Scene(id=fields.pop("id", next(_ids)), files=tuple(SceneFile(f, s) for f, s in zip(files, sizes)),
                 performers=performers, **fields)


def full_scene(path: str, **fields: Any) -> Scene:
    values: Dict[str, Any] = dict(
        title="A title", details="Some details.\nSecond line.", date="2021-03-04", rating100=80,
        studio="Studio One", parent_studio="Parent Co", performers=["Ann", "Bob"], tags=["Tag A", "Tag B"],
        director="Dee Rector", groups=["Group X"], screenshot_url="http://stash.local/scene/1/screenshot?t=1")
    values.update(fields)
    return scene([path], **values)


def plex_requests(plex: FakePlexServer, method: Optional[str] = None) -> int:
    """How many requests the fake saw (optionally of one HTTP method)."""
    return sum(n for key, n in plex.counts().items() if method is None or key.startswith(method + " "))


def hand_edit(plex: FakePlexServer, rating_key: int, **values: str) -> None:
    """Edit fields as a person in Plex's web app would: value set and field locked, over HTTP."""
    item = plex.item(rating_key)
    params = {"type": 4 if item["type"] == "episode" else 1, "id": rating_key, "X-Plex-Token": plex.token}
    for name, value in values.items():
        params[f"{name}.value"] = value
        params[f"{name}.locked"] = 1
    answer = requests.put(f"{plex.url}/library/sections/{item['librarySectionID']}/all", params=params, timeout=10)
    answer.raise_for_status()
