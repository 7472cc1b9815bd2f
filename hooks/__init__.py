"""The hook fast path: Stash's hookContext → a queue job, decided without any network request.

Stash runs the plugin synchronously on every scene save (N times for a bulk edit of N scenes),
so this package imports the standard library only and never talks to Stash or Plex.
"""
