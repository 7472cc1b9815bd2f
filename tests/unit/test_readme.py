"""The README stays true: every setting, task and command it should document is there."""
from pathlib import Path

import yaml

from common.settings import SPEC
from entry.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_documented():
    assert [name for name in SPEC if f"`{name}`" not in README] == []


def test_every_task_mode_is_documented():
    manifest = yaml.safe_load((ROOT / "PlexSync.yml").read_text(encoding="utf-8"))
    modes = [task["defaultArgs"]["mode"] for task in manifest["tasks"]]
    assert [mode for mode in modes if f"`{mode}`" not in README] == []


def test_every_command_is_documented():
    commands = build_parser()._subparsers._group_actions[0].choices  # argparse keeps them here
    assert [name for name in commands if f"PlexSync.py {name}" not in README and f"`{name}" not in README] == []


def test_quick_start_names_the_test_command_ci_runs():
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "python3 dev.py demo" in quick_start and "python3 dev.py test" in quick_start
    ci = [line for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
          if line.strip() and not line.lstrip().startswith("#")]
    assert ci[-1].strip() == "python3 dev.py test"
    assert "python PlexSync.py demo" in README
