"""Entry points: Stash's raw plugin protocol, the hook fast path, task dispatch and the CLI."""
