"""Where Stash is and how to log in: from the plugin's stdin, a URL, or the file the drainer reads.

A task run gets `server_connection` on stdin; the detached drainer does not, and outlives the
task, so the task saves what it learned (after switching to the API key, because the session
cookie expires) into the data dir. The file holds a credential: it is written owner-only and
re-tightened if someone loosened it. Standard library only.
"""
from __future__ import annotations

import json
import os
import stat
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Optional, Tuple, Union
from urllib.parse import urlsplit

from common.datadir import CONNECTION_FILE, write_private_json
from common.errors import ConfigurationError

CONNECTION_VERSION = 1
DEFAULT_PORT = 9999
_RUN_TASK = "run a PlexSync task from Stash (Settings → Tasks) once"
_ANY_HOST = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}  # listen-on-all → loopback


@dataclass(frozen=True)
class StashConnection:
    scheme: str = "http"
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    api_key: str = ""
    cookie_name: str = "session"
    cookie_value: str = ""
    plugin_dir: str = ""

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def graphql_url(self) -> str:
        return self.base_url + "/graphql"

    @property
    def is_loopback(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")

    @property
    def secrets(self) -> Tuple[str, ...]:
        return tuple(value for value in (self.api_key, self.cookie_value) if value)

    def with_api_key(self, api_key: str) -> "StashConnection":
        """Use the API key from now on; the session cookie is dropped (it expires)."""
        return replace(self, api_key=api_key, cookie_value="") if api_key else self


def _normal_host(host: str) -> str:
    host = host.strip()
    return _ANY_HOST.get(host, host.strip("[]"))


def _port(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise ConfigurationError(f"{where} Port must be a number, got {value!r}")
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ConfigurationError(f"{where} Port must be a number, got {value!r}") from None
    if not 0 < port < 65536:
        raise ConfigurationError(f"{where} Port must be 1-65535, got {port}")
    return port


def connection_from_server_connection(server_connection: Mapping[str, Any]) -> StashConnection:
    """Read Stash's `server_connection` (Go field names); raise ConfigurationError when unusable."""
    where = "server_connection"
    if not isinstance(server_connection, Mapping):
        raise ConfigurationError(f"{where} must be an object: {_RUN_TASK}")
    scheme = server_connection.get("Scheme") or "http"
    if scheme not in ("http", "https"):
        raise ConfigurationError(f"{where} Scheme must be http or https, got {scheme!r}")
    host = server_connection.get("Host") or ""
    if not isinstance(host, str):
        raise ConfigurationError(f"{where} Host must be text, got {type(host).__name__}")
    cookie = server_connection.get("SessionCookie")
    cookie_name, cookie_value = "session", ""
    if cookie is not None:
        if not isinstance(cookie, Mapping):
            raise ConfigurationError(f"{where} SessionCookie must be an object or null")
        cookie_name = str(cookie.get("Name") or "session")
        cookie_value = str(cookie.get("Value") or "")
    plugin_dir = server_connection.get("PluginDir") or ""
    if not isinstance(plugin_dir, str):
        raise ConfigurationError(f"{where} PluginDir must be text, got {type(plugin_dir).__name__}")
    return StashConnection(
        scheme=scheme,
        host=_normal_host(host),
        port=_port(server_connection.get("Port", DEFAULT_PORT), where),
        cookie_name=cookie_name,
        cookie_value=cookie_value,
        plugin_dir=plugin_dir,
    )


def connection_from_url(url: str, api_key: str = "", plugin_dir: str = "") -> StashConnection:
    """A connection from a URL like http://localhost:9999 (the CLI); any path is ignored."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"Stash URL {url!r} is not an http(s) URL like http://localhost:9999")
    try:
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"Stash URL {url!r} has an invalid port") from None
    return StashConnection(
        scheme=parts.scheme,
        host=_normal_host(parts.hostname),
        port=port or (443 if parts.scheme == "https" else 80),
        api_key=(api_key or "").strip(),
        plugin_dir=plugin_dir,
    )


def connection_path(data_dir: Union[str, Path]) -> Path:
    return Path(data_dir) / CONNECTION_FILE


def save_connection(data_dir: Union[str, Path], connection: StashConnection, now: Optional[float] = None) -> Path:
    """Persist the connection for the drainer (0600). A cookie is kept only when there is no key."""
    path = connection_path(data_dir)
    write_private_json(path, {
        "version": CONNECTION_VERSION,
        "scheme": connection.scheme,
        "host": connection.host,
        "port": connection.port,
        "api_key": connection.api_key,
        "cookie_name": connection.cookie_name,
        "cookie_value": "" if connection.api_key else connection.cookie_value,
        "plugin_dir": connection.plugin_dir,
        "saved_at": time.time() if now is None else now,
    })
    return path


def load_connection(data_dir: Union[str, Path]) -> StashConnection:
    """The saved connection; ConfigurationError (one line, no secret) when missing or corrupt."""
    path = connection_path(data_dir)
    try:
        with open(path, encoding="utf-8") as handle:
            _tighten(path, handle.fileno())
            document = json.load(handle)
    except FileNotFoundError:
        raise ConfigurationError(f"PlexSync does not know how to reach Stash yet ({path} is missing): {_RUN_TASK}") from None
    except (OSError, ValueError):
        raise ConfigurationError(f"{path} is unreadable or corrupt: {_RUN_TASK}") from None
    try:
        if not isinstance(document, dict) or document.get("version") != CONNECTION_VERSION:
            raise ValueError
        fields = {name: document[name] for name in ("scheme", "host", "api_key", "cookie_name", "cookie_value", "plugin_dir")}
        if not all(isinstance(value, str) for value in fields.values()) or fields["scheme"] not in ("http", "https"):
            raise ValueError
        if not fields["host"]:
            raise ValueError
        port = _port(document["port"], str(path))
    except (KeyError, ValueError, ConfigurationError):
        raise ConfigurationError(f"{path} is corrupt: {_RUN_TASK}") from None
    return StashConnection(port=port, **fields)


def _tighten(path: Path, fd: int) -> None:
    """Make a loosened connection file owner-only again (POSIX; a no-op elsewhere)."""
    if os.name != "posix":
        return
    mode = os.fstat(fd).st_mode
    if stat.S_IMODE(mode) & 0o077:
        os.chmod(path, 0o600)
