"""PlexSync.yml against what Stash's strict YAML loader accepts, and against the settings table.

Stash decodes the file with gopkg.in/yaml.v2 in strict mode into `plugin.Config`
(pkg/plugin/config.go): an unknown key at any level stops the plugin loading. The key sets
below are the yaml tags of Config, OperationConfig, HookConfig and SettingConfig there;
hook types are pkg/plugin/hook/hooks.go's TriggerEnum values; setting types are
PluginSettingTypeEnum (pkg/plugin/setting.go).
"""
from functools import lru_cache

import pytest
import yaml

from common.settings import SPEC
from devkit.shared_data import REPO_ROOT
from hooks.entities import ENTITY_HOOK_TYPES
from hooks.events import HOOK_TYPES

MANIFEST = REPO_ROOT / "PlexSync.yml"
CONFIG_KEYS = {"name", "description", "url", "version", "interface", "exec", "errLog", "tasks",
               "hooks", "ui", "settings"}
TASK_KEYS = {"name", "description", "execArgs", "defaultArgs"}
HOOK_KEYS = TASK_KEYS | {"triggeredBy"}
SETTING_KEYS = {"type", "displayName", "description"}
STASH_HOOK_TYPES = {
    f"{kind}.{action}.Post"
    for kind in ("Scene", "SceneMarker", "Image", "Gallery", "GalleryChapter", "Movie", "Group",
                 "Performer", "Studio", "Tag")
    for action in ("Create", "Update", "Destroy")
} | {"Tag.Merge.Post"}
SETTING_TYPES = {str: "STRING", int: "NUMBER", float: "NUMBER", bool: "BOOLEAN"}
TASK_MODES = {"sync_all", "sync_all_force", "sync_recent", "process_queue", "status", "dlq_list",
              "dlq_retry", "dlq_clear", "dlq_purge", "health", "match_report",
              "preview", "explain", "plays_import", "plays_preview"}  # entry.task_table declares them: tests/unit/test_task_declarations.py


@lru_cache(maxsize=None)
def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_top_level_keys_are_ones_stash_accepts():
    assert set(manifest()) <= CONFIG_KEYS
    assert {"name", "interface", "exec", "tasks", "hooks", "settings"} <= set(manifest())


def test_runs_the_entry_script_with_the_raw_interface():
    assert manifest()["interface"] == "raw"
    assert manifest()["exec"] == ["python3", "{pluginDir}/PlexSync.py"]
    assert (REPO_ROOT / "PlexSync.py").is_file()


def test_scalars_are_strings_where_stash_expects_strings():
    for key in ("name", "description", "version", "errLog"):
        assert isinstance(manifest()[key], str), key
    assert manifest()["errLog"] in {"trace", "debug", "info", "warning", "error"}


def test_tasks_cover_every_mode_once_with_string_default_args():
    tasks = manifest()["tasks"]
    modes = []
    for task in tasks:
        assert set(task) <= TASK_KEYS, task
        assert task["name"].strip() and task["description"].strip()
        args = task["defaultArgs"]
        # OperationConfig.DefaultArgs is map[string]string
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in args.items()), task["name"]
        modes.append(args["mode"])
    assert sorted(modes) == sorted(TASK_MODES)
    assert len({task["name"] for task in tasks}) == len(tasks)


def test_hooks_trigger_on_scene_events_stash_knows():
    hooks = manifest()["hooks"]
    triggers = set()
    for hook in hooks:
        assert set(hook) <= HOOK_KEYS, hook
        assert hook["name"].strip() and hook["description"].strip()
        assert set(hook["triggeredBy"]) <= STASH_HOOK_TYPES
        triggers.update(hook["triggeredBy"])
        assert all(isinstance(v, str) for v in (hook.get("defaultArgs") or {}).values())
    assert triggers == set(HOOK_TYPES) | set(ENTITY_HOOK_TYPES)


def test_settings_match_the_settings_table_exactly():
    settings = manifest()["settings"]
    assert list(settings) == list(SPEC)
    for name, (kind, default, text) in SPEC.items():
        entry = settings[name]
        assert set(entry) <= SETTING_KEYS, name
        assert entry["type"] == SETTING_TYPES[kind], name
        assert entry["description"] == text, name
        assert entry["displayName"].strip(), name


@pytest.mark.parametrize("name", sorted(SPEC))
def test_each_setting_description_states_its_default(name):
    kind, default, _ = SPEC[name]
    text = manifest()["settings"][name]["description"].lower()
    if default in ("", None):
        assert "required" in text or "default: empty" in text, name
    elif kind is bool:
        assert f"default: {'on' if default else 'off'}" in text, name
    else:
        assert f"default: {default:g}" in text, name


def test_manifest_has_no_tabs_and_parses_as_one_document():
    text = MANIFEST.read_text(encoding="utf-8")
    assert "\t" not in text
    assert len(list(yaml.safe_load_all(text))) == 1
