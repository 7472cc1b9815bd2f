"""PlexSync's version: one number for the manifest, the plugin index, `--version` and the changelog.

tests/unit/test_version.py keeps PlexSync.yml, pyproject.toml and CHANGELOG.md equal to it.
"""
VERSION = "0.3.0"
