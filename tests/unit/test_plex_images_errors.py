"""Image decisions (download only on a new URL, upload only new bytes) and the error classification table."""
from __future__ import annotations

import dataclasses

import pytest
import requests
from plexapi.exceptions import BadRequest, NotFound, Unauthorized
from urllib3.exceptions import MaxRetryError, NewConnectionError

from common.errors import (
    ITEM,
    MAINTENANCE,
    PLEX,
    ConfigurationError,
    PermanentError,
    PlexMaintenance,
    PlexServerError,
    PlexUnreachable,
    RequestTooLong,
    TokenRejected,
    TransientError,
    failure_of,
)
from common.models import Scene, SyncRecord
from common.settings import Settings
from plex.errors import TOKEN_REJECTED, ItemVanished, classified, classify
from plex.images import NO_IMAGE, digest, image_type, is_placeholder, needs_download, plan_images

JPEG = b"\xff\xd8\xff\xe0" + bytes(64)
URL = "http://stash/scene/1/screenshot?t=1"
SCENE = Scene(id=1, screenshot_url=URL)


def record(**fields):
    values = dict(scene_id=1, section_id=1, rating_key=5, image_source=URL, poster_hash=digest(JPEG),
                  art_hash=digest(JPEG))
    values.update(fields)
    return SyncRecord(**values)


def test_image_types_from_magic_bytes():
    assert image_type(JPEG) == "jpeg" and image_type(b"\x89PNG\r\n\x1a\n...") == "png"
    assert image_type(b"GIF89a...") == "gif" and image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert image_type(b"\x00\x00\x00\x18ftypmp42") is None and image_type(b"") is None


def test_download_only_when_the_url_changed_or_an_image_is_missing():
    assert not needs_download(SCENE, record(), Settings())
    assert needs_download(SCENE, record(image_source=URL + "0"), Settings())
    assert needs_download(SCENE, None, Settings())
    assert needs_download(SCENE, record(art_hash=""), Settings())
    assert not needs_download(SCENE, record(art_hash=""), Settings(sync_art=False))
    assert needs_download(SCENE, record(), Settings(), force=True)
    assert not needs_download(Scene(id=1), None, Settings())
    assert not needs_download(SCENE, None, Settings(sync_poster=False, sync_art=False))


def test_same_bytes_under_a_new_url_upload_nothing():
    fetched = []
    plan = plan_images(SCENE, record(image_source="old"), Settings(), lambda url: fetched.append(url) or JPEG)
    assert fetched == [URL] and not plan.poster and not plan.art and plan.digest == digest(JPEG)


def test_new_bytes_upload_the_enabled_kinds():
    plan = plan_images(SCENE, record(image_source="old"), Settings(sync_art=False), lambda url: JPEG + b"x")
    assert plan.poster and not plan.art and plan.data == JPEG + b"x"


def test_not_an_image_is_never_uploaded():
    plan = plan_images(SCENE, None, Settings(), lambda url: b"\x1aE\xdf\xa3 matroska")
    assert plan.uploads == 0 and plan.digest == NO_IMAGE and plan.source == URL


def test_stash_placeholder_is_remembered_so_the_same_url_is_not_fetched_again():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'
    assert is_placeholder(svg) and is_placeholder(b'<?xml version="1.0"?>\n' + svg) and not is_placeholder(JPEG)
    plan = plan_images(SCENE, None, Settings(), lambda url: svg)
    assert plan.uploads == 0 and plan.digest == NO_IMAGE
    remembered = record(image_source=URL, poster_hash=NO_IMAGE, art_hash=NO_IMAGE)
    assert not needs_download(SCENE, remembered, Settings())
    assert needs_download(dataclasses.replace(SCENE, screenshot_url=URL + "0"), remembered, Settings())


def _refused() -> requests.exceptions.ConnectionError:
    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.exceptions.ConnectionError(MaxRetryError(None, "/", reason))


@pytest.mark.parametrize("exc, kind", [
    (_refused(), PlexUnreachable),
    (requests.exceptions.ConnectTimeout("connect timed out"), PlexUnreachable),
    # issue 10: a reset, a read timeout and TLS are Plex-wide (the breaker opens, nothing is charged)
    (requests.exceptions.ConnectionError("Connection aborted, RemoteDisconnected"), PlexUnreachable),
    (requests.exceptions.ReadTimeout("read timed out"), PlexUnreachable),
    (requests.exceptions.SSLError("certificate verify failed"), ConfigurationError),
    (requests.exceptions.SSLError("EOF occurred in violation of protocol"), PlexUnreachable),
    (requests.exceptions.InvalidURL("bad"), ConfigurationError),
    (Unauthorized("(401) unauthorized; http://h/ "), TokenRejected),
    (BadRequest("(403) forbidden; http://h/ "), TokenRejected),
    (NotFound("(404) not_found; http://h/library/metadata/5"), ItemVanished),
    (BadRequest("(500) internal_server_error; http://h/ boom"), PlexServerError),
    (BadRequest("(429) too_many_requests; http://h/"), PlexUnreachable),
    (BadRequest("(502) bad_gateway; http://h/"), PlexUnreachable),
    (BadRequest("(504) gateway_timeout; http://h/"), PlexUnreachable),
    (BadRequest("(400) bad_request; http://h/ nope"), PermanentError),
    # issue 20: P10 maintenance, P7 too long (nginx's 414, Plex's HTML 400 on a long URL)
    (BadRequest('(503) service_unavailable; http://h/identity <Response code="503" title="Maintenance" '
                'status="Plex Media Server is currently running database migrations."/>'), PlexMaintenance),
    (BadRequest("(503) service_unavailable; http://h/library/sections/1/all"), PlexMaintenance),
    (BadRequest("(414) request_uri_too_large; http://h/library/sections/1/all?x=1 <html>414</html>"),
     RequestTooLong),
    (BadRequest(f"(400) bad_request; http://h/library/sections/1/all?{'a' * 3000} <html><head><title>Bad Request"
                "</title></head><body><h1>400 Bad Request</h1></body></html>"), RequestTooLong),
    (BadRequest("(400) bad_request; http://h/library/sections/1/all?a=1 <html><h1>400 Bad Request</h1></html>"),
     PermanentError),
])
def test_classification(exc, kind):
    found = classify(exc, "doing it")
    assert type(found) is kind


def test_maintenance_is_plex_wide_and_says_plex_is_upgrading_its_database():
    found = classify(BadRequest("(503) service_unavailable; http://h/identity"), "probing Plex")
    assert failure_of(found).scope == PLEX and MAINTENANCE in str(found)
    assert failure_of(classify(BadRequest("(414) x; http://h/"), "editing")).scope == ITEM


def test_unauthorized_says_where_to_fix_the_token():
    assert str(classify(Unauthorized("(401)"), "x")) == TOKEN_REJECTED


def test_messages_are_redacted_one_line_and_unchained():
    secret = "s3cr3t-token-value"
    with pytest.raises(TransientError) as caught:
        with classified("reading", [secret]):
            raise BadRequest(f"(503) service_unavailable; http://h/?X-Plex-Token={secret}\nmore {secret}")
    message = str(caught.value)
    assert secret not in message and "\n" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_refused_edit_names_the_fields():
    message = str(classify(BadRequest("(400) bad_request; http://h/"), "editing item 5", fields=("title", "genre")))
    assert "title, genre" in message and "400" in message
