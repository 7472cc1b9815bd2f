"""The hook keeps the drainer's way into Stash fresh without a request: cookies expire, keys do not."""
import json

from common.datadir import CONNECTION_FILE
from entry.protocol import PluginInput
from hooks.handler import remember_stash
from stash.connection import StashConnection, load_connection, save_connection


def hook_input(tmp_path, cookie):
    connection = {"Scheme": "http", "Host": "0.0.0.0", "Port": 9999, "PluginDir": str(tmp_path),
                  "SessionCookie": {"Name": "session", "Value": cookie} if cookie else None}
    return PluginInput(connection, {"hookContext": {"id": 1, "type": "Scene.Update.Post"}}, tmp_path)


def test_first_hook_saves_the_connection(tmp_path):
    remember_stash(hook_input(tmp_path, "cookie-1"))
    saved = load_connection(tmp_path)
    assert (saved.host, saved.port, saved.cookie_value) == ("127.0.0.1", 9999, "cookie-1")


def test_a_new_cookie_replaces_an_expired_one(tmp_path):
    remember_stash(hook_input(tmp_path, "cookie-1"))
    remember_stash(hook_input(tmp_path, "cookie-2"))
    assert load_connection(tmp_path).cookie_value == "cookie-2"


def test_a_saved_api_key_is_never_replaced_by_a_cookie(tmp_path):
    save_connection(tmp_path, StashConnection(api_key="key-123"))
    before = (tmp_path / CONNECTION_FILE).read_text()
    remember_stash(hook_input(tmp_path, "cookie-9"))
    assert (tmp_path / CONNECTION_FILE).read_text() == before


def test_no_cookie_keeps_what_is_saved(tmp_path):
    remember_stash(hook_input(tmp_path, "cookie-1"))
    remember_stash(hook_input(tmp_path, None))
    assert json.loads((tmp_path / CONNECTION_FILE).read_text())["cookie_value"] == "cookie-1"
