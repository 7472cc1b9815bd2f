"""The Plex side of PlexSync: find the scene's Plex item by its files and write what Stash says.

Only this package imports plexapi. Importing `plex` itself is light (no plexapi); the worker
uses `plex.target.PlexTarget` (also reachable as `plex.PlexTarget`, loaded on first use).
"""
from typing import Any

__all__ = ["PlexTarget", "MatchResult"]


def __getattr__(name: str) -> Any:
    if name == "PlexTarget":
        from plex.target import PlexTarget
        return PlexTarget
    if name == "MatchResult":
        from plex.matcher import MatchResult
        return MatchResult
    raise AttributeError(f"module 'plex' has no attribute {name!r}")
