"""How a task argument is read, the same from Stash's `args` and from the command line.

Each reader takes the value and where it came from ("args.days", "SCENE_ID") and returns the
value (None: not given), or raises ValueError with the one line the user reads. Standard library
only: the CLI's `--help` and Stash's dispatch read them before anything heavy is imported.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

MAX_SCENE_ID = 2**31 - 1
HOW_TO_NAME = ("the number in the scene's address in Stash, /scenes/ID")


class SceneIdError(ValueError):
    """A scene id that is not a positive whole number; the message says what to give instead."""


def number(kind: type, minimum: float) -> Callable[[Any, str], Optional[float]]:
    """A reader of a number of `kind` (int or float) no smaller than `minimum`."""

    def read(value: Any, where: str) -> Optional[float]:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"{where} must be a number, got {type(value).__name__}")
        try:
            read_value = kind(float(value))
        except ValueError:
            raise ValueError(f"{where} must be a number, got {value!r}") from None
        if read_value < minimum or read_value != read_value:
            raise ValueError(f"{where} must be at least {minimum}, got {value!r}")
        return read_value

    return read


def parse_scene_id(value: Any, where: str = "args.scene_id") -> int:
    """A scene id from a task argument or the command line; SceneIdError says what to pass."""
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, bool) or not isinstance(text, (int, float, str)) or text == "":
        raise SceneIdError(f"{where} must be a scene id ({HOW_TO_NAME}), got {value!r}")
    try:
        parsed = float(text)
    except (ValueError, OverflowError):
        raise SceneIdError(f"{where} must be a scene id ({HOW_TO_NAME}), got {value!r}") from None
    if not 1 <= parsed <= MAX_SCENE_ID or parsed != int(parsed):  # NaN and infinity fail the range
        raise SceneIdError(f"{where} must be a scene id ({HOW_TO_NAME}), got {value!r}")
    return int(parsed)


def scene_id(value: Any, where: str) -> Optional[int]:
    """The explain task's scene: none given (None or "") leaves it to the `explain_scene_id` setting."""
    if value in (None, ""):
        return None
    return parse_scene_id(value, where)


def scene_id_on_command_line(text: str) -> int:
    """The CLI's SCENE_ID: required there, so an empty one is refused too."""
    return parse_scene_id(text, "SCENE_ID")
