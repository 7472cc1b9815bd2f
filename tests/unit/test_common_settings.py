"""Settings: defaults, coercion and one-line errors that name the setting."""
from dataclasses import fields

import pytest

from common.errors import ConfigurationError
from common.settings import SPEC, Settings, settings_from_mapping


def test_spec_and_dataclass_agree():
    assert [f.name for f in fields(Settings)] == list(SPEC)
    for f in fields(Settings):
        kind, default, text = SPEC[f.name]
        assert f.default == default, f.name
        assert "default" in text.lower() or "required" in text.lower(), f.name


def test_unset_settings_take_defaults():
    settings = settings_from_mapping({})
    assert settings == Settings()
    assert settings.enabled and settings.sync_tags and not settings.performer_photos


def test_values_are_coerced_from_stash_and_cli_forms():
    settings = settings_from_mapping(
        {"max_retries": 3, "read_timeout": "12.5", "sync_art": "off", "verify_tls": False, "plex_library": "A, B ,"}
    )
    assert settings.max_retries == 3 and settings.read_timeout == 12.5
    assert settings.sync_art is False and settings.verify_tls is False
    assert settings.libraries == ("A", "B")


@pytest.mark.parametrize(
    "values, name",
    [({"max_retries": "many"}, "max_retries"), ({"sync_art": "maybe"}, "sync_art"),
     ({"connect_timeout": 0}, "connect_timeout"), ({"path_map": "/a->/b"}, "path_map"),
     ({"enabled": True, "read_timeout": True}, "read_timeout")],
)
def test_bad_values_name_the_setting(values, name):
    with pytest.raises(ConfigurationError) as caught:
        settings_from_mapping(values)
    assert name in str(caught.value)


def test_require_plex_names_what_is_missing():
    with pytest.raises(ConfigurationError, match="plex_url is not set"):
        Settings(plex_token="t").require_plex()
    with pytest.raises(ConfigurationError, match="plex_token is not set"):
        Settings(plex_url="http://plex:32400").require_plex()
    with pytest.raises(ConfigurationError, match="not an http"):
        Settings(plex_url="plex:32400", plex_token="t").require_plex()


def test_public_dict_masks_the_token():
    settings = Settings(plex_url="http://plex:32400", plex_token="very-secret-token")
    assert "very-secret-token" not in repr(settings.public_dict())
