#!/usr/bin/env python3
"""PlexSync: keeps Plex in step with Stash.

Run by Stash with no arguments (the raw plugin protocol on stdin/stdout: hooks and tasks), or
by a person with a command (`python PlexSync.py --help`). This file only dispatches: the hook
path it leads to imports nothing but the standard library.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(argv: list) -> int:
    if argv:
        from entry.cli import main as cli_main

        return cli_main(argv)
    from entry.plugin import run_plugin

    return run_plugin(sys.stdin, sys.stdout)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
