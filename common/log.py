"""Logging in Stash's plugin protocol, and to a file for the detached drainer.

Stash reads the plugin's stderr line by line: each line is `\\x01` + level + `\\x02` + text,
level one of t d i w e, and `p` + a fraction for the task progress bar. A line over 64 KiB
breaks Stash's reader, so lines are cut well short of that. Every record passes through
`RedactingFilter` first, so no handler ever sees a secret.
"""
from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Iterable, Optional, TextIO

from common.datadir import touch_private
from common.redact import RedactingFilter

LOGGER_NAME = "plexsync"
MAX_LINE = 4000
_LEVELS = ((logging.ERROR, "e"), (logging.WARNING, "w"), (logging.INFO, "i"), (logging.DEBUG, "d"))


def get_logger(name: str = "") -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}" if name else LOGGER_NAME)


def _level_char(levelno: int) -> str:
    for threshold, char in _LEVELS:
        if levelno >= threshold:
            return char
    return "t"


def bounded(text: str, limit: int = MAX_LINE) -> str:
    return text if len(text) <= limit else text[: limit - 12] + " …[cut]"


class StashLogHandler(logging.Handler):
    """Writes each record as Stash-prefixed lines on stderr (one line per line of text)."""

    def __init__(self, stream: Optional[TextIO] = None) -> None:
        super().__init__()
        self.stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        stream = self.stream or sys.stderr
        try:
            text = self.format(record)
            char = _level_char(record.levelno)
            for line in text.splitlines() or [""]:
                stream.write(f"\x01{char}\x02{bounded(line)}\n")
            stream.flush()
        except Exception:  # a broken stderr must never break a sync
            self.handleError(record)


def progress(fraction: float, stream: Optional[TextIO] = None) -> None:
    """Move Stash's task progress bar (0..1)."""
    stream = stream or sys.stderr
    stream.write(f"\x01p\x02{min(1.0, max(0.0, fraction)):.4f}\n")
    stream.flush()


def _install(handler: logging.Handler, secrets: Iterable[str], level: int) -> logging.Logger:
    logger = get_logger()
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    for old_filter in list(logger.filters):
        logger.removeFilter(old_filter)
    handler.addFilter(RedactingFilter(secrets))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def add_secrets(secrets: Iterable[str]) -> None:
    """Mask more values from now on (a token or API key learned after logging was set up)."""
    for handler in get_logger().handlers:
        for log_filter in handler.filters:
            if isinstance(log_filter, RedactingFilter):
                log_filter.add(secrets)


def setup_stash_logging(secrets: Iterable[str] = (), level: int = logging.INFO) -> logging.Logger:
    return _install(StashLogHandler(), secrets, level)


def setup_file_logging(path: Path, secrets: Iterable[str] = (), level: int = logging.INFO) -> logging.Logger:
    """Log to a size-bounded, owner-only file (the detached drainer has no stderr reader)."""
    touch_private(path)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=2, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    return _install(handler, secrets, level)


def setup_console_logging(secrets: Iterable[str] = (), level: int = logging.INFO) -> logging.Logger:
    """Plain stderr lines for the CLI."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    return _install(handler, secrets, level)
