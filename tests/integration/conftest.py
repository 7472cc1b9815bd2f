"""Fixtures of the Plex-side integration tests (a fake Plex on loopback, a PlexTarget against it)."""
from tests.integration.plex_fixtures import clock, connect, images, plex  # noqa: F401  (fixtures)
