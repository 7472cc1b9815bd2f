"""`python -m devkit.fakes serve` as other processes see it: one JSON line, both fakes reachable
(plexapi lists the sections, GraphQL answers, the control API works), a clean exit on
SIGTERM — and a 100,000-scene world that comes up in bounded time and memory.
"""
from __future__ import annotations

import sys

import plexapi.server as plexapi_server
import pytest
import requests

from devkit.fakes.__main__ import launch, rss_bytes, terminate
from devkit.fakes.base import FakeControl

GiB = 1024 ** 3


def test_serve_prints_one_line_and_both_fakes_answer():
    proc, info, _ = launch("--scenes", "300", "--seed", "2", "--stash-api-key", "k3y", "--plex-latency-ms", "1")
    try:
        assert set(info) == {"stash_url", "plex_url", "plex_token", "stash_api_key", "path_map", "plex_sections"}
        assert info["stash_api_key"] == "k3y" and info["path_map"] == "/data/videos=>/media/videos"

        plex = plexapi_server.PlexServer(info["plex_url"], info["plex_token"], timeout=10)
        assert [s.title for s in plex.library.sections()] == info["plex_sections"]

        query = {"query": "query Probe { version { version } findScenes { count } }"}
        assert requests.post(f"{info['stash_url']}/graphql", json=query, timeout=10).status_code == 401
        answer = requests.post(f"{info['stash_url']}/graphql", json=query, headers={"ApiKey": "k3y"}, timeout=10)
        assert answer.json()["data"]["findScenes"]["count"] == 300

        control = FakeControl(info["stash_url"])
        assert control.counts()["POST /graphql Probe"] == 2
        edited = control.call("edit_scene", {"id": 5, "title": "From another process"})["result"]
        assert edited["title"] == "From another process"
        assert control.call("scene", {"id": 5})["result"]["updated_at"] == edited["updated_at"]
    finally:
        assert terminate(proc) == 0
    assert proc.poll() == 0


@pytest.mark.slow
def test_serve_100k_scenes_within_memory_and_deadline():
    proc, info, seconds = launch("--scenes", "100000", deadline=120.0)
    try:
        rss = rss_bytes(proc.pid)
        print(f"\nfakes with 100,000 scenes: ready in {seconds:.1f}s, RSS {rss / 2**20 if rss else float('nan'):.0f} MiB")
        count = requests.post(f"{info['stash_url']}/graphql", timeout=30,
                              json={"query": "{ findScenes(filter: {per_page: 1}) { count } }"}).json()
        assert count["data"]["findScenes"]["count"] == 100000
        if rss is None:
            pytest.skip(f"no /proc/<pid>/status on {sys.platform}: RSS not measured")
        assert rss < GiB
    finally:
        terminate(proc)


def test_serve_with_a_plugin_dir_runs_the_plugin_on_the_hooks_its_mutations_fire(tmp_path):
    from devkit.processes import processes_for, stop_processes
    from tests.helpers.install import install_plugin
    from tests.integration.e2e import wait_until

    plugin_dir = install_plugin(tmp_path)
    proc, info, _ = launch("--scenes", "30", "--seed", "3", "--plugin-dir", str(plugin_dir))
    try:
        assert info["plugin_dir"] == str(plugin_dir.resolve())
        settings = {"plex_url": info["plex_url"], "plex_token": info["plex_token"], "path_map": info["path_map"]}

        def graphql(query: str, **variables: object) -> dict:
            body = requests.post(f"{info['stash_url']}/graphql", json={"query": query, "variables": variables},
                                 timeout=120).json()
            assert not body.get("errors"), body
            return body["data"]

        graphql("mutation C($input: Map!) { configurePlugin(plugin_id: \"PlexSync\", input: $input) }", input=settings)
        plex = plexapi_server.PlexServer(info["plex_url"], info["plex_token"], timeout=10)
        movie = plex.library.section(info["plex_sections"][0]).all()[0]
        stash_path = movie.media[0].parts[0].file.replace("/media/videos", "/data/videos", 1)
        found = graphql("query F($q: String) { findScenes(filter: {q: $q}) { scenes { id } } }", q=stash_path)
        scene_id = found["findScenes"]["scenes"][0]["id"]
        graphql("mutation U($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }",
                input={"id": scene_id, "title": "Served — Ádám"})
        assert (plugin_dir / "data" / "queue.db").exists()  # the hook ran inside the mutation
        wait_until(lambda: plex.fetchItem(movie.ratingKey).title == "Served — Ádám", timeout=120,
                   message="the edit to reach Plex through the served plugin")
    finally:
        assert terminate(proc) == 0
        stop_processes(processes_for(plugin_dir / "data"), timeout=30)
