"""The Python packages PlexSync needs at run time, and what a user does when one is missing.

Stash runs PlexSync with whatever Python it finds, which often lacks plexapi and the others. The
hook needs none of them (it only queues a row), so nothing is lost; the first task, CLI command
or drainer that needs them stops with one line naming the exact command that installs them into
that very interpreter. When the PythonDepManager plugin (CommunityScripts) is installed in Stash,
a task lets it install them instead, the way CommunityScripts plugins do. A hook never installs.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import List, Sequence

from common.datadir import read_json, write_private_json
from common.errors import ConfigurationError

REQUIREMENTS_FILE = "requirements.txt"
DEP_MANAGER = "PythonDepManager"
# Where PythonDepManager put the packages, saved by the task that ran it: the drainer (started by
# hooks, so it never installs) puts the same folders on its path.
PATHS_FILE = "dependency_paths.json"
# distribution name (as in requirements.txt, lower case) -> the module it installs
IMPORT_NAMES = {"persist-queue": "persistqueue", "stashapp-tools": "stashapi", "plexapi": "plexapi",
                "requests": "requests", "pillow": "PIL", "websocket-client": "websocket"}
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;#]*)")


class Requirement:
    """One line of requirements.txt: `name`, the module it provides, and its lowest allowed version."""

    def __init__(self, name: str, specifier: str) -> None:
        self.name = name
        self.specifier = specifier.replace(" ", "")
        self.module = IMPORT_NAMES.get(name.lower(), name.lower().replace("-", "_"))
        lowest = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", self.specifier)
        self.lowest = lowest.group(1) if lowest else None

    def dep_manager_spec(self) -> str:
        """PythonDepManager's form, `module:distribution>=lowest` (it knows == and >= only)."""
        return f"{self.module}:{self.name}" + (f">={self.lowest}" if self.lowest else "")


def read_requirements(path: Path) -> List[Requirement]:
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith(("#", "-")) or not line.strip():
            continue
        match = _REQUIREMENT.match(line)
        if match:
            found.append(Requirement(match.group(1), match.group(3).strip()))
    return found


def missing_modules(requirements: Sequence[Requirement]) -> List[Requirement]:
    """The requirements whose module this interpreter cannot import (checked without importing)."""
    return [req for req in requirements if importlib.util.find_spec(req.module) is None]


def dep_manager_importable(plugin_dir: Path) -> bool:
    """Whether PythonDepManager can be imported, putting its folder on sys.path when it is found
    beside PlexSync or under another plugin source's folder (Stash puts only PlexSync's parent on
    the path, and each plugin source installs into a folder of its own)."""
    if importlib.util.find_spec(DEP_MANAGER) is not None:
        return True
    parent = plugin_dir.resolve().parent
    try:
        candidates = [parent] + sorted(entry for entry in parent.parent.iterdir() if entry.is_dir())
    except OSError:
        candidates = [parent]
    for folder in candidates:
        if (folder / DEP_MANAGER / "__init__.py").is_file():
            sys.path.append(str(folder))
            importlib.invalidate_caches()
            return True
    return False


def install_command(plugin_dir: Path) -> str:
    requirements = plugin_dir / REQUIREMENTS_FILE
    return f'"{sys.executable}" -m pip install -r "{requirements}"'


def _use_saved_paths(data_dir: Path) -> None:
    saved = read_json(data_dir / PATHS_FILE, default=[])
    for folder in saved if isinstance(saved, list) else []:
        if isinstance(folder, str) and folder not in sys.path and Path(folder).is_dir():
            sys.path.insert(0, folder)
    importlib.invalidate_caches()


def ensure_dependencies(plugin_dir: Path, data_dir: Path, install: bool = True) -> None:
    """Return when every run-time package imports; else, when `install` and PythonDepManager is
    there, have it install them (and remember where, for the drainer); else raise
    ConfigurationError with the command to run."""
    plugin_dir, data_dir = Path(plugin_dir), Path(data_dir)
    requirements_path = plugin_dir / REQUIREMENTS_FILE
    if not requirements_path.is_file():
        return  # a source checkout run from elsewhere; imports fail loudly on their own
    requirements = read_requirements(requirements_path)
    missing = missing_modules(requirements)
    if missing:
        _use_saved_paths(data_dir)
        missing = missing_modules(requirements)
    if not missing:
        return
    note = ""
    if install and dep_manager_importable(plugin_dir):
        try:
            from PythonDepManager import ensure_import  # type: ignore[import-not-found,unused-ignore]

            before = set(sys.path)
            ensure_import(*[req.dep_manager_spec() for req in missing])
            importlib.invalidate_caches()
            missing = missing_modules(requirements)
            if not missing:
                write_private_json(data_dir / PATHS_FILE, [path for path in sys.path if path not in before])
                return
            note = f"{DEP_MANAGER} ran but they are still missing; "
        except Exception as exc:  # its own failure (no pip, no network) becomes part of the one line
            note = f"{DEP_MANAGER} failed ({' '.join(str(exc).split())[:200] or type(exc).__name__}); "
    names = ", ".join(req.name for req in missing)
    raise ConfigurationError(
        f"PlexSync needs Python packages this Python does not have ({names}): {note}run "
        f"{install_command(plugin_dir)} (in Docker: docker exec -it <stash container> and the same command; add "
        f"--break-system-packages if pip refuses), or install the {DEP_MANAGER} plugin; queued scenes are kept")
