#!/usr/bin/env python3
"""PlexSync: keeps Plex in step with Stash.

Run by Stash with no arguments (the raw plugin protocol on stdin/stdout: hooks and tasks), or
by a person with a command (`python PlexSync.py --help`). This file switches the standard
streams to UTF-8 (entry/streams.py: Stash's byte boundary) and dispatches: the hook
path it leads to imports nothing but the standard library, and `demo` goes to the development
kit (`devkit/`), which no product package imports.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv: list) -> int:
    from entry.streams import use_utf8_streams

    use_utf8_streams()
    if argv == ["--version"]:
        from common.version import VERSION

        print(f"PlexSync {VERSION}")
        return 0
    if argv[:1] == ["demo"]:
        from entry.cli import funnel

        return funnel(lambda: run_demo(argv[1:]), sys.stderr, "--debug" in argv)
    if argv:
        from entry.cli import main as cli_main

        return cli_main(argv)
    from entry.plugin import run_plugin

    return run_plugin(sys.stdin, sys.stdout)


def run_demo(argv: list) -> int:
    """The demo lives in the development kit, which a source checkout has and the plugin zip does not."""
    try:
        from devkit.demo import main as demo_main
    except ModuleNotFoundError as exc:
        if exc.name not in ("devkit", "devkit.demo"):
            raise
        sys.stderr.write("plexsync: the demo needs the source checkout (devkit/ is not part of the installed plugin)\n")
        return 2
    return int(demo_main(list(argv)) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
