"""The durable state of PlexSync: the job queue, dead letters, sync state and drainer status.

All of it lives in one SQLite file in the data directory. This package file imports nothing, so
the hook path can import `sync_queue.rows` (standard library only) without paying for
persist-queue; the drainer and tasks import `sync_queue.stores` and the modules it opens.
"""
