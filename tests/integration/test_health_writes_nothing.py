"""The health check only reads: against working servers it leaves no connection file, no hook
settings snapshot behind, while a task that syncs remembers Stash (for the drainer and the hook)."""
from __future__ import annotations

from pathlib import Path

from hooks.snapshot import snapshot_path
from stash.connection import connection_path


def test_health_passes_and_writes_no_state(fakes_factory):
    fakes = fakes_factory(scenes=10)
    env = fakes.cli_env()
    assert not connection_path(fakes.data_dir).exists()

    run = fakes.run_cli("health", env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASS Stash" in run.stdout and "PASS Plex token" in run.stdout
    assert not connection_path(fakes.data_dir).exists()
    assert not Path(snapshot_path(fakes.data_dir)).exists()

    synced = fakes.run_cli("sync", env=env)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    assert connection_path(fakes.data_dir).exists() and Path(snapshot_path(fakes.data_dir)).exists()


def test_connecting_to_stash_writes_nothing_and_keeps_stash_timeouts(fakes_factory, tmp_path):
    from entry.wiring import Services
    from stash.connection import connection_from_url

    fakes = fakes_factory(scenes=3)
    services = Services(tmp_path / "data")
    session = services.connect_stash(connection_from_url(fakes.stash.url, fakes.stash.api_key or ""),
                                     {"read_timeout": 0.5, "connect_timeout": 0.25})
    try:
        assert session.settings.read_timeout == 0.5  # a Plex setting: Stash's client keeps its own
        assert session.client.timeout == (5.0, 30.0)
        assert not (tmp_path / "data").exists() or list((tmp_path / "data").iterdir()) == []
        services.remember_stash(session)
        assert connection_path(tmp_path / "data").exists() and Path(snapshot_path(tmp_path / "data")).exists()
    finally:
        session.client.close()
        services.close()
