"""The drainer: one background process that takes due jobs from the queue and syncs them.

`launcher` (standard library only, imported by hooks) starts it detached; `drainer` holds the
single-drainer lock and runs a `SyncWorker` thread until the queue has been empty for a while.
This package file imports nothing, so `import worker.launcher` stays cheap.
"""
