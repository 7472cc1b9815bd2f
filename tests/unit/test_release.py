"""A release says one version everywhere, and the plugin source is what Stash expects, byte for byte.

Stash's side of the contract (pkg/pkg in Stash's source): the index is a YAML list of packages
with id, name, metadata.description, version, date ("YYYY-MM-DD HH:MM:SS", UTC), requires, path
(resolved against the index URL's folder) and sha256 (of the zip's bytes); the zip's files are
written into `<plugins>/<source>/<id>/` with the modes the zip gives them.
"""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import yaml

from common.version import VERSION
from tools import build_index

ROOT = Path(__file__).resolve().parents[2]


def test_one_version_everywhere():
    manifest = yaml.safe_load((ROOT / "PlexSync.yml").read_text(encoding="utf-8"))
    pyproject = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    newest = re.search(r"^## (\S+) — \d{4}-\d{2}-\d{2}$", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M)
    cli = subprocess.run([sys.executable, str(ROOT / "PlexSync.py"), "--version"], capture_output=True, text=True,
                         timeout=60)
    assert manifest["version"] == VERSION
    assert pyproject and pyproject.group(1) == VERSION
    assert newest and newest.group(1) == VERSION, "the newest CHANGELOG entry names another version"
    assert cli.returncode == 0 and cli.stdout.strip() == f"PlexSync {VERSION}"


def test_the_licence_is_mit():
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")


def test_the_same_tree_builds_the_same_bytes(tmp_path):
    first = build_index.build(tmp_path / "one")
    second = build_index.build(tmp_path / "two")
    assert first[1].read_bytes() == second[1].read_bytes()
    assert first[0].read_text(encoding="utf-8") == second[0].read_text(encoding="utf-8")
    assert first[2] == second[2] == hashlib.sha256(first[1].read_bytes()).hexdigest()


def test_the_zip_holds_exactly_what_runs_inside_stash(tmp_path):
    _, zip_path, _ = build_index.build(tmp_path)
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        modes = {info.external_attr >> 16 for info in archive.infolist()}
    tops = {name.split("/")[0] for name in names}
    assert tops == {"PlexSync.yml", "PlexSync.py", "requirements.txt", "README.md", "LICENSE", "CHANGELOG.md",
                    "common", "entry", "hooks", "plays", "plex", "stash", "sync_queue", "tasks", "worker"}
    product = {path.relative_to(ROOT).as_posix() for package in build_index.PRODUCT_PACKAGES
               for path in (ROOT / package).rglob("*.py") if "__pycache__" not in path.parts}
    assert product <= set(names)
    assert not [name for name in names if re.search(r"(^|/)(tests|devkit|bench|tools|__pycache__)/|\.pyc$", name)]
    assert names == sorted(names) and modes == {0o100644}


def test_the_index_is_a_package_list_stash_reads(tmp_path):
    index_path, zip_path, digest = build_index.build(tmp_path)
    (package,) = yaml.safe_load(index_path.read_text(encoding="utf-8"))
    assert set(package) == {"id", "name", "metadata", "version", "date", "requires", "path", "sha256"}
    assert package["id"] == "PlexSync" and package["name"] == "PlexSync"
    assert package["metadata"]["description"].startswith("Keeps Plex in step with Stash")
    assert package["version"] == VERSION and package["requires"] == []
    datetime.strptime(package["date"], "%Y-%m-%d %H:%M:%S")
    assert (index_path.parent / package["path"]).resolve() == zip_path.resolve()  # relative to the index
    assert package["sha256"] == digest == hashlib.sha256(zip_path.read_bytes()).hexdigest()


def test_the_release_date_comes_from_the_tree_not_the_clock(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764700000")
    assert build_index.release_time() == "2025-12-02 18:26:40"
