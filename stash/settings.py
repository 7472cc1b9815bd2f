"""PlexSync's settings as Stash stores them, and the small snapshot the hook reads instead.

Stash keeps plugin settings in its own configuration (not on the plugin's stdin) and sends only
those a user has set; `common.settings` supplies defaults and validation. Every task and
drainer run refreshes `settings.json` in the data dir so the hook, which must not make a
request, still knows whether sync is enabled. The snapshot holds no secret.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, Optional, Protocol, Union

from common.datadir import write_private_json
from common.settings import Settings, settings_from_mapping
from hooks.snapshot import read_hook_snapshot, snapshot_document, snapshot_path

PLUGIN_ID = "PlexSync"


class _SettingsSource(Protocol):
    def plugin_settings(self, plugin_id: str = PLUGIN_ID) -> Dict[str, Any]: ...


def load_settings(client: _SettingsSource, plugin_id: str = PLUGIN_ID) -> Settings:
    """Read the plugin's settings from Stash and validate them (ConfigurationError names a bad one)."""
    return settings_from_mapping(client.plugin_settings(plugin_id))


def write_hook_snapshot(data_dir: Union[str, Path], settings: Settings, now: Optional[float] = None) -> Path:
    """Write what the hook needs (the enabled flag and when it was read), owner-only."""
    path = Path(snapshot_path(data_dir))
    write_private_json(path, snapshot_document(settings.enabled, time.time() if now is None else now))
    return path


__all__ = ["PLUGIN_ID", "load_settings", "write_hook_snapshot", "read_hook_snapshot"]
