"""The operations a user runs by hand, shared by Stash's task menu and the command line.

Each operation is a function `name(ctx, **options) -> TaskResult` in a module of its own
(`sync`, `queue_ops`, `health`, `match_report`, ...), declared once in `entry/task_table.py`. They
know nothing about stdin, stdout or terminals: `entry/task.py` renders a result for Stash and
`entry/cli.py` for a terminal. This file imports nothing, so `--help` stays instant.
"""
