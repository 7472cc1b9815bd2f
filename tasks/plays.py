"""The "Import plays from Plex" task and `python PlexSync.py plays import [--dry-run]`.

Connects to Stash (settings) and Plex, then runs one import (plays.service) or its preview,
which reads the same history and Stash state and writes nothing: no Stash play, no resume
point, no watermark, no record.
"""
from __future__ import annotations

import threading
from typing import Optional

from tasks.context import TaskContext, TaskResult


def plays_import(ctx: TaskContext, dry_run: bool = False) -> TaskResult:
    from plays.importer import describe
    from plays.service import import_plays

    session = ctx.connect(remember=not dry_run)
    try:
        plex = ctx.services.plex_client(session.settings)
        try:
            report = import_plays(ctx.data_dir, ctx.services.database(), session.client, session.settings, plex,
                                  dry_run=dry_run, clock=ctx.clock)
        finally:
            plex.close()
    finally:
        session.client.close()
    title = "PlexSync plays preview (nothing written)" if dry_run else "PlexSync plays import"
    lines = describe(report)
    if dry_run and report.plays:
        lines += [f"scene {scene}: play at {_utc(at)} (account {account})" for scene, at, account in report.plays]
    return TaskResult(title, lines, {"mode": "plays_preview" if dry_run else "plays_import", **report.to_json()})


def plays_preview(ctx: TaskContext) -> TaskResult:
    return plays_import(ctx, dry_run=True)


def _utc(epoch: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(epoch), timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def watch(ctx: TaskContext, stop: Optional[threading.Event] = None) -> int:
    """`python PlexSync.py watch`: listen to Plex until interrupted (or `stop` is set); one per data dir."""
    from plays.service import WATCH_LOCK_FILE
    from worker.lock import ProcessLock

    lock = ProcessLock(ctx.data_dir / WATCH_LOCK_FILE)
    if not lock.acquire():
        ctx.progress(1.0, f"already watching (pid {lock.holder_pid()})")
        return 0
    try:
        _listen(ctx, stop)
    finally:
        lock.release()
    return 0


def _listen(ctx: TaskContext, stop: Optional[threading.Event]) -> None:
    import signal

    from plays.service import run_watch
    from worker.options import time_scale

    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    session = ctx.connect()
    try:
        plex = ctx.services.plex_client(session.settings)
        try:
            run_watch(ctx.data_dir, ctx.services.database(), session.client, session.settings, plex, stop,
                      time_scale())
        finally:
            plex.close()
    finally:
        session.client.close()
