"""Sync state (what was last written per scene) and the drainer status a `status` task reads."""
from common.models import SyncRecord
from sync_queue.drainer_status import PauseRecord
from sync_queue.stores import open_stores


def test_sync_state_put_get_delete(tmp_path):
    with open_stores(tmp_path) as stores:
        state = stores.sync_state
        assert state.get(1) is None and state.last_synced_at() is None
        record = SyncRecord(1, 2, 345, "abc", "http://stash/scene/1/screenshot", "p1", "a1", 100.0)
        state.put(record)
        state.put(SyncRecord(2, 2, 346, "def", synced_at=200.0))
        assert state.get(1) == record and state.last_synced_at() == 200.0
        state.put(SyncRecord(1, 2, 345, "xyz", synced_at=300.0))
        assert state.get(1).metadata_hash == "xyz" and state.count() == 2
        state.delete(1)
        assert state.get(1) is None and state.count() == 1


def test_sync_state_survives_reopening(tmp_path):
    with open_stores(tmp_path) as stores:
        stores.sync_state.put(SyncRecord(9, 1, 10, "h", synced_at=5.0))
    with open_stores(tmp_path) as stores:
        assert stores.sync_state.get(9).rating_key == 10


def test_drainer_status_read_typed(tmp_path):
    with open_stores(tmp_path) as stores:
        status = stores.status
        status.record_started(4242, 10.0)
        status.record_config_error("plex_token is not set: Settings → Plugins → PlexSync", 11.0)
        state = status.read()
        assert state.pid == 4242 and state.stopped_at is None
        assert state.config_error == PauseRecord("plex_token is not set: Settings → Plugins → PlexSync", 11.0)
        status.record_config_error(None, 12.0)
        status.record_stopped(13.0)
        assert status.get("config_error") is None and status.get("stopped_at") == 13.0
        assert status.get("missing", "default") == "default"
