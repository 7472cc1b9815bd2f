"""Stash's raw plugin protocol: one JSON document on stdin, one JSON object on stdout.

Standard library only: the hook path runs through here on every save. Everything a user can
get wrong on stdin becomes an `InputError` with a one-line message; nothing here touches the
queue, so a bad input can never lose queued work.
"""
from __future__ import annotations

from collections import namedtuple

from common.datadir import resolve_data_dir
from common.fastjson import dumps, loads

TYPE_CHECKING = False  # typing costs ~7 ms to import, paid on every hook
if TYPE_CHECKING:
    from typing import Any, Optional, TextIO

MAX_STDIN = 16 * 1024 * 1024


class InputError(ValueError):
    """stdin is not what Stash sends; the message says what is wrong and what to do."""


class PluginInput(namedtuple("PluginInput", "server_connection args data_dir hook_context mode plugin_dir",
                             defaults=(None, None, None))):
    """What Stash sent, validated: server_connection and args (dicts), data_dir (text: the hook imports no pathlib), and
    hook_context (dict), mode and plugin_dir (text), each None when absent. A namedtuple, not a
    dataclass: the hook pays for every import."""

    __slots__ = ()

    @property
    def is_hook(self) -> bool:
        return self.hook_context is not None


def parse_input(text: str) -> PluginInput:
    """Validate Stash's stdin document; raise InputError with a one-line reason."""
    if not text or not text.strip():
        raise InputError(
            "no input on stdin: PlexSync.py is started by Stash (Tasks or hooks); "
            "on the command line run 'python PlexSync.py --help'"
        )
    if len(text) > MAX_STDIN:
        raise InputError("stdin is larger than 16 MiB: this is not a Stash plugin input")
    try:
        document = loads(text)
    except ValueError as exc:
        if hasattr(exc, "lineno"):  # json.JSONDecodeError
            raise InputError(f"stdin is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): "  # type: ignore[attr-defined]
                             "expected Stash's plugin input") from None
        raise InputError(f"stdin is not JSON ({exc}): expected Stash's plugin input") from None  # e.g. a huge number
    if not isinstance(document, dict):
        raise InputError(f"stdin JSON is a {type(document).__name__}, not an object: expected Stash's plugin input")
    connection = document.get("server_connection")
    if not isinstance(connection, dict):
        raise InputError("server_connection is missing from the input: run PlexSync from Stash (Settings → Tasks)")
    args = document.get("args") or {}
    if not isinstance(args, dict):
        raise InputError(f"args must be an object, got {type(args).__name__}")
    hook_context = args.get("hookContext")
    if hook_context is not None and not isinstance(hook_context, dict):
        raise InputError(f"args.hookContext must be an object, got {type(hook_context).__name__}")
    mode = args.get("mode")
    if mode is not None and not isinstance(mode, str):
        raise InputError(f"args.mode must be text, got {type(mode).__name__}")
    if hook_context is None and not mode:
        raise InputError("neither args.mode nor args.hookContext is set: run a PlexSync task from Settings → Tasks")
    plugin_dir = connection.get("PluginDir")
    if plugin_dir is not None and not isinstance(plugin_dir, str):
        raise InputError(f"server_connection.PluginDir must be text, got {type(plugin_dir).__name__}")
    return PluginInput(
        server_connection=connection,
        args=args,
        hook_context=hook_context,
        mode=mode,
        plugin_dir=plugin_dir or None,
        data_dir=resolve_data_dir(plugin_dir or None),
    )


def read_input(stream: TextIO) -> PluginInput:
    """Read stdin (UTF-8 since entry/streams.py switched it) and validate it."""
    try:
        text = stream.read(MAX_STDIN + 1)
    except UnicodeDecodeError as exc:
        raise InputError(f"stdin is not UTF-8 (byte 0x{exc.object[exc.start]:02x} cannot be decoded): "
                         "expected Stash's plugin input") from None
    return parse_input(text)


def write_result(stream: TextIO, output: Any = None, error: Optional[str] = None) -> None:
    """The one JSON object Stash reads from stdout; nothing else may be printed there."""
    stream.write(dumps({"output": output, "error": error}, ensure_ascii=False))
    stream.write("\n")
    stream.flush()
