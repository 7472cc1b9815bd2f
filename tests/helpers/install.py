"""Installing the plugin the way Stash does: the built zip unpacked into a plugins folder."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

from tools import build_index


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def unpack_like_stash(zip_path: Path, package_dir: Path) -> None:
    """Stash's package manager: every file of the zip into `<plugins>/<source>/<id>/`, with the zip's mode."""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            target = package_dir / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
            os.chmod(target, (info.external_attr >> 16) & 0o777)


def install_plugin(root: Path, source: str = "plexsync-source") -> Path:
    """Build the zip under `root/published` and unpack it as Stash would; returns the plugin folder."""
    _, zip_path, _ = build_index.build(root / "published")
    plugin_dir = root / "plugins" / source / build_index.PLUGIN_ID
    unpack_like_stash(zip_path, plugin_dir)
    return plugin_dir
