"""`python PlexSync.py COMMAND` against the fakes over HTTP: help, flags and PLEXSYNC_* variables,
overrides reaching the drainer the CLI runs, one-line failures with a non-zero exit status."""
from __future__ import annotations

import re
import subprocess
import sys

from tests.integration.e2e import PLEXSYNC, plugin_env

HEAVY = ("plexapi", "stashapi", "requests", "persistqueue", "urllib3", "sqlite3", "tasks", "app", "plex", "stash")


def cli(*argv, env=None, cwd=None):
    return subprocess.run([sys.executable, str(PLEXSYNC), *argv], capture_output=True, text=True, timeout=300,
                          env=env, cwd=cwd, stdin=subprocess.DEVNULL)


def test_help_lists_every_command(tmp_path):
    done = cli("--help", env=plugin_env(tmp_path))
    assert done.returncode == 0 and done.stderr == ""
    for command in ("sync", "process-queue", "status", "dlq", "health", "match-report", "worker", "demo"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.M), command
    assert "--recent" in done.stdout and "--force" in done.stdout and "dlq list|retry|clear|purge" in done.stdout
    assert "PLEXSYNC_STASH_URL" in done.stdout and "--stash-url" in done.stdout and "--plex-token" in done.stdout
    assert "--days" in cli("dlq", "purge", "--help", env=plugin_env(tmp_path)).stdout
    sync = cli("sync", "--help", env=plugin_env(tmp_path)).stdout
    assert "--recent" in sync and "--force" in sync


def test_help_imports_no_library(tmp_path):
    done = subprocess.run([sys.executable, "-X", "importtime", str(PLEXSYNC), "--help"], capture_output=True,
                          text=True, timeout=60, env=plugin_env(tmp_path))
    assert done.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    heavy = {name for name in imported if name.split(".")[0] in HEAVY}
    assert not heavy, sorted(heavy)


def test_no_arguments_is_the_plugin_protocol_and_a_bad_command_a_usage_error(tmp_path):
    plugin = cli(env=plugin_env(tmp_path))  # no argv: Stash's protocol, and stdin is empty
    assert plugin.returncode == 0 and '"error": "no input on stdin' in plugin.stdout
    bad = cli("synchronise", env=plugin_env(tmp_path))
    assert bad.returncode == 2 and "invalid choice: 'synchronise'" in bad.stderr


def test_sync_status_and_dlq_list_with_flags(fakes_factory):
    fakes = fakes_factory(scenes=80, seed=21)
    env = fakes.env()
    env.pop("PLEXSYNC_DATA_DIR")
    flags = ["--stash-url", fakes.stash.url, "--data-dir", str(fakes.data_dir)]

    sync = cli("sync", *flags, env=env, cwd=fakes.work_dir)
    assert sync.returncode == 0, sync.stderr
    assert sync.stdout.startswith("Sync changed scenes\n") and "80 scenes queued:" in sync.stdout
    assert re.search(r"^progress \d+%: ", sync.stderr, re.M)  # plain lines: stderr is not a terminal
    assert "\x01" not in sync.stderr and "Traceback" not in sync.stderr
    ambiguous = fakes.world.ambiguous_ids
    assert fakes.synced_scene_ids() == fakes.world.matchable_ids
    assert not fakes.drainer_running()  # the CLI drained in its own process and stopped its drainer

    status = cli("status", *flags, env=env)
    assert status.returncode == 0 and "PlexSync status" in status.stdout
    assert f"dead letters: {len(ambiguous)}" in status.stdout

    listed = cli("dlq", "list", "--limit", "1", "--data-dir", str(fakes.data_dir), env=env)
    assert listed.returncode == 0
    assert listed.stdout.startswith(f"Failed jobs: {len(ambiguous)}") and "matches 2 Plex files" in listed.stdout

    as_json = cli("--json", "--data-dir", str(fakes.data_dir), "status", env=env)
    assert '"dead_letters": %d' % len(ambiguous) in as_json.stdout


def test_environment_and_overrides_reach_the_drainer(fakes_factory):
    fakes = fakes_factory(scenes=50, seed=22)
    fakes.configure(plex_token="stale-token-in-stash")
    env = fakes.cli_env()  # PLEXSYNC_STASH_URL and PLEXSYNC_DATA_DIR

    refused = cli("sync", env=env)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines()[-1].startswith("plexsync: Plex rejected the token")
    assert fakes.unfinished_rows() > 0 and fakes.dead_letters() == []

    fixed = cli("process-queue", env=dict(env, PLEXSYNC_PLEX_TOKEN=fakes.plex.token))
    assert fixed.returncode == 0, fixed.stderr
    assert fakes.synced_scene_ids()

    fakes.stash.edit_scene(min(fakes.synced_scene_ids()), title="From the command line")
    flag = cli("sync", "--recent", "--plex-token", fakes.plex.token, env=env)
    assert flag.returncode == 0, flag.stderr
    assert "1 scene queued: 1 written to Plex" in flag.stdout
    assert fakes.plex.item(fakes.rating_keys[min(fakes.synced_scene_ids())][0])["title"] == "From the command line"
    assert fakes.plex.token not in flag.stdout + flag.stderr + fixed.stdout + fixed.stderr


def test_failures_are_one_line_with_a_non_zero_exit(fakes_factory, tmp_path):
    env = plugin_env(tmp_path / "data")
    nowhere = cli("sync", env=env)
    assert nowhere.returncode == 1
    assert nowhere.stderr.startswith("plexsync: no Stash connection: pass --stash-url URL")
    assert len(nowhere.stderr.strip().splitlines()) == 1

    down = cli("health", "--stash-url", "http://127.0.0.1:9", env=env)
    assert down.returncode == 1 and "FAIL Stash: Stash is not reachable at http://127.0.0.1:9" in down.stdout
    assert down.stderr.startswith("plexsync: health check:")

    unreachable = cli("sync", "--stash-url", "http://127.0.0.1:9", env=env)
    assert unreachable.returncode == 1
    assert unreachable.stderr.strip() == ("plexsync: Stash is not reachable at http://127.0.0.1:9: "
                                          "connection refused (is Stash running?)")
    bad_url = cli("status", "--stash-url", "localhost:9999", env=env)
    assert bad_url.returncode == 1 and "is not an http(s) URL" in bad_url.stderr

    fakes = fakes_factory(scenes=10)
    fakes.configure(plex_url=None)
    missing = cli("sync", env=fakes.cli_env())
    assert missing.returncode == 1
    assert missing.stderr.strip() == "plexsync: plex_url is not set: Settings → Plugins → PlexSync"
    for run in (nowhere, down, unreachable, bad_url, missing):
        assert "Traceback" not in run.stderr
