"""The CLI's parsing: commands to task modes, flags over PLEXSYNC_* variables, progress output, the funnel."""
from __future__ import annotations

import io

import pytest

from entry import cli


def parse(*argv):
    args = cli.build_parser().parse_args(list(argv))
    return args


@pytest.mark.parametrize("argv, mode, options", [
    (["sync"], "sync_all", {}),
    (["sync", "--force"], "sync_all_force", {}),
    (["sync", "--recent"], "sync_recent", {"hours": 24.0}),
    (["process-queue"], "process_queue", {}),
    (["status"], "status", {}),
    (["dlq", "list"], "dlq_list", {"limit": 50}),
    (["dlq", "list", "--limit", "3"], "dlq_list", {"limit": 3}),
    (["dlq", "retry"], "dlq_retry", {}),
    (["dlq", "clear"], "dlq_clear", {}),
    (["dlq", "purge"], "dlq_purge", {"days": 30.0}),
    (["dlq", "purge", "--days", "7"], "dlq_purge", {"days": 7.0}),
    (["health", "--sample", "3"], "health", {"sample": 3}),
    (["match-report"], "match_report", {"examples": 10}),
])
def test_commands_map_to_task_modes(argv, mode, options):
    assert cli._mode(parse(*argv)) == (mode, options)


def test_options_go_before_or_after_the_command():
    before = parse("--data-dir", "/a", "--plex-token", "t", "status")
    after = parse("status", "--data-dir", "/a", "--plex-token", "t")
    nested = parse("dlq", "list", "--data-dir", "/a")
    assert before.data_dir == after.data_dir == nested.data_dir == "/a"
    assert before.plex_token == after.plex_token == "t"
    assert parse("status").data_dir is None


def test_flags_win_over_environment_which_names_any_setting():
    env = {"PLEXSYNC_PLEX_TOKEN": "from-env", "PLEXSYNC_STRICT_MATCHING": "off", "PLEXSYNC_PLEX_URL": "",
           "PLEXSYNC_UNKNOWN": "x", "PLEXSYNC_STASH_URL": "http://stash:9999"}
    args = parse("sync", "--plex-token", "from-flag", "--path-map", "/a=>/b")
    assert cli.settings_overrides(args, env) == {"plex_token": "from-flag", "strict_matching": "off",
                                                 "path_map": "/a=>/b"}
    assert cli._value(args, "stash_url", env) == "http://stash:9999"
    assert cli._value(parse("sync", "--stash-url", "http://x:1"), "stash_url", env) == "http://x:1"


def test_context_from_flags(tmp_path):
    args = parse("status", "--stash-url", "http://localhost:9999", "--stash-api-key", "k3y", "--data-dir",
                 str(tmp_path))
    ctx = cli._context(args, {}, lambda *a: None)
    assert ctx.data_dir == tmp_path and ctx.foreground
    assert (ctx.connection.host, ctx.connection.port, ctx.connection.api_key) == ("localhost", 9999, "k3y")
    assert cli._context(parse("status", "--data-dir", str(tmp_path)), {}, None).connection is None


class Pipe(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_is_a_bar_on_a_terminal_and_lines_on_a_pipe():
    now = [0.0]
    pipe = Pipe(False)
    progress = cli.TerminalProgress(pipe, clock=lambda: now[0])
    for step in range(21):
        progress(step / 20, f"{step} done")
    progress.close()
    assert pipe.getvalue().splitlines() == [f"progress {p}%: {p // 5} done" for p in range(0, 101, 10)]
    tty = Pipe(True)
    bar = cli.TerminalProgress(tty)
    bar(0.5, "half")
    bar.close()
    assert tty.getvalue().startswith("\r[###############...............]  50.0% half") and tty.getvalue().endswith("\n")


def test_the_funnel_gives_one_line_and_exit_status(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    env = {"PLEXSYNC_DATA_DIR": str(tmp_path)}
    assert cli.main(["sync"], env=env, stdout=out, stderr=err) == cli.EXIT_FAILED
    assert err.getvalue().startswith("plexsync: no Stash connection") and err.getvalue().count("\n") == 1
    with pytest.raises(SystemExit) as usage:
        cli.main(["sync", "--force", "--recent"], env=env, stdout=out, stderr=err)
    assert usage.value.code == cli.EXIT_USAGE
    help_out = io.StringIO()
    assert cli.main([], env=env, stdout=help_out, stderr=err) == cli.EXIT_USAGE
    assert "commands:" in help_out.getvalue()
