"""Each task is declared once (entry.task_table.TASKS); Stash's task menu (PlexSync.yml), Stash's
dispatch (entry/task.py) and the CLI (entry/cli.py) agree with the declarations."""
from __future__ import annotations

import importlib

import pytest
import yaml

from devkit.shared_data import REPO_ROOT
from entry import cli
from entry.protocol import InputError
from entry.task import task_options
from entry.task_table import BY_COMMAND, MODES, TASKS

NOT_TASKS = {"worker", "demo", "watch"}  # CLI commands that run no task (watch: until interrupted)


def test_each_mode_title_and_command_is_declared_once():
    for key in ("mode", "title", "cli", "run"):
        values = [getattr(task, key) for task in TASKS]
        assert len(values) == len(set(values)), key
    assert list(MODES) == [task.mode for task in TASKS] and len(BY_COMMAND) == len(TASKS)


def test_the_manifest_task_menu_is_the_declarations_in_order():
    manifest = yaml.safe_load((REPO_ROOT / "PlexSync.yml").read_text(encoding="utf-8"))
    assert [(t["name"], t["description"], t["defaultArgs"]) for t in manifest["tasks"]] == [
        (task.title, task.description, {"mode": task.mode}) for task in TASKS]


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.mode)
def test_the_stash_dispatch_runs_each_declared_function_with_its_declared_arguments(task):
    module, _, function = task.run.partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    for arg in task.args:
        good = "1" if arg.name != "scene_id" else "42"
        assert arg.name in task_options(task.mode, {"mode": task.mode, arg.name: good})
        with pytest.raises(InputError, match=f"args.{arg.name} must be"):
            task_options(task.mode, {arg.name: "not a number"})


@pytest.mark.parametrize("task", TASKS, ids=lambda task: task.mode)
def test_the_cli_command_of_each_task_runs_that_task_with_its_arguments(task):
    positional = ["42" for arg in task.args if arg.positional]
    args = cli.build_parser().parse_args(task.cli.split() + positional)
    mode, options = cli._mode(args)
    assert mode == task.mode
    assert set(options) >= {arg.name for arg in task.args}


def test_every_cli_command_is_a_task_or_says_it_is_not():
    parser = cli.build_parser()
    commands = next(action for action in parser._actions if action.dest == "command").choices
    declared = {task.cli.split()[0] for task in TASKS}
    assert set(commands) == declared | NOT_TASKS
