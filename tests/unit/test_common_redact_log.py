"""Secrets never reach a log line, and log lines follow Stash's stderr protocol."""
import io
import logging

from common.log import StashLogHandler, bounded, progress
from common.redact import RedactingFilter, redact


def test_redact_known_values_and_token_shaped_parameters():
    text = "GET http://plex:32400/library?X-Plex-Token=abc123&x=1 ApiKey: k3y cookie session=s355 and my-secret-token"
    out = redact(text, ["my-secret-token"])
    for secret in ("abc123", "k3y", "s355", "my-secret-token"):
        assert secret not in out
    assert "x=1" in out


def _logger_with(stream, secrets=()):
    logger = logging.getLogger("plexsync.test-redact")
    logger.handlers.clear()
    handler = StashLogHandler(stream)
    handler.addFilter(RedactingFilter(secrets))
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger


def test_stash_handler_prefixes_levels_and_redacts_tracebacks():
    stream = io.StringIO()
    logger = _logger_with(stream, ["tok-1234"])
    logger.info("hello %s", "tok-1234")
    try:
        raise RuntimeError("failed with tok-1234")
    except RuntimeError:
        logger.exception("boom")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "\x01i\x02hello ***"
    assert all(line[:1] == "\x01" and line[2] == "\x02" for line in lines)
    assert "tok-1234" not in stream.getvalue()
    assert any(line.startswith("\x01e\x02") and "RuntimeError" in line for line in lines)


def test_lines_are_bounded_and_progress_is_clamped():
    stream = io.StringIO()
    _logger_with(stream).warning("x" * 200_000)
    assert max(len(line) for line in stream.getvalue().splitlines()) < 5000
    assert len(bounded("y" * 10)) == 10
    progress(1.7, stream)
    assert stream.getvalue().endswith("\x01p\x021.0000\n")
