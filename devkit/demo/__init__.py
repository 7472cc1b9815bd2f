"""`python PlexSync.py demo`: the whole plugin at work in half a minute, with nothing to set up.

A new user (or a reviewer) should see PlexSync do its job before pointing it at a real Plex: this
starts the project's fake Stash and fake Plex on loopback over a sample library whose Stash and
Plex paths differ, configures PlexSync in the fake Stash as a user would, runs the "Sync changed
scenes" task as Stash runs it (the real queue and drainer do the work), plays one edit through
the real hook (PlexSync.py fed the stdin Stash sends), renames a tag (Tag.Update.Post), and
prints what changed in Plex.
Everything runs in a temporary directory and is stopped and removed at the end, also on Ctrl-C
or failure.
"""
from __future__ import annotations

import argparse
import signal
import sys
import textwrap
import threading
import time
from typing import Callable, List, Optional, TextIO

from devkit.demo import report

STEP_TIMEOUT = 60.0  # a deadline for a stuck run, far above the few seconds each step takes


def main(argv: Optional[List[str]] = None, out: Optional[TextIO] = None) -> int:
    parser = argparse.ArgumentParser(prog="PlexSync.py demo", description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=60, help="scenes in the sample library (default 60, at least 20)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the sample library (default 7)")
    args = parser.parse_args(argv or [])
    out = out or sys.stdout
    started = time.monotonic()
    try:
        import devkit.fakes.plex_server  # noqa: F401  (the fake servers, and graphql-core under them)
        import devkit.fakes.stash_server  # noqa: F401
        from devkit.demo.stage import Stage
    except ImportError as exc:
        print(f"the demo needs the test servers in devkit/fakes and graphql-core ({exc}); "
              "run: pip install -r requirements-dev.txt", file=sys.stderr)
        return 2
    restore = _interrupt_on_sigterm()
    stage = None
    code = 1
    try:
        stage = Stage(max(20, args.scenes), args.seed)
        stage.start()
        code = Demo(stage, out, started).play()
    except KeyboardInterrupt:
        print("\ninterrupted: stopping everything the demo started", file=out, flush=True)
        code = 130
    except Exception as exc:  # the funnel: one line, then the same cleanup
        out.flush()
        print(f"demo failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        signal_guard = _ignore_interrupts()
        try:
            if stage is not None:
                stage.close()
        finally:
            signal_guard()
            restore()
    if code == 0:
        print("Nothing left running: drainer and servers stopped, temporary files removed.", file=out)
    return code


class Demo:
    """The story the demo tells, one step at a time, printing as it goes."""

    def __init__(self, stage, out: TextIO, started: float) -> None:
        self.stage = stage
        self.out = out
        self.started = started

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def play(self) -> int:
        from devkit.processes import wait_until

        stage, world = self.stage, self.stage.world
        edited = self._edit_target()
        shown = [edited] + self._showcase(exclude=edited)
        self.say("PlexSync demo: a fake Stash and a fake Plex on loopback; the real queue,")
        self.say("drainer and hook of this plugin.")
        self.say()
        self.say(f"Sample library: {len(world.scene_ids)} scenes. Stash sees them under {world.stash_root},")
        self.say(f"Plex under {world.plex_root} (setting path_map = {world.path_map}).")
        self.say(f"Some files Plex has not scanned or cannot see: {len(world.missing_ids | world.pending_ids)} scenes.")
        self.say()

        # 1. Full sync --------------------------------------------------------------------------
        before = {scene_id: report.plex_fields(stage.plex_item(scene_id)) for scene_id in shown}
        step = time.monotonic()
        self.say("1. Full sync")
        self._sync_task()
        wait_until(lambda: stage.settled() and stage.synced_ids(), STEP_TIMEOUT, "the full sync")
        synced, waiting, dead = stage.synced_ids(), stage.waiting_ids(), stage.dead_letters()
        self.say(f"   Done in {time.monotonic() - step:.1f} s: {len(synced)} scenes written to Plex, "
                 f"{len(waiting)} not in Plex yet,")
        self.say(f"   {stage.dead_letter_count()} in dead letters.")
        for letter in sorted(dead, key=lambda d: d.scene_id or 0)[:1]:
            self.say("   One of them, as the dead-letter list shows it:")
            for line in textwrap.wrap(letter.message, 72, max_lines=5, placeholder=" …"):
                self.say("     " + line)
        for scene_id in shown:
            self._item_table(scene_id, before[scene_id], ("before the sync", "after the sync"))

        # 2. An edit through the hook -----------------------------------------------------------
        self.say()
        self.say("2. An edit in Stash, through the hook")
        row = stage.stash.scene(edited)
        store = stage.stash.store
        dropped = store.tags[row.tag_ids[0]]
        added = next(p for p in store.performers.values() if p.id not in row.performer_ids)
        title = f"{row.title} (director's cut)"
        before_edit = report.plex_fields(stage.plex_item(edited))
        changes = {"title": title, "tag_ids": [str(t) for t in row.tag_ids if t != dropped.id],
                   "performer_ids": [str(p) for p in (*row.performer_ids, added.id)]}
        stage.stash.edit_scene(edited, **changes)
        self.say(f"   Saved scene {edited} in Stash: new title, tag \"{dropped.name}\" removed,")
        self.say(f"   performer \"{added.name}\" added.")
        saved = time.monotonic()
        hook = stage.run_plugin(stage.hook_stdin(edited, "Scene.Update.Post", {"id": str(edited), **changes},
                                               ["id", *changes]))
        self.say(f"   Stash ran the hook: PlexSync.py answered in {hook.seconds * 1000:.0f} ms (exit {hook.returncode}):")
        self.say("     " + report.fit(hook.stdout.strip(), 73).rstrip())
        if hook.returncode != 0 or hook.result.get("error") or not hook.result:
            raise RuntimeError(f"the hook failed: {hook.stdout.strip() or hook.stderr.strip()}")

        def arrived() -> bool:
            now = report.plex_fields(stage.plex_item(edited))
            return (now["title"] == title and dropped.name not in now["genres"].split(", ")
                    and added.name in now["actors"].split(", "))

        wait_until(arrived, STEP_TIMEOUT, "the edit in Plex")
        self.say(f"   In Plex {time.monotonic() - saved:.1f} s after the save (the drainer waits 2 s for")
        self.say("   further edits of the same scene, then writes them all in one request).")
        self._item_table(edited, before_edit, ("before the edit", "after the edit"))

        # 3. A tag renamed: no scene hook, yet every scene carrying it follows -------------------
        self.say()
        self.say("3. A tag renamed in Stash")
        tag_id, carriers = self._busiest_tag(exclude=edited)
        old_name, new_name = store.tags[tag_id].name, f"{store.tags[tag_id].name} (renamed)"
        store.rename("tag", tag_id, new_name)
        renamed = time.monotonic()
        rename_hook = stage.run_plugin(stage.hook_stdin(tag_id, "Tag.Update.Post", {"id": str(tag_id), "name": new_name},
                                                        ["id", "name"]))
        self.say(f"   Renamed tag \"{old_name}\", carried by {len(carriers)} movies in Plex. Stash fires no")
        self.say("   scene hook for this, only Tag.Update.Post; PlexSync.py answered:")
        self.say("     " + report.fit(rename_hook.stdout.strip(), 73).rstrip())
        if rename_hook.returncode != 0 or rename_hook.result.get("error") or not rename_hook.result:
            raise RuntimeError(f"the hook failed: {rename_hook.stdout.strip() or rename_hook.stderr.strip()}")
        wait_until(lambda: all(new_name in report.plex_fields(stage.plex_item(i))["genres"] for i in carriers),
                   STEP_TIMEOUT, "the renamed tag in Plex")
        self.say(f"   All {len(carriers)} Plex items show \"{new_name}\" {time.monotonic() - renamed:.1f} s later: the")
        self.say("   drainer looked the tag's scenes up in Stash and synced them.")

        # 4. A movie watched in Plex: a play in Stash --------------------------------------------
        self.say()
        self._watched_in_plex(exclude=edited)

        # 5. Totals -----------------------------------------------------------------------------
        stopped = stage.stop_drainers()
        self.say()
        self._totals(stopped, hook.seconds)
        return 0

    # ---- pieces ------------------------------------------------------------------------------

    def _watched_in_plex(self, exclude: int) -> None:
        """A synced movie played to the end in Plex, then the task "Import plays from Plex"."""
        from datetime import datetime, timezone

        from devkit.fakes.stash_plays import plays_of

        stage = self.stage
        scene = next(i for i in self._plain_movies() if i != exclude and i in stage.synced_ids())
        rating_key = stage.rating_keys[scene][0]
        self.say("4. A movie watched in Plex")
        stage.plex.plays.play_to_end(1, rating_key)  # a client's timeline reports, as Plex gets them
        viewed = stage.plex.plays.history_rows()[-1]["viewedAt"]
        task = stage.run_plugin(stage.task_stdin("plays_import"))
        if task.returncode != 0 or task.result.get("error"):
            raise RuntimeError(f"the task failed: {task.stdout.strip() or task.stderr.strip()}")
        stamp = datetime.fromtimestamp(viewed, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        self.say(f"   The owner played Plex item {rating_key} to the end at {stamp} UTC;")
        self.say("   Plex wrote one row of play history. Stash runs the task")
        self.say("   \"Import plays from Plex\":")
        history = plays_of(stage.stash.store).history(scene)
        shown = ", ".join(datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S") for t in history)
        self.say(f"   scene {scene} in Stash: play count {len(history)}, play history {shown} UTC.")
        again = stage.run_plugin(stage.task_stdin("plays_import"))
        count = len(plays_of(stage.stash.store).history(scene))
        self.say(f"   Run again: still {count} play{'s' if count != 1 else ''} (exit {again.returncode}): "
                 "each view comes over once.")

    def _sync_task(self) -> None:
        """As a user does it: Stash runs the task "Sync changed scenes" (mode sync_all)."""
        self.say("   Stash runs the task \"Sync changed scenes\" (PlexSync.py, mode sync_all):")
        run = self.stage.run_plugin(self.stage.task_stdin("sync_all"), timeout=STEP_TIMEOUT * 2)
        error = run.result.get("error") if run.result else (run.stdout.strip() or run.stderr.strip()[-300:])
        if run.returncode != 0 or error:
            raise RuntimeError(f"the sync task failed: {error}")
        self.say(f"   it queued every scene, started the drainer (pid {self.stage.drainer_pid() or '-'}) "
                 "and waited for it.")
        self.say("   The task's summary, as Stash shows it:")
        for line in str(run.result.get("output") or "").splitlines()[1:2]:
            for part in textwrap.wrap(line.strip(), 72):
                self.say("     " + part)

    def _plain_movies(self) -> List[int]:
        world = self.stage.world
        return sorted(world.matchable_ids - world.multi_file_ids - world.episode_ids - world.untitled_ids)

    def _edit_target(self) -> int:
        """A movie with a title, at least one tag and one performer, that is in Plex."""
        store = self.stage.stash.store
        for scene_id in self._plain_movies():
            row = store.scene(scene_id)
            if row.tag_ids and row.performer_ids and scene_id not in self.stage.world.special_title_ids:
                return scene_id
        raise RuntimeError("the sample library has no scene to edit; try another --seed")

    def _busiest_tag(self, exclude: int) -> tuple:
        """The tag on most plain movies in Plex (not the edited scene's), and those movies."""
        store = self.stage.stash.store
        movies = [i for i in self._plain_movies() if i != exclude and self.stage.stash.scene(i).tag_ids]
        counts: dict = {}
        for scene_id in movies:
            for tag_id in store.scene(scene_id).tag_ids:
                counts.setdefault(tag_id, []).append(scene_id)
        if not counts:
            raise RuntimeError("the sample library has no tagged scene; try another --seed")
        tag_id = max(counts, key=lambda t: (len(counts[t]), -t))
        return tag_id, counts[tag_id]

    def _showcase(self, exclude: int) -> List[int]:
        """A title with accents and an episode, when the sample library has them."""
        world, store = self.stage.world, self.stage.stash.store
        picks = []
        for scene_id in self._plain_movies():
            title = store.scene(scene_id).title or ""
            if scene_id in world.special_title_ids and scene_id != exclude and all(ord(c) < 0x250 for c in title):
                picks.append(scene_id)
                break
        episodes = sorted(world.episode_ids & world.matchable_ids - world.multi_file_ids)
        return picks + episodes[:1]

    def _item_table(self, scene_id: int, before: dict, headings) -> None:
        stage = self.stage
        keys = stage.rating_keys.get(scene_id, ())
        path = stage.stash.scene(scene_id).files[0].path
        self.say()
        self.say("   " + report.fit(f"Scene {scene_id} -> Plex item {keys[0] if keys else '-'}: "
                                   f"{stage.world.to_plex_path(path)}", 76).rstrip())
        after = report.plex_fields(stage.plex_item(scene_id))
        for line in report.before_after(before, after, headings):
            self.say(line)

    def _totals(self, stopped: List[int], hook_seconds: float) -> None:
        stage = self.stage
        synced, waiting, dead = stage.synced_ids(), stage.waiting_ids(), stage.dead_letters()
        plex, stash = stage.plex.counts(), stage.stash.counts()
        stash_routes = {key: n for key, n in stash.items() if key.startswith(("GET ", "POST ", "PUT "))}
        operations = [key for key in stash_routes if key.startswith("POST /graphql ")]
        self.say("Totals")
        self.say(f"   scenes in Stash     {len(stage.world.scene_ids):>5}")
        self.say(f"   synced to Plex      {len(synced):>5}")
        self.say(f"   not in Plex yet     {len(waiting):>5}   retries scheduled: scenes {report.id_list(waiting, 6)}")
        self.say(f"   dead letters        {stage.dead_letter_count():>5}   "
                 f"scenes {report.id_list(sorted(d.scene_id or 0 for d in dead), 6)}")
        self.say(f"   Plex requests       {report.total(plex):>5}")
        for line in report.request_lines(plex, report.PLEX_ROUTES, indent=7):
            self.say(line)
        self.say(f"   Stash requests      {report.total(stash_routes, skip=operations):>5}")
        for line in report.request_lines(stash_routes, report.STASH_ROUTES, skip=["POST /graphql"], indent=7):
            self.say(line)
        self.say(f"   hook process        {hook_seconds * 1000:>5.0f} ms")
        self.say(f"   elapsed             {time.monotonic() - self.started:>5.1f} s")
        self.say(f"   drainer stopped: pid {', '.join(str(p) for p in stopped) or '(had already exited)'}")


def _interrupt_on_sigterm() -> Callable[[], None]:
    """SIGTERM cleans up like Ctrl-C does (only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        return lambda: None

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _ignore_interrupts() -> Callable[[], None]:
    """A second Ctrl-C during cleanup must not leave the drainer or the servers behind."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None))
                if sig is not None}
    return lambda: [signal.signal(sig, handler) for sig, handler in previous.items()]
