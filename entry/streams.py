"""The byte boundary with Stash: stdin, stdout and stderr speak UTF-8 whatever the locale.

Stash writes the plugin's stdin as raw UTF-8 JSON, parses stdout as UTF-8 and reads stderr
line by line, and it sets neither PYTHONIOENCODING nor PYTHONUTF8. CPython before 3.15 uses the
locale's encoding for pipes: the ANSI code page (cp1252 on western Windows) with strict errors,
so "Jérôme" in a plugin folder reads as "JÃ©rÃ´me" and a "→" in a task's answer raises
UnicodeEncodeError. PlexSync.py therefore switches its own streams, once, before anything is
read or written: pipes and files become UTF-8; a terminal keeps its encoding (what the person
reads) and, like everything written, replaces what it cannot show instead of failing.
Standard library only, and no import at all: it runs on every hook.
"""
from __future__ import annotations

import sys

TEXT_ERRORS = "backslashreplace"  # a lone surrogate in stdout's JSON becomes a valid "\udcxx" escape


def use_utf8_streams() -> None:
    """Make sys.stdin read, and sys.stdout / sys.stderr write, UTF-8 (terminals excepted)."""
    for name in ("stdin", "stdout", "stderr"):
        stream = getattr(sys, name)
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:  # no stream (pythonw), or one a caller replaced
            continue
        try:
            interactive = stream.isatty()
        except (OSError, ValueError):
            interactive = False
        if name == "stdin":
            if not interactive:
                reconfigure(encoding="utf-8", errors="strict")  # bad bytes: a clear InputError later
        elif interactive:
            reconfigure(errors=TEXT_ERRORS)
        else:
            reconfigure(encoding="utf-8", errors=TEXT_ERRORS)
