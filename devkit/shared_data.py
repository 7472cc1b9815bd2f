"""Where the reference data lives: `../shared` beside the checkout (never copied into the project)."""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = Path(os.environ.get("PLEXSYNC_SHARED_DIR", REPO_ROOT.parent / "shared"))
STASH_SCHEMA = SHARED_DIR / "stash" / "schema.graphql"
PLEX_CAPTURES = SHARED_DIR / "plex" / "pms-captures"
