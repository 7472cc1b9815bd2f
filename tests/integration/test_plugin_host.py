"""The fake Stash runs PlexSync as Stash does (devkit/fakes/plugin_host.py), and a person's edits
reach Plex through GraphQL alone: no test here writes hook JSON (tests/integration/test_hook_e2e.py
keeps the crafted-JSON tests of the protocol's edges).

The first test runs a probe plugin that reports what it was given, so the host's own contract
(stdin document, environment, working directory, stderr reading) is checked against S4/S5 of
../shared/REAL-SERVERS.md; the others run the real PlexSync.py of this checkout.
"""
from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterator, List

import pytest
import requests

from devkit.fakes.plugin_host import STASH_LINE_LIMIT, PluginHost, parse_stderr
from tests.integration.e2e import REPO, Fakes, plugin_env, start_fakes, wait_until

PROBE_YML = """\
name: Probe
interface: raw
exec:
  - python3
  - "{pluginDir}/probe.py"
hooks:
  - name: every scene change
    triggeredBy:
      - Scene.Update.Post
tasks:
  - name: Probe task
    defaultArgs:
      mode: probe
      kept: default
"""
PROBE_PY = """\
import json, os, sys
document = json.loads(sys.stdin.buffer.read().decode("utf-8"))
report = {"document": document, "cwd": os.getcwd(), "pythonpath": os.environ.get("PYTHONPATH")}
sys.stderr.buffer.write(b"\\x01i\\x02" + "probe ✓ Ádám".encode("utf-8") + b"\\n")
sys.stderr.buffer.write(b"\\x01p\\x020.5\\n")
sys.stdout.buffer.write(json.dumps({"output": report, "error": None}, ensure_ascii=False).encode("utf-8"))
"""
SCENE_UPDATE = "mutation SceneUpdate($input: SceneUpdateInput!) { sceneUpdate(input: $input) { id } }"
BULK_UPDATE = "mutation BulkSceneUpdate($input: BulkSceneUpdateInput!) { bulkSceneUpdate(input: $input) { id } }"


def graphql(fakes: Fakes, query: str, **variables: Any) -> Dict[str, Any]:
    response = requests.post(f"{fakes.stash.url}/graphql", json={"query": query, "variables": variables},
                             cookies={"session": fakes.stash.session_cookie}, timeout=300)
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]


@pytest.fixture
def stash(tmp_path) -> Iterator[Fakes]:
    """Fakes with PlexSync (this checkout) run by the fake Stash's plugin host, from Stash's own folder."""
    fakes = start_fakes(tmp_path, scenes=60, seed=8)
    fakes.host = PluginHost(fakes.stash, REPO, cwd=fakes.work_dir, base_env=plugin_env(fakes.data_dir)).attach()
    try:
        yield fakes
    finally:
        fakes.close()


def movies(fakes: Fakes) -> List[int]:
    world = fakes.world
    return sorted(world.matchable_ids - world.episode_ids - world.multi_file_ids)


def item(fakes: Fakes, scene_id: int) -> Dict[str, Any]:
    return fakes.plex.item(fakes.rating_keys[scene_id][0])


def test_the_host_starts_a_plugin_as_stash_does(tmp_path):
    from devkit.fakes.stash_server import FakeStashServer

    plugin_dir = tmp_path / "plugins" / "probe"
    plugin_dir.mkdir(parents=True)
    (plugin_dir / "probe.yml").write_text(PROBE_YML, encoding="utf-8")
    (plugin_dir / "probe.py").write_text(PROBE_PY, encoding="utf-8")
    stash_cwd = tmp_path / "stash-cwd"
    stash_cwd.mkdir()
    server = FakeStashServer()
    server.start()
    try:
        host = PluginHost(server, plugin_dir, cwd=stash_cwd, base_env={**os.environ, "PYTHONPATH": "/elsewhere"}).attach()
        job = graphql_raw(server, 'mutation { runPluginTask(plugin_id: "probe", task_name: "Probe task", '
                                  'args_map: {kept: "given", extra: "é"}) }')["runPluginTask"]
        run = host.wait_job(job)
    finally:
        server.stop()
    report = run.output
    assert report["cwd"] == str(stash_cwd)  # Stash sets no working directory: its own
    assert report["pythonpath"] == f"{plugin_dir.parent}{os.pathsep}/elsewhere"
    assert report["document"]["args"] == {"mode": "probe", "kept": "given", "extra": "é"}
    connection = report["document"]["server_connection"]
    assert connection["PluginDir"] == str(plugin_dir) and connection["Host"] == "0.0.0.0"
    assert connection["SessionCookie"]["Value"] == server.session_cookie
    assert run.log == [("info", "probe ✓ Ádám"), ("progress", "0.5")] and run.progress == [0.5]


def graphql_raw(server: Any, query: str) -> Dict[str, Any]:
    body = requests.post(f"{server.url}/graphql", json={"query": query},
                         cookies={"session": server.session_cookie}, timeout=60).json()
    assert not body.get("errors"), body
    return body["data"]


def test_stashs_stderr_reader_stops_at_a_line_over_64_kib():
    lines, problem = parse_stderr(b"\x01i\x02short\n" + b"x" * (STASH_LINE_LIMIT + 1) + b"\n\x01e\x02lost\n")
    assert lines == [("info", "short")] and problem == "bufio.Scanner: token too long"


def test_scene_edits_in_stash_reach_plex_through_the_hooks_stash_fires(stash):
    scene_id, *bulk = movies(stash)[:4]
    graphql(stash, SCENE_UPDATE, input={"id": str(scene_id), "title": "Edited in Stash — Ádám"})
    assert [run.output for run in stash.host.hook_runs()] == [f"queued scene {scene_id} (update)"]
    tag = sorted(stash.stash.store.tags)[0]
    graphql(stash, BULK_UPDATE, input={"ids": [str(i) for i in bulk], "tag_ids": {"ids": [str(tag)], "mode": "ADD"}})
    runs = stash.host.hook_runs()[1:]
    assert [run.args["hookContext"]["id"] for run in runs] == bulk  # one process per scene, in order
    assert all(run.output == f"queued scene {run.args['hookContext']['id']} (update)" for run in runs)
    tag_name = stash.stash.store.tags[tag].name
    wait_until(lambda: item(stash, scene_id)["title"] == "Edited in Stash — Ádám"
               and all(tag_name in item(stash, i)["genres"] for i in bulk), timeout=120,
               message="the edits to reach Plex")


def test_entity_renames_merges_and_deletes_fire_their_hooks(stash):
    run = stash.host.run_task(stash.host.task_named("sync_all"))
    assert run.error is None, run.log
    store = stash.stash.store
    carried = [(row.id, tag) for row in store.scenes() if row.id in movies(stash) for tag in row.tag_ids]
    scene_id, tag = carried[0]
    graphql(stash, "mutation T($input: TagUpdateInput!) { tagUpdate(input: $input) { id name } }",
            input={"id": str(tag), "name": "Umbenannt in Stash"})
    assert stash.host.hook_runs()[-1].output == f"queued tag {tag} (update); its scenes follow"
    wait_until(lambda: "Umbenannt in Stash" in item(stash, scene_id)["genres"], timeout=120,
               message="the renamed tag on the scene's Plex item")
    graphql(stash, "mutation D($input: TagDestroyInput!) { tagDestroy(input: $input) }", input={"id": str(tag)})
    assert stash.host.hook_runs()[-1].output == f"queued tag {tag} (destroy); its scenes follow"
    wait_until(lambda: "Umbenannt in Stash" not in item(stash, scene_id)["genres"], timeout=120,
               message="the deleted tag to leave the scene's Plex item")
    hooks = [run.args["hookContext"] for run in stash.host.hook_runs()]
    assert hooks[-2:] == [{"id": tag, "type": "Tag.Update.Post", "input": {"id": str(tag), "name": "Umbenannt in Stash"},
                           "inputFields": ["id", "name"]},
                          {"id": tag, "type": "Tag.Destroy.Post", "input": {"id": str(tag)}}]

    performer = next(p for row in store.scenes() if row.id in movies(stash) for p in row.performer_ids)
    graphql(stash, "mutation P($input: PerformerUpdateInput!) { performerUpdate(input: $input) { id } }",
            input={"id": str(performer), "name": "Björk"})
    assert stash.host.hook_runs()[-1].output == f"queued performer {performer} (update); its scenes follow"
    for kind, entity in (("studio", next(iter(store.studios))), ("group", next(iter(store.groups)))):
        query = f"mutation X($input: {kind.title()}DestroyInput!) {{ {kind}Destroy(input: $input) }}"
        graphql(stash, query, input={"id": str(entity)})
        assert stash.host.hook_runs()[-1].output == f"queued {kind} {entity} (destroy); its scenes follow"
    source, destination = sorted(store.tags)[:2]
    merged = graphql(stash, "mutation M($input: TagsMergeInput!) { tagsMerge(input: $input) { id } }",
                     input={"source": [str(source)], "destination": str(destination)})
    assert merged == {"tagsMerge": {"id": str(destination)}}
    assert stash.host.hook_runs()[-1].output == f"queued tag {destination} (merge); its scenes follow"


def test_scene_create_and_destroy_fire_their_hooks_and_tasks_run_as_jobs(stash):
    created = graphql(stash, "mutation C($input: SceneCreateInput!) { sceneCreate(input: $input) { id } }",
                      input={"title": "Neu"})["sceneCreate"]["id"]
    assert stash.host.hook_runs()[-1].args["hookContext"] == {"id": int(created), "type": "Scene.Create.Post",
                                                               "input": None}
    assert stash.host.hook_runs()[-1].output == f"queued scene {created} (create)"
    graphql(stash, "mutation D($input: SceneDestroyInput!) { sceneDestroy(input: $input) }",
            input={"id": created, "delete_file": False})
    assert stash.host.hook_runs()[-1].output == f"queued scene {created} (destroy)"
    job = graphql(stash, 'mutation { runPluginTask(plugin_id: "PlexSync", task_name: "Queue status") }')
    run = stash.host.wait_job(job["runPluginTask"])
    assert run.error is None and str(run.output).startswith("PlexSync status"), run.log
    assert json.loads(run.stdout) == {"output": run.output, "error": None}


def test_play_mutations_fire_no_hook_and_plexsyncs_own_rating_write_queues_nothing(stash):
    """Stash fires no hook for sceneAddPlay/sceneSaveActivity; PlexSync's rating write (stash.plays,
    marked with its clientMutationId) fires Scene.Update.Post, which the hook drops: no echo to Plex."""
    from common.datadir import OWN_RATING_WRITE

    scene_id = movies(stash)[0]
    graphql(stash, "mutation P($id: ID!, $t: [Timestamp!]) { sceneAddPlay(id: $id, times: $t) { count } }",
            id=str(scene_id), t=["2026-01-02T03:04:05Z"])
    graphql(stash, "mutation A($id: ID!) { sceneSaveActivity(id: $id, resume_time: 12.5) }", id=str(scene_id))
    assert stash.host.hook_runs() == []
    graphql(stash, SCENE_UPDATE, input={"id": str(scene_id), "rating100": 80, "clientMutationId": OWN_RATING_WRITE})
    (run,) = stash.host.hook_runs()
    assert run.args["hookContext"]["input"]["clientMutationId"] == OWN_RATING_WRITE
    assert "queued" not in (run.output or "")
    graphql(stash, SCENE_UPDATE, input={"id": str(scene_id), "rating100": 60})
    assert stash.host.hook_runs()[-1].output == f"queued scene {scene_id} (update)"
