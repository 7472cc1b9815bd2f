"""The fake Stash, driven by the real stashapi and plain HTTP, behaves as Stash does where the
product depends on it: construction, paging, text-compared `updated_at` filters, plugin
settings, login, updates moving `updated_at` and the screenshot, error shapes, faults, counts.
"""
from __future__ import annotations

import re
import struct
import zlib

import pytest
import requests
import stashapi.stashapp as stashapp

from devkit.fakes.stash_server import FakeStashServer
from devkit.fakes.stash_store import SceneRow, parse_time
from devkit.fakes.world import build_world

TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
FRAGMENT = "id title updated_at paths { screenshot } files { path basename size } tags { id name }"


@pytest.fixture(scope="module")
def world():
    return build_world(120, seed=3)


@pytest.fixture
def server(world):
    srv = FakeStashServer(world.stash_data)
    srv.start()
    yield srv
    srv.stop()


def connect(srv: FakeStashServer, **extra) -> "stashapp.StashInterface":
    return stashapp.StashInterface({"Scheme": "http", "Host": "127.0.0.1", "Port": srv.port, **extra})


def gql(srv: FakeStashServer, query: str, variables: dict | None = None, **kwargs) -> requests.Response:
    return requests.post(f"{srv.url}/graphql", json={"query": query, "variables": variables or {}},
                         timeout=10, **kwargs)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and zlib.crc32(data[12:16 + length]) == struct.unpack(">I", data[16 + length:20 + length])[0]
    return struct.unpack(">II", data[16:24])


def test_construction_costs_three_requests_one_of_them_introspection(server):
    connect(server)
    counts = server.counts()
    assert counts["POST /graphql"] == 3
    assert counts["POST /graphql StashVersion"] == 1
    assert counts["POST /graphql getApiKey"] == 1
    assert "__schema" in server.graphql_log()[2]["query"]


def test_find_scenes_pages_in_id_order_without_a_sort(server, world):
    stash = connect(server)
    count, page = stash.find_scenes(filter={"per_page": 50, "page": 2}, fragment=FRAGMENT, get_count=True)
    assert count == len(world.stash_data.scenes)
    assert [int(s["id"]) for s in page] == list(range(51, 101))
    last = stash.find_scenes(filter={"per_page": 50, "page": 3}, fragment="id")
    assert [int(s["id"]) for s in last] == list(range(101, 121))
    assert server.count("findScenes per_page=-1") == 0


def test_stashapi_default_find_scenes_asks_for_everything_and_the_fake_counts_it(server, world):
    scenes = connect(server).find_scenes(fragment="id")
    assert len(scenes) == len(world.stash_data.scenes)
    assert server.count("findScenes per_page=-1") == 1


def test_updated_at_filter_compares_text(server, world):
    rows = world.stash_data.scenes
    cut = sorted(r.updated_at for r in rows)[len(rows) // 2][:16]
    expected = sorted(r.id for r in rows if r.updated_at > cut)
    stash = connect(server)
    count, scenes = stash.find_scenes(f={"updated_at": {"value": cut, "modifier": "GREATER_THAN"}},
                                      filter={"per_page": 200, "sort": "updated_at", "direction": "ASC"},
                                      fragment="id updated_at", get_count=True)
    assert count == len(expected)
    assert sorted(int(s["id"]) for s in scenes) == expected
    stamps = [s["updated_at"] for s in scenes]
    assert stamps == sorted(stamps) and all(TIME_RE.match(t) for t in stamps)
    older = stash.find_scenes(f={"updated_at": {"value": cut, "modifier": "LESS_THAN"}},
                              filter={"per_page": 200}, fragment="id")
    assert len(older) + count == len(rows)


def test_paging_by_updated_at_visits_every_scene_once_even_with_ties(server, world):
    stamps = [r.updated_at for r in world.stash_data.scenes]
    assert len(set(stamps)) < len(stamps), "the world should contain updated_at ties"
    stash = connect(server)
    seen = []
    for page in range(1, 20):
        batch = stash.find_scenes(filter={"per_page": 7, "page": page, "sort": "updated_at", "direction": "DESC"},
                                  fragment="id")
        seen += [int(s["id"]) for s in batch]
        if len(batch) < 7:
            break
    assert sorted(seen) == sorted(r.id for r in world.stash_data.scenes)


def test_find_scenes_by_ids_ignores_paging_and_fails_on_a_missing_id(server):
    answer = gql(server, "query Q($ids: [ID!], $f: FindFilterType) { findScenes(ids: $ids, filter: $f) "
                         "{ count scenes { id } } }", {"ids": ["5", "2", "9"], "f": {"per_page": 1}}).json()
    assert answer["data"]["findScenes"] == {"count": 3, "scenes": [{"id": "5"}, {"id": "2"}, {"id": "9"}]}
    missing = gql(server, "query Q($ids: [ID!]) { findScenes(ids: $ids) { count } }", {"ids": ["1", "99999"]})
    assert missing.status_code == 200
    assert missing.json()["data"] is None
    assert missing.json()["errors"][0]["message"] == "scene with id 99999 not found"
    assert gql(server, "{ findScene(id: 99999) { id } }").json() == {"data": {"findScene": None}}


def test_invalid_documents_and_variables_answer_422_under_accept_json_and_400_otherwise(server):
    """Stash v0.29+ (gqlgen v0.17.73): 422 under `Accept: application/json` (stashapi's), 400 under
    python-requests' `*/*` (REAL-SERVERS.md S3); the error codes are the same either way."""
    as_json = {"headers": {"Accept": "application/json"}}
    bad_field = gql(server, "{ findScenes { scenes { nickname } } }", **as_json)
    assert bad_field.status_code == 422
    assert bad_field.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    bad_variable = gql(server, "query Q($f: FindFilterType) { findScenes(filter: $f) { count } }",
                       {"f": {"per_page": "many"}}, **as_json)
    assert bad_variable.status_code == 422
    assert gql(server, "query {", **as_json).status_code == 422
    default_accept = gql(server, "{ findScenes { scenes { nickname } } }")  # requests sends Accept: */*
    assert default_accept.status_code == 400
    assert default_accept.headers["Content-Type"] == "application/graphql-response+json"
    assert default_accept.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    parse_error = gql(server, "query {")
    assert parse_error.status_code == 400
    assert parse_error.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


def test_studio_images_and_group_covers_are_served_at_stashs_paths(server):
    found = gql(server, "{ findScenes(filter: {per_page: -1}) { scenes { studio { id name image_path details } "
                        "groups { group { id front_image_path synopsis } } } } }").json()["data"]
    scenes = found["findScenes"]["scenes"]
    studios = [scene["studio"] for scene in scenes if scene["studio"]]
    groups = [entry["group"] for scene in scenes for entry in scene["groups"]]
    with_image = next(s for s in studios if "default=true" not in s["image_path"])
    without = next(s for s in studios if "default=true" in s["image_path"])
    assert with_image["details"] and without["details"] is None
    assert f"/studio/{with_image['id']}/image?t=" in with_image["image_path"]
    assert requests.get(with_image["image_path"], timeout=10).content[:4] == b"\x89PNG"
    assert b"<svg" in requests.get(without["image_path"], timeout=10).content
    cover = next(g for g in groups if "default=true" not in g["front_image_path"])
    assert f"/group/{cover['id']}/frontimage?t=" in cover["front_image_path"] and cover["synopsis"]
    assert requests.get(cover["front_image_path"], timeout=10).content[:4] == b"\x89PNG"
    assert requests.get(f"{server.url}/studio/99999/image", timeout=10).status_code == 404


def test_plugin_settings_round_trip_and_unset_plugins_are_absent(server):
    stash = connect(server)
    assert stash.find_plugin_config("PlexSync") == {}
    stash.configure_plugin("PlexSync", {"plexUrl": "http://plex:32400", "batchSize": 50, "dryRun": False})
    assert stash.find_plugin_config("PlexSync") == {"plexUrl": "http://plex:32400", "batchSize": 50,
                                                    "dryRun": False}
    raw = gql(server, '{ configuration { plugins(include: ["PlexSync", "Other"]) general { apiKey } } }').json()
    assert raw["data"]["configuration"] == {
        "plugins": {"PlexSync": {"plexUrl": "http://plex:32400", "batchSize": 50, "dryRun": False}},
        "general": {"apiKey": ""}}


def test_login_requires_the_api_key_header_or_the_session_cookie(world):
    srv = FakeStashServer(world.stash_data, api_key="secret-key", session_cookie="cookie-value")
    srv.start()
    try:
        assert gql(srv, "{ version { version } }").status_code == 401
        with pytest.raises(Exception):
            connect(srv)
        by_key = connect(srv, ApiKey="secret-key")
        by_cookie = connect(srv, SessionCookie={"Name": "session", "Value": "cookie-value"})
        assert by_key.find_plugin_config("PlexSync") == {} and by_cookie.version.major == 0
        answer = gql(srv, "{ configuration { general { apiKey } } }", headers={"ApiKey": "secret-key"})
        assert answer.json()["data"]["configuration"]["general"]["apiKey"] == "secret-key"
        shot = by_key.find_scene(1, fragment="paths { screenshot }")["paths"]["screenshot"]
        # A page without a login is redirected to the login page, as Stash does (a 200 web page).
        assert requests.get(shot, timeout=10, allow_redirects=False).status_code == 302
        assert requests.get(shot, headers={"ApiKey": "wrong"}, timeout=10).headers["Content-Type"].startswith("text/html")
        assert requests.get(shot, cookies={"session": "cookie-value"}, timeout=10).status_code == 200
        assert png_size(requests.get(shot, headers={"ApiKey": "secret-key"}, timeout=10).content)
    finally:
        srv.stop()


def test_scene_update_moves_updated_at_and_the_screenshot_url_but_not_its_bytes(server):
    stash = connect(server)
    before = stash.find_scene(7, fragment=FRAGMENT)
    old_image = requests.get(before["paths"]["screenshot"], timeout=10).content
    assert before["paths"]["screenshot"] == f"{server.url}/scene/7/screenshot?t={parse_time(before['updated_at'])}"
    answer = stash.call_GQL(
        "mutation Update($input: SceneUpdateInput!) { sceneUpdate(input: $input) { " + FRAGMENT + " } }",
        {"input": {"id": "7", "title": "Neuer Titel ✨", "tag_ids": ["2", "1"]}})["sceneUpdate"]
    assert answer["title"] == "Neuer Titel ✨"
    assert [t["id"] for t in answer["tags"]] == ["1", "2"]
    assert TIME_RE.match(answer["updated_at"]) and answer["updated_at"] > before["updated_at"]
    assert answer["paths"]["screenshot"] != before["paths"]["screenshot"]
    new_image = requests.get(answer["paths"]["screenshot"], timeout=10).content
    assert png_size(new_image) and new_image == old_image  # the cover did not change
    assert server.scene(7).title == "Neuer Titel ✨"


def test_only_a_new_cover_changes_the_screenshot_bytes(server):
    stash = connect(server)
    url = stash.find_scene(8, fragment=FRAGMENT)["paths"]["screenshot"]
    old_image = requests.get(url, timeout=10).content
    answer = stash.call_GQL(
        "mutation Update($input: SceneUpdateInput!) { sceneUpdate(input: $input) { " + FRAGMENT + " } }",
        {"input": {"id": "8", "cover_image": "data:image/png;base64,iVBORw0KGgo="}})["sceneUpdate"]
    assert answer["paths"]["screenshot"] != url
    new_image = requests.get(answer["paths"]["screenshot"], timeout=10).content
    assert png_size(new_image) and new_image != old_image
    # A regenerated cover (test control): new bytes, no hook; like Stash's cover generation
    # (internal/manager/task_generate_screenshot.go) it moves updated_at, hence the URL too.
    server.advance_clock(1)
    before = server.scene(8).updated_at
    server.set_cover(8)
    assert parse_time(server.scene(8).updated_at) == parse_time(before) + 1
    regenerated = stash.find_scene(8, fragment=FRAGMENT)["paths"]["screenshot"]
    assert regenerated != answer["paths"]["screenshot"]
    assert requests.get(regenerated, timeout=10).content not in (new_image, old_image)


def test_a_scene_without_a_cover_is_served_the_svg_placeholder(server, world):
    assert world.coverless_ids and world.coverless_ids <= world.matchable_ids
    scene_id = min(world.coverless_ids)
    url = connect(server).find_scene(scene_id, fragment=FRAGMENT)["paths"]["screenshot"]
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/svg+xml"
    assert answer.content.startswith(b"<svg")
    other = min(set(world.scene_ids) - world.coverless_ids)
    with_cover = requests.get(url.replace(f"/scene/{scene_id}/", f"/scene/{other}/"), timeout=10)
    assert with_cover.headers["Content-Type"] == "image/png"


def test_updates_within_one_second_share_updated_at_like_stash(world):
    srv = FakeStashServer(world.stash_data, clock=lambda: 1_800_000_000.25, utc_offset_minutes=120)
    first = srv.edit_scene(1, title="a")
    second = srv.edit_scene(2, details=None)
    assert first.updated_at == second.updated_at == "2027-01-15T10:00:00+02:00"
    srv.advance_clock(1)
    assert srv.edit_scene(1, rating100=80).updated_at == "2027-01-15T10:00:01+02:00"


def test_bulk_update_modes_and_hook_like_listeners(server, world):
    calls = []
    server.on_scene_update(lambda scene_id, data, fields: calls.append((scene_id, sorted(fields))))
    start = {i: set(server.scene(i).tag_ids) for i in (1, 2)}
    stash = connect(server)
    stash.update_scenes({"ids": ["1", "2"], "tag_ids": {"ids": ["3"], "mode": "ADD"}, "rating100": 60})
    assert all(set(server.scene(i).tag_ids) == start[i] | {3} for i in (1, 2))
    stash.update_scenes({"ids": ["1"], "tag_ids": {"ids": ["3"], "mode": "REMOVE"},
                         "performer_ids": {"ids": [], "mode": "SET"}})
    assert set(server.scene(1).tag_ids) == start[1] - {3} and server.scene(1).performer_ids == ()
    assert server.scene(2).rating100 == 60
    assert calls[:2] == [(1, ["ids", "rating100", "tag_ids"]), (2, ["ids", "rating100", "tag_ids"])]
    refused = stash.update_scenes({"ids": ["1"], "tag_ids": {"ids": ["999999"], "mode": "ADD"}})
    assert refused is None, "stashapi returns null data for an error on a nullable field; it does not raise"
    assert set(server.scene(1).tag_ids) == start[1] - {3}


def test_performer_image_path_marks_missing_images_as_default(server, world):
    rows = world.stash_data.performers
    with_image = next(p for p in rows if p.has_image)
    without = next(p for p in rows if not p.has_image)
    assert server.performer_image_url(without).endswith("&default=true")
    assert "default" not in server.performer_image_url(with_image)
    assert png_size(requests.get(server.performer_image_url(with_image), timeout=10).content)


def test_fault_injection_fails_stashapi_and_everything_is_counted(server):
    stash = connect(server)
    server.reset_counts()
    server.fail_next(1, status=500, route="/graphql")
    with pytest.raises(Exception):
        stash.find_scenes(filter={"per_page": 5}, fragment="id")
    assert len(stash.find_scenes(filter={"per_page": 5}, fragment="id")) == 5
    assert server.count("POST /graphql FindScenes") == 2
    assert server.count("POST /graphql") == 2
    assert [entry["status"] for entry in server.request_log()] == [500, 200]
    assert len(server.graphql_log()) == 1


def test_scene_json_matches_what_graphql_answers(server):
    row: SceneRow = server.scene(4)
    data = server.scene_json(4)
    assert data["id"] == "4" and data["updated_at"] == row.updated_at
    assert [f["path"] for f in data["files"]] == [f.path for f in row.files]
    assert server.scene_json(999999) is None


def test_without_a_login_pages_redirect_to_the_login_and_graphql_and_files_get_401():
    import http.client

    server = FakeStashServer(build_world(scenes=3, seed=1).stash_data, api_key="k", session_cookie="c")
    server.start()
    try:
        def ask(method, path, body=None):
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            try:
                connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                return response.status, dict(response.getheaders()), response.read()
            finally:
                connection.close()

        status, headers, _ = ask("GET", "/scene/1/screenshot?t=5")
        assert status == 302 and headers["Location"] == "/login?returnURL=%2Fscene%2F1%2Fscreenshot%3Ft%3D5"
        status, headers, body = ask("GET", headers["Location"])
        assert status == 200 and headers["Content-Type"].startswith("text/html") and b"<html" in body
        status, headers, _ = ask("POST", "/graphql", b'{"query": "{ version { version } }"}')
        assert status == 401 and headers["WWW-Authenticate"] == "FormBased"
        status, headers, _ = ask("GET", "/scene/1_sprite.jpg")
        assert status == 401
    finally:
        server.stop()
