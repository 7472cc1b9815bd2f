"""The command line: the same operations as Stash's task menu, for a terminal, a script or cron.

`python PlexSync.py --help` must answer at once, so this module imports only the standard
library at the top; each command imports what it needs when it runs. The connection and
settings come from flags, then `PLEXSYNC_*` environment variables (any setting name upper-cased,
e.g. PLEXSYNC_PLEX_TOKEN), then Stash itself (given its URL and API key) or the connection a
Stash task saved in the data directory. Commands that drain the queue run the drainer in this
process, so overrides like --plex-token reach it. One funnel turns any failure into one line
on stderr and a non-zero exit status; --debug shows the traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, TextIO

from common.datadir import PLUGIN_DIR
from common.version import VERSION

ENV_PREFIX = "PLEXSYNC_"
FLAG_SETTINGS = ("plex_url", "plex_token", "path_map", "plex_library")
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
GROUP_HELP = {"dlq": "failed jobs (dead letters): dlq list|retry|clear|purge [--days N]",
              "plays": "plays in Plex → Stash: plays import [--dry-run]"}
EPILOG = """\
connection and settings: flags win over PLEXSYNC_* environment variables (PLEXSYNC_STASH_URL,
PLEXSYNC_STASH_API_KEY, PLEXSYNC_DATA_DIR, PLEXSYNC_PLEX_URL, PLEXSYNC_PLEX_TOKEN, or any other
setting name upper-cased, e.g. PLEXSYNC_STRICT_MATCHING=off), which win over the settings stored
in Stash. Without a Stash URL the connection saved by the last Stash task is used.
"""


def _options(parser: argparse.ArgumentParser, nested: bool) -> None:
    """Connection and output options, accepted before or after the command."""
    default = argparse.SUPPRESS if nested else None
    group = parser.add_argument_group("connection and settings")
    group.add_argument("--stash-url", default=default, help="Stash address, e.g. http://localhost:9999")
    group.add_argument("--stash-api-key", default=default, help="Stash API key (Settings → Security), if it has a login")
    group.add_argument("--data-dir", default=default, help="PlexSync's data directory (default: <plugin>/data)")
    group.add_argument("--plex-url", default=default, help="Plex address, overrides Stash's setting")
    group.add_argument("--plex-token", default=default, help="Plex token, overrides Stash's setting")
    group.add_argument("--path-map", default=default, help="stash_prefix=>plex_prefix pairs, ';'-separated")
    group.add_argument("--plex-library", default=default, help="comma-separated Plex library names")
    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true", default=default, help="print the result as JSON")
    output.add_argument("--debug", action="store_true", default=default, help="show tracebacks and debug logs")
    output.add_argument("--verbose", action="store_true", default=default, help="log to the console, not the log file")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python PlexSync.py", description="PlexSync keeps Plex in step with Stash. Run by Stash with no "
        "arguments (hooks and tasks); these commands do the same from a terminal.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"PlexSync {VERSION}")
    _options(parser, nested=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text, epilog=EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        _options(sub, nested=True)
        return sub

    sync = command("sync", "queue changed scenes for Plex and sync them (--recent: last 24 h; --force: rewrite all)")
    sync.add_argument("--recent", action="store_true", help="only scenes updated in the last --hours (24)")
    sync.add_argument("--hours", type=float, default=24.0, help=argparse.SUPPRESS)
    sync.add_argument("--force", action="store_true", help="rewrite every scene in Plex, changed or not")
    sync.add_argument("--dry-run", action="store_true",
                      help="write nothing: show what the sync would change in Plex (--json: one object per scene)")
    sync.add_argument("--details", type=int, default=20, help="with --dry-run: scenes shown in full (default 20)")
    _task_commands(command)
    command("worker", "run the drainer in the foreground until the queue is idle")
    command("watch", "listen to Plex and bring each stopped play to Stash within seconds (until interrupted)")
    demo = commands.add_parser("demo", help="run the demo against fake Stash and Plex servers", add_help=False)
    demo.add_argument("demo_args", nargs=argparse.REMAINDER)
    return parser


def _task_commands(command: Any) -> None:
    """A command for each task declared with a command of its own (entry.task_table; `sync` and its
    flags are built above); tasks named "GROUP ACTION" (`dlq list`, `plays import`) become the
    actions of one GROUP command, and a task named with a flag (`plays import --dry-run`) is that
    flag on its command."""
    from entry.task_table import TASKS

    groups: Dict[str, Any] = {}
    subs: Dict[str, argparse.ArgumentParser] = {}
    for task in TASKS:
        words = task.cli.split()
        if words[0] == "sync":
            continue
        flags = [word for word in words if word.startswith("--")]
        name = " ".join(word for word in words if not word.startswith("--"))
        if flags:
            for flag in flags:
                subs[name].add_argument(flag, action="store_true", help=task.cli_help or task.description)
            continue
        group, _, action = name.partition(" ")
        if action:
            if group not in groups:
                groups[group] = command(group, GROUP_HELP[group]).add_subparsers(
                    dest="action", metavar="ACTION", required=True)
            sub = groups[group].add_parser(action, help=task.cli_help, description=task.cli_help)
            _options(sub, nested=True)
        else:
            sub = command(name, task.cli_help)
        subs[name] = sub
        for arg in task.args:
            if arg.positional:
                sub.add_argument(arg.name, type=_cli_type(arg), metavar=arg.name.upper(), help=arg.help)
            else:
                sub.add_argument(f"--{arg.name}", type=_cli_type(arg), default=arg.cli_default, help=arg.help)


def _cli_type(arg: Any) -> Any:
    """The argparse type of a task argument: int and float as they are, a reader's ValueError as
    argparse's usage error with the reader's message."""
    if arg.cli_type in (int, float):
        return arg.cli_type

    def read(text: str) -> Any:
        try:
            return arg.cli_type(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return read


def _value(args: argparse.Namespace, name: str, env: Dict[str, str]) -> Optional[str]:
    flag = getattr(args, name, None)
    if flag is not None:
        return flag
    return env.get(ENV_PREFIX + name.upper()) or None


def settings_overrides(args: argparse.Namespace, env: Dict[str, str]) -> Dict[str, Any]:
    """Settings from PLEXSYNC_<NAME> variables, then flags (flags win); Stash supplies the rest."""
    from common.settings import SPEC

    overrides: Dict[str, Any] = {}
    for name in SPEC:
        value = env.get(ENV_PREFIX + name.upper())
        if value not in (None, ""):
            overrides[name] = value
    for name in FLAG_SETTINGS:
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return overrides


class TerminalProgress:
    """A bar redrawn in place on a terminal; on a pipe, a plain line per 10% or per 30 s."""

    def __init__(self, stream: TextIO, clock: Any = None) -> None:
        import time

        self.stream = stream
        self.clock = clock or time.monotonic
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._step = -1
        self._at: Optional[float] = None
        self._drawn = False

    def __call__(self, fraction: float, message: str = "") -> None:
        fraction = max(0.0, min(1.0, fraction))
        if self.tty:
            filled = int(fraction * 30)
            self.stream.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {fraction * 100:5.1f}% {message[:70]:<70}")
            self._drawn = True
        else:
            step, now = int(fraction * 10), self.clock()
            if step == self._step and self._at is not None and now - self._at < 30.0:
                return
            self._step, self._at = step, now
            self.stream.write(f"progress {fraction * 100:.0f}%: {message}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def _data_dir(args: argparse.Namespace, env: Dict[str, str]) -> Path:
    from common.datadir import ENV_DATA_DIR

    return Path(args.data_dir or env.get(ENV_DATA_DIR) or Path(PLUGIN_DIR) / "data")


def _context(args: argparse.Namespace, env: Dict[str, str], progress: Any) -> Any:
    from stash.connection import connection_from_url
    from tasks.context import TaskContext

    url = _value(args, "stash_url", env)
    connection = None
    if url:
        connection = connection_from_url(url, _value(args, "stash_api_key", env) or "", plugin_dir=PLUGIN_DIR)
    data_dir = _data_dir(args, env)
    from entry.wiring import Services

    return TaskContext(data_dir=data_dir, plugin_dir=Path(PLUGIN_DIR), services=Services(data_dir), connection=connection,
                       overrides=settings_overrides(args, env), progress=progress, foreground=True)


def _needs_stash(ctx: Any) -> None:
    from common.errors import ConfigurationError
    from stash.connection import connection_path

    if ctx.connection is None and not connection_path(ctx.data_dir).exists():
        raise ConfigurationError("no Stash connection: pass --stash-url URL (and --stash-api-key KEY if Stash has a "
                                 "login), set PLEXSYNC_STASH_URL, or run a PlexSync task in Stash once")


def _mode(args: argparse.Namespace) -> tuple:
    """(task mode, options) for a command."""
    if args.command == "sync":
        if args.dry_run:  # the same scenes as the sync would take, nothing written
            options: Dict[str, Any] = {"details": args.details}
            if args.force:
                options["force"] = True
            if args.recent:
                options["hours"] = args.hours
            return "preview", options
        if args.recent:
            return "sync_recent", {"hours": args.hours}
        return ("sync_all_force" if args.force else "sync_all"), {}
    from entry.task_table import BY_COMMAND, TASKS

    action = getattr(args, "action", None)
    name = f"{args.command} {action}" if action else args.command
    task = BY_COMMAND[name]
    for flagged in TASKS:  # `plays import --dry-run`: the command with a flag is a task of its own
        base, _, flag = flagged.cli.partition(" --")
        if flag and base == name and getattr(args, flag.replace("-", "_"), False):
            task = flagged
    return task.mode, {arg.name: getattr(args, arg.name) for arg in task.args}


def _setup_logging(args: argparse.Namespace, ctx: Any) -> None:
    import logging

    from common.log import setup_console_logging, setup_file_logging

    secrets = [value for value in (ctx.overrides.get("plex_token"),
                                   ctx.connection.api_key if ctx.connection else "") if value]
    level = logging.DEBUG if args.debug else logging.INFO
    if args.verbose or args.debug:
        setup_console_logging(secrets, level)
    else:
        from common.datadir import ensure_private_dir
        from entry.wiring import DRAINER_LOG

        ensure_private_dir(ctx.data_dir)
        setup_file_logging(ctx.data_dir / DRAINER_LOG, secrets, level)


def _run(args: argparse.Namespace, env: Dict[str, str], stdout: TextIO, stderr: TextIO) -> int:
    from entry.dependencies import ensure_dependencies

    ensure_dependencies(Path(PLUGIN_DIR), _data_dir(args, env), install=args.command != "worker")
    progress = TerminalProgress(stderr)
    ctx = _context(args, env, progress)
    if args.command == "worker":
        _needs_stash(ctx)
        return ctx.services.run_worker(ctx.connection, ctx.overrides, log_to_console=bool(args.verbose or args.debug))
    if args.command == "watch":
        _needs_stash(ctx)
        _setup_logging(args, ctx)
        from tasks.plays import watch

        try:
            return watch(ctx)
        finally:
            ctx.services.close()
    mode, options = _mode(args)
    if mode not in ("status", "dlq_list", "dlq_retry", "dlq_clear", "dlq_purge"):
        _needs_stash(ctx)
    _setup_logging(args, ctx)
    from entry.task_table import run_mode

    if mode == "preview" and args.json:
        options["emit"] = _json_line(stdout)  # one object per scene, as each is previewed
    try:
        result = run_mode(mode, ctx, **options)
    finally:
        progress.close()
        ctx.services.close()
    if args.json:
        import json

        stdout.write(json.dumps(result.to_json(), ensure_ascii=False, default=str,
                                indent=None if "emit" in options else 2) + "\n")
    else:
        stdout.write(result.text + "\n")
    stdout.flush()
    if result.failed:
        stderr.write(f"plexsync: {result.failed}\n")
        return EXIT_FAILED
    return EXIT_OK


def _json_line(stdout: TextIO) -> Any:
    import json

    def emit(document: Dict[str, Any]) -> None:
        stdout.write(json.dumps(document, ensure_ascii=False, default=str) + "\n")

    return emit


def main(argv: List[str], env: Optional[Dict[str, str]] = None, stdout: Optional[TextIO] = None,
         stderr: Optional[TextIO] = None) -> int:
    """Run one command; the exit status is 0 on success, 1 on failure, 2 on a usage error."""
    env = dict(os.environ) if env is None else env
    stdout, stderr = stdout or sys.stdout, stderr or sys.stderr
    if argv[:1] == ["demo"]:  # PlexSync.py runs the demo (devkit/, not a product package)
        stderr.write("plexsync: run the demo as `python PlexSync.py demo`\n")
        return EXIT_USAGE
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(stdout)
        return EXIT_USAGE
    if args.command == "sync" and args.force and args.recent:
        parser.error("sync: --force and --recent cannot be combined")
    if args.command == "sync" and args.details < 0:
        parser.error("sync: --details must be 0 or more")
    for name in ("json", "debug", "verbose"):
        setattr(args, name, bool(getattr(args, name, False)))
    return funnel(lambda: _run(args, env, stdout, stderr), stderr, args.debug)


def funnel(command: Any, stderr: TextIO, debug: bool) -> int:
    """Run `command()`; any failure becomes one line on stderr (the traceback only with --debug)."""
    try:
        return command()
    except KeyboardInterrupt:
        stderr.write("plexsync: interrupted; queued jobs are kept\n")
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debug:
            import traceback

            traceback.print_exc(file=stderr)
        stderr.write(f"plexsync: {_one_line(exc)}\n")
        return EXIT_FAILED


def _one_line(exc: BaseException) -> str:
    from common.errors import SyncError
    from sync_queue.storage_errors import storage_problem

    text = " ".join(str(exc).split())
    if isinstance(exc, SyncError) and text:
        return text[:1000]
    problem = storage_problem(exc)
    if problem:
        return problem
    return f"failed unexpectedly ({type(exc).__name__}: {text[:200]}); run again with --debug for details"
