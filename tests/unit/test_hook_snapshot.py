"""The hook's settings snapshot, and the promise that the hook path imports only the standard library."""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from common.settings import Settings
from devkit.shared_data import REPO_ROOT
from hooks.snapshot import SNAPSHOT_FILE, hook_enabled, read_hook_snapshot, write_hook_snapshot


def test_missing_snapshot_reads_as_enabled(tmp_path):
    assert read_hook_snapshot(tmp_path) == {"enabled": True, "written_at": None}
    assert hook_enabled(tmp_path / "does-not-exist")


@pytest.mark.parametrize("content", [b"", b"{not json", b"[]", b'"x"', b'{"enabled": "no"}',
                                     b"\xff\xfe", b'{"enabled": 0}'])
def test_corrupt_snapshot_reads_as_enabled(tmp_path, content):
    (tmp_path / SNAPSHOT_FILE).write_bytes(content)
    assert hook_enabled(tmp_path)


def test_oversized_snapshot_reads_as_enabled(tmp_path):
    (tmp_path / SNAPSHOT_FILE).write_text('{"enabled": false, "pad": "' + "x" * 70000 + '"}')
    assert hook_enabled(tmp_path)


def test_written_snapshot_round_trips_without_secrets(tmp_path):
    settings = Settings(enabled=False, plex_token="tok-SECRET-123", plex_url="http://plex:32400")
    path = Path(write_hook_snapshot(tmp_path / "data", settings.enabled, now=1700000000.5))  # as entry.wiring does
    assert read_hook_snapshot(tmp_path / "data") == {"enabled": False, "written_at": 1700000000.5}
    text = path.read_text()
    assert "SECRET" not in text and "plex" not in text
    assert set(json.loads(text)) == {"version", "enabled", "written_at"}
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_snapshot_is_rewritten_in_place(tmp_path):
    write_hook_snapshot(tmp_path, Settings(enabled=False).enabled, now=1.0)
    write_hook_snapshot(tmp_path, Settings(enabled=True).enabled, now=2.0)
    assert read_hook_snapshot(tmp_path) == {"enabled": True, "written_at": 2.0}
    assert [p.name for p in tmp_path.iterdir()] == [SNAPSHOT_FILE]


@pytest.mark.skipif(not hasattr(sys, "stdlib_module_names"), reason="needs Python 3.10+")
def test_hook_modules_import_only_the_standard_library():
    """What `import hooks.events, hooks.snapshot` adds to sys.modules: stdlib, hooks and common
    (standard library only itself) only."""
    probe = ("import json, sys; before = set(sys.modules); import hooks.events, hooks.snapshot; "
             "print(json.dumps(sorted(set(sys.modules) - before)))")
    output = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True,
                            text=True, check=True).stdout
    added = json.loads(output)
    foreign = [name for name in added
               if name.split(".")[0] not in sys.stdlib_module_names and name.split(".")[0] not in ("hooks", "common")]
    assert foreign == []
    assert "hooks.events" in added
