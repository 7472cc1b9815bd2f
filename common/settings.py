"""Every PlexSync setting in one table: name, type, default and the words users see.

Stash sends only the settings a user has set (numbers as numbers, booleans as booleans), so the
defaults live here, and `PlexSync.yml` is checked against this table by a test. `Settings` is
validated once, when it is built; a bad value raises ConfigurationError naming the setting and
where to fix it.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Dict, Mapping, Tuple
from urllib.parse import urlsplit

from common.errors import ConfigurationError
from common.pathmap import PathRule, parse_path_map

WHERE = "Settings → Plugins → PlexSync"

# name: (type, default, description shown in Stash)
SPEC: Dict[str, Tuple[type, Any, str]] = {
    "plex_url": (str, "", "Plex server URL, e.g. http://192.168.1.10:32400. Required."),
    "plex_token": (str, "", "Plex token (X-Plex-Token). Required. Never logged."),
    "plex_library": (str, "", "Plex libraries to sync, comma-separated names. Default: empty = every movie and show library."),
    "path_map": (str, "", "How Stash paths appear in Plex: stash_prefix=>plex_prefix pairs separated by ';', e.g. /data/videos=>/media/videos. Default: empty (same paths)."),
    "enabled": (bool, True, "Sync scene changes as they happen. Default: on (unset counts as on)."),
    "strict_matching": (bool, True, "When several Plex items could be the scene, fail and name them instead of guessing. Default: on."),
    "max_retries": (int, 5, "Retries of a transient failure before the job goes to dead letters. Default: 5."),
    "connect_timeout": (float, 5.0, "Seconds to wait to connect to Plex. Default: 5."),
    "read_timeout": (float, 30.0, "Seconds to wait for Plex to answer. Default: 30."),
    "verify_tls": (bool, True, "Verify Plex's TLS certificate on https URLs. Default: on."),
    "content_rating": (str, "", "Content rating to set on every synced item, e.g. XXX. Default: empty = leave Plex's."),
    "performer_photos": (bool, False, "Send performer image URLs to Plex (Plex must then reach Stash). Default: off."),
    "trigger_plex_scan": (bool, False, "Ask Plex to scan a new scene's folder when it is not in Plex yet. Default: off."),
    "preserve_plex_edits": (bool, False, "Leave fields alone that were locked by hand in Plex. Default: off."),
    "collection_parent_studio": (bool, False, "Also add the parent studio as a collection. Default: off."),
    "sync_groups": (bool, True, "Add each Stash group as a collection. Default: on."),
    "sync_title": (bool, True, "Sync the title. Default: on."),
    "sync_summary": (bool, True, "Sync details as the summary. Default: on."),
    "sync_date": (bool, True, "Sync the date. Default: on."),
    "sync_studio": (bool, True, "Sync the studio. Default: on."),
    "sync_rating": (bool, True, "Sync the rating. Default: on."),
    "sync_tags": (bool, True, "Sync tags as genres. Default: on."),
    "sync_performers": (bool, True, "Sync performers as actors. Default: on."),
    "sync_director": (bool, True, "Sync the director. Default: on."),
    "sync_collections": (bool, True, "Sync studio (and groups) as collections. Default: on."),
    "sync_poster": (bool, True, "Upload the scene screenshot as the poster. Default: on."),
    "sync_art": (bool, True, "Upload the scene screenshot as background art. Default: on."),
}

SECRET_SETTINGS = ("plex_token",)


@dataclass(frozen=True)
class Settings:
    plex_url: str = ""
    plex_token: str = ""
    plex_library: str = ""
    path_map: str = ""
    enabled: bool = True
    strict_matching: bool = True
    max_retries: int = 5
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    verify_tls: bool = True
    content_rating: str = ""
    performer_photos: bool = False
    trigger_plex_scan: bool = False
    preserve_plex_edits: bool = False
    collection_parent_studio: bool = False
    sync_groups: bool = True
    sync_title: bool = True
    sync_summary: bool = True
    sync_date: bool = True
    sync_studio: bool = True
    sync_rating: bool = True
    sync_tags: bool = True
    sync_performers: bool = True
    sync_director: bool = True
    sync_collections: bool = True
    sync_poster: bool = True
    sync_art: bool = True

    @property
    def path_rules(self) -> Tuple[PathRule, ...]:
        return parse_path_map(self.path_map)

    @property
    def libraries(self) -> Tuple[str, ...]:
        return tuple(name.strip() for name in self.plex_library.split(",") if name.strip())

    @property
    def secrets(self) -> Tuple[str, ...]:
        return tuple(getattr(self, name) for name in SECRET_SETTINGS if getattr(self, name))

    def require_plex(self) -> None:
        """Raise ConfigurationError unless the Plex connection settings are usable."""
        if not self.plex_url:
            raise ConfigurationError(f"plex_url is not set: {WHERE}")
        if not self.plex_token:
            raise ConfigurationError(f"plex_token is not set: {WHERE}")
        parts = urlsplit(self.plex_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"plex_url {self.plex_url!r} is not an http(s) URL like http://host:32400: {WHERE}"
            )

    def public_dict(self) -> Dict[str, Any]:
        """Every setting with secrets masked: safe to print, log or store in a snapshot."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in SECRET_SETTINGS:
            values[name] = "***" if values[name] else ""
        return values


def _coerce(name: str, kind: type, value: Any) -> Any:
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.strip().lower() in ("1", "true", "yes", "on")
        raise ConfigurationError(f"{name} must be on or off, got {value!r}: {WHERE}")
    if kind in (int, float):
        if isinstance(value, bool):
            raise ConfigurationError(f"{name} must be a number, got {value!r}: {WHERE}")
        try:
            number = kind(float(value)) if kind is int else float(value)
        except (TypeError, ValueError):
            raise ConfigurationError(f"{name} must be a number, got {value!r}: {WHERE}") from None
        if number < 0 or (kind is float and number == 0):
            raise ConfigurationError(f"{name} must be greater than zero, got {value!r}: {WHERE}")
        return number
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)):
        raise ConfigurationError(f"{name} must be text, got {type(value).__name__}: {WHERE}")
    return str(value).strip()


def settings_from_mapping(values: Mapping[str, Any]) -> Settings:
    """Build Settings from what Stash (or the CLI) gives; unknown keys are ignored, unset keys take defaults."""
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise ConfigurationError(f"plugin settings must be a mapping, got {type(values).__name__}: {WHERE}")
    chosen = {}
    for name, (kind, _default, _text) in SPEC.items():
        if name in values and values[name] is not None and values[name] != "":
            chosen[name] = _coerce(name, kind, values[name])
    settings = Settings(**chosen)
    settings.path_rules  # validates path_map now, not at first use
    return settings
