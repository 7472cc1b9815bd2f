"""The development kit: fake Plex and fake Stash servers, a seeded world, the demo, process helpers.

Tests, benchmarks and the demo import it; the product packages never do (a test checks), and the
plugin zip that Stash installs does not contain it.
"""
