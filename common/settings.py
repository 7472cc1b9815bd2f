"""Every PlexSync setting in one table: name, type, default and the words users see.

Stash sends only the settings a user has set (numbers as numbers, booleans as booleans), so the
defaults live here. Each setting is declared once, as a field of `Settings`; the manifest's
`settings:` block and the README's table are generated from those fields (tools/settings_docs.py)
and a test keeps them equal. `Settings` is
validated once, when it is built; a bad value raises ConfigurationError naming the setting and
where to fix it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Dict, Mapping, Tuple
from urllib.parse import urlsplit

from common.errors import ConfigurationError
from common.pathmap import PathRule, parse_path_map

WHERE = "Settings → Plugins → PlexSync"
SECRET_SETTINGS = ("plex_token",)
MAX_PLEX_CONCURRENCY = 16


def setting(default: Any, label: str, text: str, empty: str = "") -> Any:
    """One setting: its default, the name Stash shows, and what it does (`empty`: what "" means)."""
    return field(default=default, metadata={"label": label, "text": text, "empty": empty})


@dataclass(frozen=True)
class Settings:
    """Every setting, declared once: the manifest"s settings block and the README"s settings table
    are generated from these fields (`python -m tools.settings_docs --write`; a test compares)."""

    plex_url: str = setting("", "Plex URL", "Plex server URL, e.g. http://192.168.1.10:32400. Required.")
    plex_token: str = setting("", "Plex token", "Plex token (X-Plex-Token). Required. Never logged.")
    plex_library: str = setting(
        "", "Plex libraries",
        "Plex libraries to sync, comma-separated names.", empty="every movie and show library")
    path_map: str = setting(
        "", "Path mapping",
        "How Stash paths appear in Plex: stash_prefix=>plex_prefix pairs separated by ';', "
        "e.g. /data/videos=>/media/videos.", empty="same paths")
    enabled: bool = setting(True, "Sync changes as they happen", "Sync scene changes as they happen.")
    strict_matching: bool = setting(
        True, "Strict matching",
        "When several Plex items could be the scene, fail and name them instead of guessing.")
    max_retries: int = setting(
        5, "Retries before dead letter",
        "Retries of a transient failure before the job goes to dead letters.")
    connect_timeout: float = setting(5.0, "Plex connect timeout (s)", "Seconds to wait to connect to Plex.")
    read_timeout: float = setting(30.0, "Plex read timeout (s)", "Seconds to wait for Plex to answer.")
    plex_concurrency: int = setting(
        4, "Plex requests at once",
        f"Most scenes written to Plex at the same time (1 to {MAX_PLEX_CONCURRENCY}; 1 = one at a time). "
        "Lowered on its own while Plex struggles.")
    verify_tls: bool = setting(True, "Verify Plex TLS certificate", "Verify Plex's TLS certificate on https URLs.")
    content_rating: str = setting(
        "", "Content rating",
        "Content rating to set on every synced item, e.g. XXX.", empty="leave Plex's")
    performer_photos: bool = setting(
        False, "Performer photos",
        "Send performer image URLs to Plex (Plex must then reach Stash).")
    trigger_plex_scan: bool = setting(
        False, "Ask Plex to scan new scenes",
        "Ask Plex to scan a new scene's folder when it is not in Plex yet.")
    preserve_plex_edits: bool = setting(
        False, "Keep hand edits in Plex",
        "Leave fields alone that were locked by hand in Plex.")
    collection_parent_studio: bool = setting(
        False, "Parent studio as collection",
        "Also add the parent studio as a collection.")
    sync_groups: bool = setting(True, "Groups as collections", "Add each Stash group as a collection.")
    sync_title: bool = setting(True, "Sync title", "Sync the title.")
    sync_summary: bool = setting(True, "Sync summary", "Sync details as the summary.")
    sync_date: bool = setting(True, "Sync date", "Sync the date.")
    sync_studio: bool = setting(True, "Sync studio", "Sync the studio.")
    sync_rating: bool = setting(True, "Sync rating", "Sync the rating.")
    sync_tags: bool = setting(True, "Sync tags", "Sync tags as genres (as labels on episodes).")
    label_tags: str = setting(
        "", "Tags as labels",
        "Stash tags to write as Plex labels on movies and episodes, comma-separated names; "
        "a tag's child tags count as the tag. For Plex's restrict-by-label sharing.", empty="none")
    label_prefix: str = setting(
        "", "Label tag prefix",
        "Also write as labels every tag whose name starts with this text, e.g. plex:.", empty="none")
    exclude_tags: str = setting(
        "", "Tags kept out of Plex",
        "Stash tags never written to Plex as genres or labels, comma-separated names; "
        "a tag's child tags count as the tag.", empty="none")
    sync_performers: bool = setting(True, "Sync performers", "Sync performers as actors.")
    sync_director: bool = setting(True, "Sync director", "Sync the director.")
    sync_collections: bool = setting(True, "Sync collections", "Sync studio (and groups) as collections.")
    sync_poster: bool = setting(True, "Sync poster", "Upload the scene screenshot as the poster.")
    sync_art: bool = setting(True, "Sync background art", "Upload the scene screenshot as background art.")
    import_plays: bool = setting(
        False, "Import plays from Plex",
        "Bring completed views in Plex to Stash's play history (and the owner's resume points) every time "
        "the background sync runs; the task 'Import plays from Plex' does it on demand.")
    plays_accounts: str = setting(
        "", "Plex accounts whose plays count",
        "Plex accounts whose views become Stash plays: names or ids, comma-separated, or all.",
        empty="the server owner")
    plays_resume: bool = setting(
        True, "Resume points from Plex", "Set a scene's resume point where the Plex owner stopped watching.")
    plays_to_plex: bool = setting(
        False, "Stash plays to Plex",
        "Mark scenes played in Stash as played in Plex for the owner (Plex cannot record when), and send "
        "Stash's resume points to Plex.")
    ratings_from_plex: bool = setting(
        False, "Ratings from Plex",
        "Bring the owner's ratings made in Plex to Stash (0-10 stars to 1-100); PlexSync's own write "
        "is not sent back to Plex.")
    watch_plays: bool = setting(
        False, "Listen for plays in Plex",
        "Keep the background sync listening to Plex, so a play stopped in Plex reaches Stash within seconds.")
    explain_scene_id: int = setting(
        0, "Scene to explain",
        "The scene the \"Explain a scene\" task explains: the number in the scene's address in Stash "
        "(/scenes/123); 0 = none. Stash's task menu cannot ask for it.")

    @property
    def path_rules(self) -> Tuple[PathRule, ...]:
        return parse_path_map(self.path_map)

    @property
    def libraries(self) -> Tuple[str, ...]:
        return tuple(name.strip() for name in self.plex_library.split(",") if name.strip())

    @property
    def label_tag_names(self) -> frozenset:
        return _names(self.label_tags)

    @property
    def excluded_tag_names(self) -> frozenset:
        return _names(self.exclude_tags)

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
        """Every setting with secrets masked: safe to print, log or store."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in SECRET_SETTINGS:
            values[name] = "***" if values[name] else ""
        return values


def _names(text: str) -> frozenset:
    """Comma-separated tag names, compared case-insensitively."""
    return frozenset(name.strip().casefold() for name in text.split(",") if name.strip())


def default_text(kind: type, default: Any, text: str, empty: str = "") -> str:
    """How a setting's default is said at the end of its description."""
    if kind is bool:
        return f"Default: {'on' if default else 'off'}."
    if kind is str:
        if default == "" and "Required." in text:
            return ""
        return f"Default: empty = {empty}." if empty and default == "" else f"Default: {default or 'empty'}."
    return f"Default: {default:g}."


def _spec() -> Dict[str, Tuple[type, Any, str]]:
    table = {}
    for item in fields(Settings):
        kind = type(item.default)
        text = item.metadata["text"]
        said = default_text(kind, item.default, text, item.metadata["empty"])
        table[item.name] = (kind, item.default, f"{text} {said}".strip())
    return table


# name: (type, default, description shown in Stash), derived from the fields of Settings
SPEC: Dict[str, Tuple[type, Any, str]] = _spec()
LABELS: Dict[str, str] = {item.name: item.metadata["label"] for item in fields(Settings)}


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
    if not 1 <= settings.plex_concurrency <= MAX_PLEX_CONCURRENCY:
        raise ConfigurationError(f"plex_concurrency must be 1 to {MAX_PLEX_CONCURRENCY}, "
                                 f"got {values['plex_concurrency']!r}: {WHERE}")
    settings.path_rules  # validates path_map now, not at first use
    return settings
