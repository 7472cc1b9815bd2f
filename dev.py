#!/usr/bin/env python3
"""The two commands of a fresh checkout: `python3 dev.py demo` and `python3 dev.py test`.

Needs only Python 3.9 or newer. Makes `.venv` beside this file if it is missing, installs
requirements-dev.txt into it (again only when a requirements file changed), then runs, inside it:
- `demo [ARGS]`: the demo (`python PlexSync.py demo`): fake Stash and Plex, a sync, an edit;
- `test [PYTEST ARGS]`: what CI runs: ruff, mypy, then the whole test suite (`pytest -q`).
  mypy needs Python 3.10 or newer: on 3.9 the type check is skipped, and says so.
Standard library only, so it runs before anything is installed.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
REQUIREMENT_FILES = ("requirements.txt", "requirements-dev.txt")
STAMP = VENV / ".plexsync-requirements"
MYPY_PYTHON = (3, 10)  # mypy 2.x runs on 3.10+; requirements-dev.txt installs it there only
USAGE = "usage: python3 dev.py demo [demo options] | python3 dev.py test [pytest options]"


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def requirements_digest() -> str:
    digest = hashlib.sha256()
    for name in REQUIREMENT_FILES:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_venv() -> Path:
    """The venv's interpreter, with the requirements installed."""
    if sys.version_info < (3, 9):
        raise SystemExit(f"dev.py: PlexSync needs Python 3.9 or newer, this is {sys.version.split()[0]}")
    python = venv_python()
    if not python.exists():
        print(f"dev.py: creating {VENV.name}/ ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    wanted = requirements_digest()
    if not STAMP.exists() or STAMP.read_text(encoding="utf-8").strip() != wanted:
        print("dev.py: installing requirements-dev.txt ...", flush=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(ROOT / "requirements-dev.txt")], check=True)
        STAMP.write_text(wanted + "\n", encoding="utf-8")
    return python


def run(commands: List[List[str]]) -> int:
    """Run each command in turn; the first that fails gives the exit status."""
    for command in commands:
        code = subprocess.run(command, cwd=str(ROOT)).returncode
        if code != 0:
            return code
    return 0


def main(argv: List[str]) -> int:
    if not argv or argv[0] not in ("demo", "test"):
        print(USAGE, file=sys.stderr)
        return 2
    try:
        python = str(ensure_venv())
    except subprocess.CalledProcessError as exc:
        print(f"dev.py: setting up {VENV.name}/ failed ({exc}); delete {VENV} and run again", file=sys.stderr)
        return 1
    if argv[0] == "demo":
        return run([[python, "PlexSync.py", "demo", *argv[1:]]])
    checks = [[python, "-m", "ruff", "check", "."], [python, "-m", "mypy"], [python, "-m", "pytest", "-q", *argv[1:]]]
    if sys.version_info < MYPY_PYTHON:
        print(f"dev.py: type check skipped: mypy needs Python {'.'.join(map(str, MYPY_PYTHON))} or newer, "
              f"this is {sys.version.split()[0]} (CI runs it)", flush=True)
        del checks[1]
    return run(checks)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
