"""entry/task.py's checks and rendering, and the registry: decided before any task or import runs."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from entry.plugin import run_plugin
from entry.protocol import InputError
from entry.task import StashProgress, task_options
from entry.task_table import MODES, valid_modes
from tasks.context import TaskResult, plural, span

MANIFEST = Path(__file__).resolve().parents[2] / "PlexSync.yml"


def test_every_manifest_task_mode_is_registered():
    import yaml

    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    modes = [task["defaultArgs"]["mode"] for task in manifest["tasks"]]
    assert sorted(modes) == sorted(MODES)


def test_task_options_are_checked():
    assert task_options("dlq_purge", {"mode": "dlq_purge"}) == {}
    assert task_options("dlq_purge", {"days": 7}) == {"days": 7.0}
    assert task_options("dlq_purge", {"days": "7.5"}) == {"days": 7.5}
    assert task_options("dlq_list", {"limit": 3.0}) == {"limit": 3}
    assert task_options("status", {"days": "whatever"}) == {}  # options of other modes are ignored
    for args, message in (({"days": -1}, "at least"), ({"days": True}, "got bool"), ({"days": [1]}, "got list"),
                          ({"days": "nan"}, "at least"), ({"days": "x"}, "got 'x'")):
        with pytest.raises(InputError, match=message):
            task_options("dlq_purge", args)


def test_unknown_mode_lists_the_valid_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("PLEXSYNC_DATA_DIR", str(tmp_path / "data"))
    document = {"server_connection": {"Scheme": "http", "Host": "localhost", "Port": 9999}, "args": {"mode": "sync"}}
    out = io.StringIO()
    assert run_plugin(io.StringIO(json.dumps(document)), out) == 0
    result = json.loads(out.getvalue())
    assert result == {"output": None, "error": f"unknown task mode 'sync': valid modes are {valid_modes()}"}
    assert not (tmp_path / "data").exists()  # nothing was opened


class Log:
    def __init__(self) -> None:
        self.lines = []

    def info(self, text, *args):
        self.lines.append(text % args)


def test_stash_progress_draws_the_bar_and_logs_now_and_then(capsys):
    now = [0.0]
    log = Log()
    progress = StashProgress(log, clock=lambda: now[0])
    for step in range(5):
        progress(step / 4, f"step {step}")
        now[0] += 4.0
    progress(1.0, "done")
    err = capsys.readouterr().err.splitlines()
    assert err == ["\x01p\x020.0000", "\x01p\x020.2500", "\x01p\x020.5000", "\x01p\x020.7500", "\x01p\x021.0000",
                   "\x01p\x021.0000"]
    assert log.lines == ["step 0 (0%)", "step 3 (75%)"]


def test_result_text_and_json():
    result = TaskResult("Title", ["one", "two"], {"count": 2})
    assert result.text == "Title\n  one\n  two" and result.ok
    result.failed = "it broke"
    assert result.to_json() == {"title": "Title", "ok": False, "error": "it broke", "lines": ["one", "two"], "count": 2}
    assert plural(1, "scene") == "1 scene" and plural(2000, "entry", "entries") == "2,000 entries"
    assert (span(5), span(600), span(7200), span(3 * 86400)) == ("5 s", "10 min", "2.0 h", "3.0 days")
