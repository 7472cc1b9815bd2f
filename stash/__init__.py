"""The Stash side: connection details, the GraphQL client, scene mapping and settings.

Only this package imports stashapi; it hands back `common.models.Scene` and raises the error
classes of `common.errors`, so nothing else needs to know how Stash answers.
"""
