"""A Stash client and PlexSync's settings read through it: what a run connected to Stash holds."""
from __future__ import annotations

from dataclasses import dataclass

from common.settings import Settings
from stash.client import StashClient


@dataclass
class StashSession:
    client: StashClient
    settings: Settings
