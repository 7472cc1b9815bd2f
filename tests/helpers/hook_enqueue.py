"""What a hook does with the queue, as its own process: enqueue, then make sure a drainer runs.

    python tests/helpers/hook_enqueue.py DATA_DIR PLUGIN_DIR EVENT SCENE_ID [SCENE_ID ...]

PLUGIN_DIR may be "-" to skip starting a drainer. Exits non-zero with the error on stderr if
anything fails, so a test can assert that no "database is locked" ever reaches a user.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sync_queue.rows import enqueue  # noqa: E402
from worker.launcher import ensure_drainer  # noqa: E402


def main(argv: list) -> int:
    data_dir, plugin_dir, event, *ids = argv
    for scene_id in ids:  # one call per id: each is one hook event
        enqueue(data_dir, [int(scene_id)], event, "test hook")
    if plugin_dir != "-":
        ensure_drainer(data_dir, plugin_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
