"""JSON for the hook path without importing `json`: the same C scanner and encoder, ~2.5 ms sooner.

`import json` pulls in `re`, and `re` pulls in `enum`: about a fifth of what a hook costs over
a bare interpreter, paid on every save and once per scene of a bulk edit. The work itself is
done by CPython's `_json` accelerator, which `json` wraps; these functions call it directly
with `json`'s own defaults, so they give the same values and the same text. Anything unusual
(no `_json`, as on some other interpreters; a document the fast path cannot decode) goes to
the `json` module, which then gives its usual result or its usual error.
"""
from __future__ import annotations

try:
    import _json
except ImportError:  # pragma: no cover - CPython always has it
    _json = None  # type: ignore[assignment]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WHITESPACE = " \t\n\r"
_CONSTANTS = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}


class _Defaults:
    """What `json.JSONDecoder()` hands the C scanner."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = _CONSTANTS.__getitem__


def loads(text: str) -> Any:
    """`json.loads(text)` for a str."""
    if _json is not None and isinstance(text, str):
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            value, end = _json.make_scanner(_Defaults)(text, start)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - malformed: json gives its own precise error below
            pass  # (the C scanner cannot even build that error while json.decoder is not imported)
        else:
            if not text[end:].strip(_WHITESPACE):
                return value
    import json

    return json.loads(text)


def dumps(value: Any, ensure_ascii: bool = True, separators: tuple = (", ", ": ")) -> str:
    """`json.dumps(value, ensure_ascii=..., separators=...)`, with `default=str`."""
    if _json is not None:
        string = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
        try:
            encoder = _json.make_encoder({}, str, string, None, separators[1], separators[0], False, False, True)
            return "".join(encoder(value, 0))
        except TypeError:
            pass  # an interpreter whose encoder takes other arguments
    import json

    return json.dumps(value, ensure_ascii=ensure_ascii, separators=separators, default=str)
