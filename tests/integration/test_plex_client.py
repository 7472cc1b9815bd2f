"""The client edge against the fake Plex: identity, timeouts, and every failure classified and redacted."""
from __future__ import annotations

import logging
import os
import stat

import pytest

from common.errors import ConfigurationError, NotInPlexYet, PermanentError, PlexUnreachable, TransientError
from devkit.fakes.plex_server import FakePlexServer
from plex.client import IDENTIFIER_FILE, PlexClient
from plex.target import PlexTarget
from sync_queue.db import Database
from tests.integration.plex_fixtures import full_scene, make_settings

MOVIE = "/media/videos/clip.mp4"


class RecordingPlex(FakePlexServer):
    """The fake, noting the identity headers each request carried."""

    def __init__(self) -> None:
        super().__init__()
        self.identities: list = []

    def authenticate(self, req):
        self.identities.append((req.headers.get("X-Plex-Client-Identifier"), req.headers.get("X-Plex-Product")))
        return super().authenticate(req)


@pytest.fixture
def recording():
    server = RecordingPlex()
    server.start()
    server.add_section(1, "Videos", "movie", ["/media/videos"])
    yield server
    server.stop()


def test_one_persistent_client_identifier_per_install(recording, tmp_path):
    settings = make_settings(recording)
    first = PlexClient.connect(settings, tmp_path)
    first.probe()
    first.close()
    second = PlexClient.connect(settings, tmp_path)
    second.sections()
    second.close()
    identifiers = {ident for ident, _ in recording.identities}
    assert len(identifiers) == 1 and None not in identifiers
    assert {product for _, product in recording.identities} == {"PlexSync"}
    path = tmp_path / IDENTIFIER_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    other = PlexClient.connect(settings, tmp_path / "other-install")
    other.close()
    assert len({ident for ident, _ in recording.identities}) == 2


def test_a_wrong_token_is_a_configuration_error_without_the_token(plex, tmp_path):
    settings = make_settings(plex, plex_token="wrong-secret-token-123")
    with pytest.raises(ConfigurationError) as caught:
        PlexClient.connect(settings, tmp_path)
    assert "plex_token" in str(caught.value) and "wrong-secret-token-123" not in str(caught.value)


def test_plex_down_is_unreachable(plex, connect):
    target = connect()
    plex.down()
    with pytest.raises(PlexUnreachable) as caught:
        target.probe()
    assert plex.token not in str(caught.value)
    plex.up()
    target.probe()


def test_5xx_and_429_are_transient(plex, connect):
    target = connect()
    # issue 10: 502/503/504 and 429 are Plex-wide; a 500 is about one item until it spreads
    for status, wide in ((500, False), (503, True), (429, True)):
        plex.fail_next(status=status, route="/")
        with pytest.raises(TransientError) as caught:
            target.probe()
        assert isinstance(caught.value, PlexUnreachable) is wide and str(status) in str(caught.value)


def test_a_dropped_connection_is_transient(plex, connect):
    target = connect()
    plex.drop_next(route="/library/metadata/{ids}")
    plex.add_movie(1, [MOVIE], "clip")
    with pytest.raises(TransientError):
        target.sync_scene(full_scene(MOVIE), None)


def test_a_read_timeout_is_transient(plex, connect):
    target = connect(read_timeout=0.3)
    plex.hang_next(seconds=30, route="/", apply=False)
    with pytest.raises(TransientError) as caught:
        target.probe()
    assert "in time" in str(caught.value)


def test_a_refused_edit_is_permanent_and_names_the_fields(plex, connect):
    plex.add_movie(1, [MOVIE], "clip")
    target = connect(sync_poster=False, sync_art=False)
    plex.fail_next(status=400, route="/library/sections/{id}/all", method="PUT")
    with pytest.raises(PermanentError) as caught:
        target.sync_scene(full_scene(MOVIE), None)
    message = str(caught.value)
    assert "400" in message and "title" in message and "genre" in message and plex.token not in message


def test_a_404_on_the_edit_means_the_item_vanished(plex, connect):
    rk = plex.add_movie(1, [MOVIE], "clip")
    target = connect(sync_poster=False, sync_art=False)
    plex.fail_next(status=404, route="/library/sections/{id}/all", method="PUT")
    with pytest.raises(NotInPlexYet):
        target.sync_scene(full_scene(MOVIE), None)
    assert target.sync_scene(full_scene(MOVIE), None).rating_key == rk  # re-indexed on the next try


def test_tls_verification_follows_the_setting(plex, tmp_path):
    from plex.client import make_session
    assert make_session(make_settings(plex)).verify is True
    assert make_session(make_settings(plex, verify_tls=False)).verify is False


def test_the_token_never_reaches_a_log_line(plex, connect, caplog):
    caplog.set_level(logging.DEBUG)
    plex.add_movie(1, [MOVIE], "clip")
    target = connect()
    target.sync_scene(full_scene(MOVIE), None)
    plex.fail_next(status=500, route="/")
    with pytest.raises(TransientError):
        target.probe()
    assert caplog.records and all(plex.token not in record.getMessage() for record in caplog.records)


def test_connect_rejects_missing_settings(tmp_path):
    from common.settings import settings_from_mapping
    with pytest.raises(ConfigurationError):
        PlexTarget.connect(settings_from_mapping({}), tmp_path, Database(tmp_path), lambda url: b"")


def test_the_index_database_is_private(plex, connect, tmp_path):
    connect()
    assert stat.S_IMODE(os.stat(tmp_path / "data" / "queue.db").st_mode) == 0o600
