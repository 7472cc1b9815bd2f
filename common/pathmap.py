"""Stash and Plex usually see the same files under different roots: the `path_map` setting says how.

Format: `stash_prefix=>plex_prefix` pairs separated by `;`, e.g.
`/data/videos=>/media/videos; D:\\Stash=>/mnt/stash`. A prefix matches whole path components
(`/data/video` does not match `/data/videos/x`), Windows-style prefixes (drive letter or UNC)
match case-insensitively, trailing slashes do not matter, and the rest of the path takes the
separator style of the Plex side.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from common.errors import ConfigurationError

_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:(?:[\\/]|$)|\\\\|//)")
_SETTINGS_HINT = "fix it in Settings → Plugins → PlexSync"


def is_windows_path(path: str) -> bool:
    return bool(_WINDOWS_PATH.match(path))


def _slashed(path: str) -> str:
    """Forward slashes, no repeated or trailing slash; a UNC path keeps its leading `//`."""
    text = path.replace("\\", "/")
    lead = "//" if text.startswith("//") else ""
    text = lead + re.sub(r"/+", "/", text[len(lead):])
    return text.rstrip("/") if len(text) > 1 else text


def normalize(path: str) -> str:
    """A comparison key for a path: forward slashes, case folded when it is a Windows path."""
    text = _slashed(path)
    return text.casefold() if is_windows_path(path) else text


@dataclass(frozen=True)
class PathRule:
    stash_prefix: str
    plex_prefix: str

    def apply(self, path: str) -> Optional[str]:
        text, prefix = _slashed(path), _slashed(self.stash_prefix)
        if is_windows_path(self.stash_prefix) or is_windows_path(path):
            text_key, prefix_key = text.casefold(), prefix.casefold()
        else:
            text_key, prefix_key = text, prefix
        if prefix_key == "/":
            rest = text[1:] if text.startswith("/") else None
        elif text_key == prefix_key:
            rest = ""
        elif text_key.startswith(prefix_key + "/"):
            rest = text[len(prefix) + 1:]
        else:
            rest = None
        if rest is None:
            return None
        separator = "\\" if is_windows_path(self.plex_prefix) and "/" not in self.plex_prefix else "/"
        target = self.plex_prefix.rstrip("/\\") or self.plex_prefix[:1]
        if not rest:
            return target
        joiner = "" if target.endswith(separator) else separator
        return target + joiner + rest.replace("/", separator)


def parse_path_map(text: str) -> Tuple[PathRule, ...]:
    """Parse the setting, longest Stash prefix first; raise ConfigurationError naming a bad pair."""
    rules: List[PathRule] = []
    for raw in (text or "").split(";"):
        pair = raw.strip()
        if not pair:
            continue
        if pair.count("=>") != 1:
            raise ConfigurationError(f"path_map entry {pair!r} is not 'stash_prefix=>plex_prefix': {_SETTINGS_HINT}")
        stash_prefix, plex_prefix = (part.strip() for part in pair.split("=>"))
        if not stash_prefix or not plex_prefix:
            raise ConfigurationError(f"path_map entry {pair!r} has an empty side: {_SETTINGS_HINT}")
        rules.append(PathRule(stash_prefix, plex_prefix))
    rules.sort(key=lambda rule: len(_slashed(rule.stash_prefix)), reverse=True)
    return tuple(rules)


def map_path(path: str, rules: Tuple[PathRule, ...]) -> str:
    """The path as Plex sees it: the longest matching rule wins; an unmapped path passes through."""
    for rule in rules:
        mapped = rule.apply(path)
        if mapped is not None:
            return mapped
    return path
