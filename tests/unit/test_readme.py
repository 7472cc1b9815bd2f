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


def test_every_command_the_readme_names_exists_and_its_help_runs():
    import re
    import subprocess
    import sys

    named = {" ".join(match.split()) for match in re.findall(r"PlexSync\.py((?: [a-z][a-z-]*)+)", README)}
    assert {"sync", "status", "health", "dlq list", "demo"} <= named
    failing = []
    for command in sorted(named):
        done = subprocess.run([sys.executable, str(ROOT / "PlexSync.py"), *command.split(), "--help"],
                              capture_output=True, text=True, timeout=60, cwd=str(ROOT))
        if done.returncode != 0 or "usage:" not in done.stdout:
            failing.append(f"{command}: exit {done.returncode} {done.stderr.strip()[:200]}")
    assert failing == []


def test_the_path_map_examples_map_as_the_readme_shows():
    from common.pathmap import map_path, parse_path_map

    section = README.split("### Paths", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| ") and "=>" in line]
    assert len(rows) >= 4
    for row in rows:
        stash_paths = [part.strip(" `") for part in row[1].split(" or ")]
        plex_path, rules = row[2].strip(" `"), parse_path_map(row[3].strip(" `|"))
        for stash_path in stash_paths:
            assert map_path(stash_path, rules) == plex_path, row
