"""Reaching Stash: server_connection and URL parsing, and the owner-only connection file."""
import json
import os
import stat

import pytest

from common.errors import ConfigurationError
from stash.connection import (
    CONNECTION_FILE,
    StashConnection,
    connection_from_server_connection,
    connection_from_url,
    load_connection,
    save_connection,
)

SECRET_KEY = "eyJhbGciOiJIUzI1NiJ9.SECRET-API-KEY"
SECRET_COOKIE = "MTcwMDAwMDAwMHxTRUNSRVQtQ09PS0lF"
posix_only = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


def stdin_connection(**overrides):
    value = {"Scheme": "http", "Host": "0.0.0.0", "Port": 9999,
             "SessionCookie": {"Name": "session", "Value": SECRET_COOKIE, "Path": "/", "HttpOnly": True},
             "Dir": "/root/.stash", "PluginDir": "/root/.stash/plugins/PlexSync"}
    value.update(overrides)
    return value


def test_server_connection_with_a_session_cookie():
    conn = connection_from_server_connection(stdin_connection())
    assert conn == StashConnection("http", "127.0.0.1", 9999, "", "session", SECRET_COOKIE,
                                   "/root/.stash/plugins/PlexSync")
    assert conn.graphql_url == "http://127.0.0.1:9999/graphql"
    assert conn.secrets == (SECRET_COOKIE,)


def test_server_connection_without_login_has_a_null_cookie():
    conn = connection_from_server_connection(stdin_connection(SessionCookie=None, Host="192.168.1.5", Port="9998"))
    assert (conn.host, conn.port, conn.cookie_value, conn.secrets) == ("192.168.1.5", 9998, "", ())


@pytest.mark.parametrize("host, expected, url", [
    ("0.0.0.0", "127.0.0.1", "https://127.0.0.1:9999"), ("", "127.0.0.1", "https://127.0.0.1:9999"),
    ("::", "::1", "https://[::1]:9999"), ("[::]", "::1", "https://[::1]:9999"),
    ("stash.lan", "stash.lan", "https://stash.lan:9999"),
])
def test_listen_on_all_hosts_become_loopback(host, expected, url):
    conn = connection_from_server_connection(stdin_connection(Host=host, Scheme="https"))
    assert conn.host == expected and conn.base_url == url


@pytest.mark.parametrize("overrides, words", [
    ({"Scheme": "ftp"}, "Scheme"), ({"Port": "abc"}, "Port"), ({"Port": 0}, "Port"),
    ({"Port": True}, "Port"), ({"Host": 5}, "Host"), ({"SessionCookie": "x"}, "SessionCookie"),
    ({"PluginDir": 3}, "PluginDir"),
])
def test_bad_server_connection_is_a_configuration_error(overrides, words):
    with pytest.raises(ConfigurationError, match=words):
        connection_from_server_connection(stdin_connection(**overrides))


def test_server_connection_must_be_an_object():
    with pytest.raises(ConfigurationError):
        connection_from_server_connection(None)


@pytest.mark.parametrize("url, base", [
    ("http://localhost:9999", "http://localhost:9999"),
    ("http://localhost:9999/graphql", "http://localhost:9999"),
    ("https://stash.example.com", "https://stash.example.com:443"),
    ("http://0.0.0.0:9999/", "http://127.0.0.1:9999"),
    ("http://[::1]:9999", "http://[::1]:9999"),
])
def test_connection_from_url(url, base):
    assert connection_from_url(url, " key ").base_url == base
    assert connection_from_url(url, " key ").api_key == "key"


@pytest.mark.parametrize("url", ["localhost:9999", "", "ftp://x", "http://", "http://host:99999"])
def test_bad_url_is_a_configuration_error(url):
    with pytest.raises(ConfigurationError):
        connection_from_url(url)


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.1.1", True), ("localhost", True),
                                            ("::1", True), ("192.168.1.5", False), ("stash.lan", False)])
def test_loopback_hosts(host, loopback):
    assert StashConnection(host=host).is_loopback is loopback


def test_with_api_key_drops_the_cookie():
    conn = connection_from_server_connection(stdin_connection()).with_api_key(SECRET_KEY)
    assert (conn.api_key, conn.cookie_value) == (SECRET_KEY, "")
    assert conn.with_api_key("") == conn


# --- the connection file ------------------------------------------------------------------------


def test_saved_connection_round_trips(tmp_path):
    conn = StashConnection("https", "stash.lan", 9998, SECRET_KEY, "session", "", "/plugins/PlexSync")
    path = save_connection(tmp_path / "data", conn, now=5.0)
    assert path.name == CONNECTION_FILE
    assert load_connection(tmp_path / "data") == conn


def test_cookie_is_kept_only_without_an_api_key(tmp_path):
    with_cookie = StashConnection(cookie_value=SECRET_COOKIE)
    save_connection(tmp_path, with_cookie)
    assert load_connection(tmp_path).cookie_value == SECRET_COOKIE
    save_connection(tmp_path, StashConnection(api_key=SECRET_KEY, cookie_value=SECRET_COOKIE))
    assert SECRET_COOKIE not in (tmp_path / CONNECTION_FILE).read_text()


@posix_only
def test_connection_file_and_dir_are_owner_only(tmp_path):
    path = save_connection(tmp_path / "data", StashConnection(api_key=SECRET_KEY))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@posix_only
def test_loosened_connection_file_is_tightened_on_load(tmp_path):
    path = save_connection(tmp_path, StashConnection(api_key=SECRET_KEY))
    os.chmod(path, 0o644)
    load_connection(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_missing_connection_file_says_to_run_a_task(tmp_path):
    with pytest.raises(ConfigurationError, match="run a PlexSync task from Stash"):
        load_connection(tmp_path)


@pytest.mark.parametrize("content", [
    "", "{", "[]", "null", '{"version": 2}',
    json.dumps({"version": 1, "scheme": "http", "host": "h", "port": "x", "api_key": SECRET_KEY,
                "cookie_name": "session", "cookie_value": "", "plugin_dir": ""}),
    json.dumps({"version": 1, "scheme": "gopher", "host": "h", "port": 1, "api_key": SECRET_KEY,
                "cookie_name": "session", "cookie_value": "", "plugin_dir": ""}),
    json.dumps({"version": 1, "scheme": "http", "host": "", "port": 1, "api_key": SECRET_KEY,
                "cookie_name": "session", "cookie_value": "", "plugin_dir": ""}),
    json.dumps({"version": 1, "scheme": "http", "host": "h", "port": 1, "api_key": 5,
                "cookie_name": "session", "cookie_value": "", "plugin_dir": ""}),
])
def test_corrupt_connection_file_is_one_clear_line_without_secrets(tmp_path, content):
    (tmp_path / CONNECTION_FILE).write_text(content)
    with pytest.raises(ConfigurationError) as raised:
        load_connection(tmp_path)
    message = str(raised.value)
    assert "run a PlexSync task from Stash" in message and "\n" not in message
    assert SECRET_KEY not in message


def test_binary_garbage_is_corrupt_too(tmp_path):
    (tmp_path / CONNECTION_FILE).write_bytes(b"\x00\xff\xfe garbage")
    with pytest.raises(ConfigurationError, match="corrupt"):
        load_connection(tmp_path)
