"""StashClient against the fake Stash over real HTTP: login, batching, paging, images, failures."""
import pytest
from graphql import build_schema, parse, validate

from common.datadir import PLUGIN_ID
from common.errors import ConfigurationError, PermanentError, StashUnreachable, TransientError
from common.settings import Settings, settings_from_mapping
from devkit.fakes.stash_server import FakeStashServer
from devkit.fakes.world import build_world
from devkit.shared_data import STASH_SCHEMA
from stash.client import MAX_IDS_PER_REQUEST, MAX_PAGE_SIZE, StashClient
from stash.connection import StashConnection, connection_from_server_connection, connection_from_url
from stash.plays import read_plays

API_KEY = "eyJhbGciOiJIUzI1NiJ9.TEST-API-KEY-0123456789"
COOKIE = "MTcwMDAwMDAwMHxURVNULUNPT0tJRQ=="
WORLD = build_world(scenes=620, seed=11)
FIND = "POST /graphql PlexSyncFindScenes"


def client_from_stdin(server_connection, **options):
    """Connect with what Stash puts on the plugin's stdin (as a task does)."""
    return StashClient(connection_from_server_connection(server_connection), **options)


def client_from_url(url, api_key="", **options):
    """Connect to a URL like http://localhost:9999 with an optional API key (as the CLI does)."""
    return StashClient(connection_from_url(url, api_key), **options)


def stdin_connection(port, cookie=COOKIE):
    return {"Scheme": "http", "Host": "0.0.0.0", "Port": port,
            "SessionCookie": {"Name": "session", "Value": cookie} if cookie else None,
            "Dir": "/stash", "PluginDir": "/stash/plugins/PlexSync"}


@pytest.fixture
def open_stash():
    """A Stash without a login (no API key, no cookie needed)."""
    server = FakeStashServer(WORLD.stash_data)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def locked_stash():
    """A Stash with a login: the session cookie or the API key is required."""
    server = FakeStashServer(WORLD.stash_data, api_key=API_KEY, session_cookie=COOKIE)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(open_stash):
    with client_from_stdin(stdin_connection(open_stash.port, cookie=None)) as connected:
        open_stash.reset_counts()
        yield connected


def assert_secret_free(message):
    assert API_KEY not in message and COOKIE not in message and "\n" not in message


# --- connecting -------------------------------------------------------------------------------


def test_connects_from_server_connection_without_login(open_stash):
    with client_from_stdin(stdin_connection(open_stash.port, cookie=None)) as client:
        assert client.url == f"http://127.0.0.1:{open_stash.port}"
        assert client.connection.api_key == "" and client.version() == "v0.28.1"


def test_switches_from_the_session_cookie_to_the_api_key(locked_stash):
    with client_from_stdin(stdin_connection(locked_stash.port)) as client:
        assert client.connection.api_key == API_KEY and client.connection.cookie_value == ""
        locked_stash.session_cookie = "expired"  # an hour later the cookie is no longer valid
        assert client.count_scenes() == len(WORLD.scene_ids)


def test_connects_from_a_url_and_api_key(locked_stash):
    with client_from_url(locked_stash.url, API_KEY) as client:
        assert client.count_scenes() == len(WORLD.scene_ids)


@pytest.mark.parametrize("how", ["no credentials", "wrong key"])
def test_refused_login_names_the_api_key_and_hides_secrets(locked_stash, how):
    with pytest.raises(ConfigurationError) as raised:
        if how == "no credentials":
            client_from_stdin(stdin_connection(locked_stash.port, cookie=None))
        else:
            client_from_url(locked_stash.url, API_KEY[::-1])
    message = str(raised.value)
    assert "API key" in message and "401" in message
    assert_secret_free(message) and API_KEY[::-1] not in message


def test_unreachable_stash_is_stash_unreachable_without_secrets():
    probe = FakeStashServer()
    probe.start()
    port = probe.port
    probe.stop()
    with pytest.raises(StashUnreachable) as raised:  # a class of its own: no setting to fix, wait for Stash
        StashClient(StashConnection(host="127.0.0.1", port=port, api_key=API_KEY, cookie_value=COOKIE))
    message = str(raised.value)
    assert message.startswith(f"Stash is not reachable at http://127.0.0.1:{port}")
    assert_secret_free(message)


def test_stash_going_down_and_up_again(client, open_stash):
    open_stash.down()
    with pytest.raises(StashUnreachable, match="not reachable"):
        client.find_scenes_by_ids([1])
    open_stash.up()
    assert set(client.find_scenes_by_ids([1])) == {1}


def test_a_hung_stash_times_out_as_not_reachable(open_stash):
    with client_from_url(open_stash.url, read_timeout=0.3) as client:
        open_stash.hang_next(seconds=5, route="/graphql", apply=False)
        with pytest.raises(StashUnreachable, match="not reachable .*no answer within 0.3 s"):
            client.count_scenes()


def test_server_errors_are_transient(client, open_stash):
    open_stash.fail_next(status=503, route="/graphql")
    with pytest.raises(StashUnreachable, match="503"):  # issue 10: Stash restarting: Stash-wide
        client.find_scenes_by_ids([1])


@pytest.mark.parametrize("status, body, error, words", [
    (200, b'{"errors": [{"message": "database is locked", "path": ["findScenes"]}], "data": null}',
     TransientError, "database is locked"),
    (200, b'{"errors": [{"message": "invalid sort: nonsense"}], "data": null}', PermanentError, "invalid sort"),
    (200, b"<html><body>Stash</body></html>", ConfigurationError, "does not answer like Stash"),
    (200, b'{"data": null}', TransientError, "without data"),
    (302, b"", ConfigurationError, "API key"),
    (403, b"Forbidden", ConfigurationError, "API key"),
    (404, b"404 page not found", ConfigurationError, "check the Stash address"),
    (429, b"slow down", TransientError, "429"),
    (502, b"<html>Bad Gateway</html>", StashUnreachable, "502"),  # issue 10: Stash-wide, not charged
    (400, b'{"errors": [{"message": "bad request"}]}', PermanentError, "bad request"),
])
def test_answers_are_classified_once(client, open_stash, status, body, error, words):
    open_stash.fail_next(status=status, route="/graphql", body=body)
    with pytest.raises(error, match=words) as raised:
        client.count_scenes()
    assert "\n" not in str(raised.value)


def test_a_query_stash_rejects_is_a_configuration_error(client):
    with pytest.raises(ConfigurationError, match="rejected PlexSync's Broken query"):
        client._transport.graphql("query Broken { findScenes { no_such_field } }")


# --- scenes -------------------------------------------------------------------------------------


def test_find_scenes_by_ids_is_one_request_per_batch(client, open_stash):
    ids = WORLD.scene_ids[:40]
    scenes = client.find_scenes_by_ids(ids)
    assert sorted(scenes) == sorted(ids)
    assert open_stash.count(FIND) == 1
    expected = open_stash.scene_json(ids[0])
    scene = scenes[ids[0]]
    assert scene.title == (expected["title"] or "").strip()
    assert [f.path for f in scene.files] == [f["path"] for f in expected["files"]]
    assert [f.size for f in scene.files] == [int(f["size"]) for f in expected["files"]]
    assert scene.screenshot_url == expected["paths"]["screenshot"]
    assert scene.updated_at == expected["updated_at"]


def test_large_id_lists_are_split_into_bounded_batches(client, open_stash):
    ids = WORLD.scene_ids[:610]
    assert len(client.find_scenes_by_ids(ids)) == 610
    batches = -(-610 // MAX_IDS_PER_REQUEST)
    assert open_stash.count(FIND) == batches
    logged = [e["variables"] for e in open_stash.graphql_log() if e["operation"] == "PlexSyncFindScenes"]
    assert [len(v["ids"]) for v in logged] == [MAX_IDS_PER_REQUEST] * (batches - 1) + [610 % MAX_IDS_PER_REQUEST]


def test_deleted_scenes_are_missing_from_the_answer(client, open_stash):
    open_stash.remove_scene(5)
    open_stash.remove_scene(9)
    found = client.find_scenes_by_ids([3, 5, 7, 9])
    assert sorted(found) == [3, 7]
    assert open_stash.count(FIND) == 3  # Stash fails the whole batch per missing id


def test_play_reads_leave_deleted_scenes_out_as_scene_reads_do(client, open_stash):
    open_stash.remove_scene(5)
    open_stash.remove_scene(9)
    assert sorted(read_plays(client, [3, 5, 7, 9])) == [3, 7]
    assert read_plays(client, [5, 9]) == {}
    plays_reads = [e for e in open_stash.graphql_log() if e["operation"] == "PlexSyncScenePlays"]
    assert len(plays_reads) == 3 + 2  # the whole batch fails once per missing id, as for find_scenes_by_ids


def test_no_ids_costs_no_request(client, open_stash):
    assert client.find_scenes_by_ids([]) == {}
    assert open_stash.count(FIND) == 0


def test_performers_keep_namesakes_apart_and_placeholders_have_no_image(client, open_stash):
    with_performers = [row for row in WORLD.stash_data.scenes if row.performer_ids][:80]
    scenes = client.find_scenes_by_ids([row.id for row in with_performers])
    performers = {row.id: row for row in WORLD.stash_data.performers}
    for row in with_performers:
        expected = []
        for performer in (performers[i] for i in row.performer_ids):
            name = f"{performer.name} ({performer.disambiguation})" if performer.disambiguation else performer.name
            expected.append((name.strip(), performer.has_image))
        got = [(p.name, p.image_url is not None) for p in scenes[row.id].performers]
        assert got == list(dict(expected).items()), row.id
    assert any(p.disambiguation for p in WORLD.stash_data.performers)


# --- paging -------------------------------------------------------------------------------------


def test_paging_returns_every_id_once_with_bounded_pages(client, open_stash):
    pages = list(client.iter_scene_id_pages(page_size=100))
    ids = [scene_id for page in pages for scene_id in page]
    assert ids == sorted(WORLD.scene_ids)
    assert all(len(page) <= 100 for page in pages)
    per_page = [e["variables"]["filter"]["per_page"] for e in open_stash.graphql_log()]
    assert per_page and all(1 <= value <= 100 for value in per_page)
    assert open_stash.count("findScenes per_page=-1") == 0


def test_page_size_is_capped(client, open_stash):
    list(client.iter_scene_id_pages(page_size=100_000))
    assert {e["variables"]["filter"]["per_page"] for e in open_stash.graphql_log()} == {MAX_PAGE_SIZE}


def test_paging_survives_scenes_added_and_deleted_meanwhile(client, open_stash):
    pages = client.iter_scene_id_pages(page_size=200)
    first = next(pages)
    open_stash.remove_scene(first[0])
    open_stash.remove_scene(first[-1] + 1)
    added = open_stash.add_scene(["/data/videos/new/arrived.mp4"])
    rest = [scene_id for page in pages for scene_id in page]
    expected = sorted(set(WORLD.scene_ids) - {first[-1] + 1} - set(first)) + [added.id]
    assert rest == expected


def test_updated_since_filters_by_updated_at_text(client, open_stash):
    open_stash.advance_clock(3 * 365 * 86400)
    edited = [4, 17, 300]
    for scene_id in edited:
        open_stash.edit_scene(scene_id, title=f"Edited {scene_id}")
    cutoff = open_stash.now_text()[:16]  # e.g. "2029-01-10T12:00": minutes, compared as text
    older = format(int(cutoff[:4]) - 1, "04d") + cutoff[4:]
    assert [i for page in client.iter_scene_id_pages(older, page_size=2) for i in page] == edited
    assert client.count_scenes(older) == 3
    assert client.count_scenes() == len(WORLD.scene_ids)
    assert open_stash.count("findScenes per_page=-1") == 0


# --- settings -------------------------------------------------------------------------------


def test_plugin_settings_and_defaults(client, open_stash):
    assert client.plugin_settings() == {}
    assert settings_from_mapping(client.plugin_settings(PLUGIN_ID)) == Settings()
    open_stash.set_plugin_config("PlexSync", {"plex_url": "http://plex:32400", "max_retries": 2,
                                              "sync_art": False})
    open_stash.set_plugin_config("OtherPlugin", {"x": 1})
    assert client.plugin_settings() == {"plex_url": "http://plex:32400", "max_retries": 2, "sync_art": False}
    settings = settings_from_mapping(client.plugin_settings(PLUGIN_ID))
    assert (settings.plex_url, settings.max_retries, settings.sync_art, settings.sync_tags) == \
        ("http://plex:32400", 2, False, True)


# --- images -------------------------------------------------------------------------------------


def test_fetch_image_sends_the_credentials(locked_stash):
    with client_from_stdin(stdin_connection(locked_stash.port)) as client:
        scene = client.find_scenes_by_ids([2])[2]
        image = client.fetch_image(scene.screenshot_url)
        assert image == locked_stash.screenshot_bytes(2) and image.startswith(b"\x89PNG")
        locked_stash.api_key = "regenerated-" + API_KEY  # the user made a new key in Stash
        with pytest.raises(ConfigurationError) as raised:
            client.fetch_image(scene.screenshot_url)
        # Stash redirects a refused page (no file extension) to its login page: the 302 is the refusal.
        assert "HTTP 302" in str(raised.value) and "API key" in str(raised.value)
        assert_secret_free(str(raised.value))


def test_fetch_image_never_sends_credentials_to_another_host(locked_stash):
    with client_from_url(locked_stash.url, API_KEY) as client:
        locked_stash.reset_counts()
        image = client.fetch_image("http://stash.example.invalid:1234/scene/3/screenshot?t=1")
        assert image == locked_stash.screenshot_bytes(3)
        assert [e["path"] for e in locked_stash.request_log()] == ["/scene/3/screenshot"]


def test_fetch_image_is_bounded(open_stash):
    with client_from_url(open_stash.url, max_image_bytes=100) as client:
        with pytest.raises(PermanentError, match="larger than"):
            client.fetch_image(f"{open_stash.url}/scene/1/screenshot")


def test_missing_image_is_permanent(client, open_stash):
    with pytest.raises(PermanentError, match="404"):
        client.fetch_image(f"{open_stash.url}/scene/999999/screenshot")


# --- every document sent is valid against the real schema -------------------------------------


def test_every_document_sent_is_valid_against_the_real_schema(open_stash):
    schema = build_schema(STASH_SCHEMA.read_text(encoding="utf-8"))
    with client_from_url(open_stash.url) as client:
        client.version()
        client.plugin_settings()
        client.find_scenes_by_ids([1, 2])
        list(client.iter_scene_id_pages("2020-01-01T00:00", page_size=500))
        client.count_scenes("2020-01-01T00:00")
    documents = {entry["query"] for entry in open_stash.graphql_log()}
    assert len(documents) >= 7  # stashapi's 3 connect queries and PlexSync's 5
    for document in documents:
        assert validate(schema, parse(document)) == [], document[:80]


# --- the scenes of an entity (renames) -------------------------------------------------------------


def test_scene_ids_with_an_entity_follow_the_hierarchy_and_page_by_id(open_stash):
    store = open_stash.store
    parent, child = sorted(store.tags)[:2]
    store.tags[child] = store.tags[child]._replace(parent_ids=(parent,))
    with client_from_stdin(stdin_connection(open_stash.port, cookie=None)) as client:
        carriers = sorted(r.id for r in store.scenes() if {parent, child} & set(r.tag_ids))
        assert client.scene_ids_with("tag", parent, 0, 1000) == carriers
        assert client.scene_ids_with("tag", parent, carriers[2], 3) == carriers[3:6]
        performer = next(iter(store.performers))
        assert client.scene_ids_with("performer", performer, 0, 1000) == \
            sorted(r.id for r in store.scenes() if performer in r.performer_ids)
        studio = next(s for s in store.studios.values() if s.parent_id is not None)
        assert client.scene_ids_with("studio", studio.parent_id, 0, 1000) == \
            sorted(r.id for r in store.scenes() if r.studio_id is not None
                   and studio.parent_id in (r.studio_id, store.studios[r.studio_id].parent_id))
        group = next(iter(store.groups))
        assert client.scene_ids_with("group", group, 0, 1000) == \
            sorted(r.id for r in store.scenes() if group in [g for g, _ in r.groups])
        assert client.scene_ids_with(None, 0, 0, 1000) == sorted(WORLD.scene_ids)[:1000]
        with pytest.raises(PermanentError, match="cannot look up scenes by 'gallery'"):
            client.scene_ids_with("gallery", 1, 0, 10)
