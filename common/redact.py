"""Keeps secrets (Plex token, Stash API key, session cookie) out of logs, errors and dead letters.

Known secret values are replaced wherever they appear; token-shaped query parameters and
headers are masked even when the value was never registered (a URL copied from an exception).
"""
from __future__ import annotations

import logging
import re
from typing import Iterable

MASK = "***"
_PATTERNS = (
    re.compile(r"(?i)(x-plex-token[=:]\s*)[^&\s'\"]+"),
    re.compile(r"(?i)(apikey[=:]\s*)[^&\s'\"]+"),
    re.compile(r"(?i)(\bsession=)[^;&\s'\"]+"),
    re.compile(r"(?i)('(?:x-plex-token|apikey)':\s*')[^']+"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return `text` with every known secret and every token-shaped parameter masked."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that renders each record once, redacted, so no handler sees a secret."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def add(self, secrets: Iterable[str]) -> None:
        self.secrets = tuple(dict.fromkeys(self.secrets + tuple(s for s in secrets if s)))

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage(), self.secrets)
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info), self.secrets)
            record.exc_info = None
        return True
