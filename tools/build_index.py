"""A Stash plugin source for PlexSync: `index.yml` and `PlexSync.zip`, byte for byte reproducible.

Stash (Settings → Plugins → Available Plugins → Add Source) reads a YAML list of packages from the
source URL; for each it downloads `path` (relative to the index, see pkg/pkg/repository_http.go),
checks `sha256`, and unpacks the zip's files into `<plugins>/<source>/<id>/`, removing on upgrade
only the files the previous zip had (so PlexSync's `data/` folder survives upgrades). The zip holds
exactly what runs inside Stash: the manifest, the entry script, the product packages,
requirements.txt, README, LICENSE and CHANGELOG; no tests, benchmarks, fakes or demo. The same
tree gives the same bytes: entries are sorted, with fixed times and modes.

    python -m tools.build_index --out DIR
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from common.datadir import PLUGIN_ID  # noqa: E402

ZIP_NAME = f"{PLUGIN_ID}.zip"
PRODUCT_PACKAGES = ("common", "entry", "hooks", "plays", "plex", "stash", "sync_queue", "tasks", "worker")
TOP_FILES = ("PlexSync.yml", "PlexSync.py", "requirements.txt", "README.md", "LICENSE", "CHANGELOG.md")
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say; dates in the index, not here


def package_files(root: Path = ROOT) -> List[str]:
    """The zip's file names (POSIX, relative to the plugin folder), sorted."""
    names = [name for name in TOP_FILES if (root / name).is_file()]
    missing = sorted(set(TOP_FILES) - set(names))
    if missing:
        raise SystemExit(f"build_index: {', '.join(missing)} missing in {root}")
    for package in PRODUCT_PACKAGES:
        for path in (root / package).rglob("*.py"):
            if "__pycache__" not in path.parts:
                names.append(path.relative_to(root).as_posix())
    return sorted(names)


def build_zip(root: Path = ROOT) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in package_files(root):
            info = zipfile.ZipInfo(name, date_time=FIXED_ZIP_TIME)
            info.external_attr = 0o100644 << 16  # a regular file, rw-r--r-- (Stash creates it with this mode)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the mode above is read
            archive.writestr(info, (root / name).read_bytes())
    return buffer.getvalue()


def manifest_field(root: Path, key: str) -> str:
    """A top-level scalar of PlexSync.yml (name, description, version), without a YAML library."""
    text = (root / "PlexSync.yml").read_text(encoding="utf-8")
    found = re.search(rf"^{key}:\s*(.+?)\s*$", text, re.M)
    if not found:
        raise SystemExit(f"build_index: PlexSync.yml has no top-level {key!r}")
    value = found.group(1)
    if value[:1] in "\"'" and value[-1:] == value[:1]:
        value = value[1:-1]
    return value


def release_time(root: Path = ROOT) -> str:
    """When this tree was made, UTC, in Stash's "YYYY-MM-DD HH:MM:SS": SOURCE_DATE_EPOCH if set, else
    the last commit's time, else the date of the newest CHANGELOG entry (never the clock: the same
    tree must give the same index). Stash offers an upgrade when a source's date is newer."""
    epoch: Optional[int] = None
    if os.environ.get("SOURCE_DATE_EPOCH", "").isdigit():
        epoch = int(os.environ["SOURCE_DATE_EPOCH"])
    else:
        try:
            done = subprocess.run(["git", "-C", str(root), "log", "-1", "--format=%ct"], capture_output=True,
                                  text=True, timeout=30)
            if done.returncode == 0 and done.stdout.strip().isdigit():
                epoch = int(done.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    if epoch is not None:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))
    dated = re.search(r"^## \S+ — (\d{4}-\d{2}-\d{2})", (root / "CHANGELOG.md").read_text(encoding="utf-8"), re.M)
    if not dated:
        raise SystemExit("build_index: no dated entry in CHANGELOG.md and no git history to date the release")
    return f"{dated.group(1)} 00:00:00"


def index_yaml(root: Path, sha256: str, date: str) -> str:
    """The source's index: a YAML list with PlexSync's one package (strings written as JSON, which YAML reads)."""
    quoted = json.dumps
    return "\n".join([
        f"- id: {PLUGIN_ID}",
        f"  name: {quoted(manifest_field(root, 'name'))}",
        "  metadata:",
        f"    description: {quoted(manifest_field(root, 'description'))}",
        f"  version: {quoted(manifest_field(root, 'version'))}",
        f"  date: {quoted(date)}",
        "  requires: []",
        f"  path: {ZIP_NAME}",
        f"  sha256: {sha256}",
        "",
    ])


def build(out: Path, root: Path = ROOT) -> Tuple[Path, Path, str]:
    """Write `out/index.yml` and `out/PlexSync.zip`; returns their paths and the zip's SHA-256."""
    data = build_zip(root)
    digest = hashlib.sha256(data).hexdigest()
    out.mkdir(parents=True, exist_ok=True)
    zip_path, index_path = out / ZIP_NAME, out / "index.yml"
    zip_path.write_bytes(data)
    index_path.write_text(index_yaml(root, digest, release_time(root)), encoding="utf-8")
    return index_path, zip_path, digest


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.build_index", description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="folder to write index.yml and PlexSync.zip into")
    args = parser.parse_args(argv)
    index_path, zip_path, digest = build(args.out)
    print(f"wrote {index_path} and {zip_path} ({zip_path.stat().st_size:,} bytes, sha256 {digest})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
