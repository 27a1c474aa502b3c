"""The HTTP API over real HTTP on loopback: refusals before any job row exists, tokens for
writes (and for reads when asked), a launch that runs to succeeded and reads back, and the
pivot annotation set derived the same way by the API and by a run launched without it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest

from protea_pipelines.export.payload import FIELD_DESCRIPTIONS
from tests.api import (
    ONTOLOGY,
    SOURCE,
    TEST,
    TOKEN,
    TRAIN,
    ApiServer,
    kill_group_or_process,
    process_state,
    request_body,
    wait_for_job,
)
from tests.api.conftest import StartApi

EXPORT_JOB = "export_research_dataset"
PARENT_JOB_TAG = "protea/parent_job_id"
PAIRS = len(TRAIN) + len(TEST)


def assert_no_job_rows(server: ApiServer) -> None:
    assert server.parent_jobs() == []


# --- The schema -------------------------------------------------------------------------------


def test_openapi_schema_carries_the_payload_descriptions(shared_api: ApiServer) -> None:
    response = shared_api.client(token=None).get("/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert set(schema["paths"]) == {
        "/v1/datasets",
        "/v1/jobs/{job_id}",
        "/v1/jobs/{job_id}/events",
        "/v1/datasets/{name}",
    }
    post = schema["paths"]["/v1/datasets"]["post"]
    reference = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    request = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]
    expected = {name: text for name, text in FIELD_DESCRIPTIONS.items()}
    del expected["annotation_set_id"]
    assert {name: prop.get("description") for name, prop in request["properties"].items()} == (
        expected
    )
    assert request["additionalProperties"] is False
    assert set(request["required"]) == {
        "output_name",
        "embedding_config",
        "annotation_source",
        "ontology_snapshot",
        "train_versions",
    }
    assert {"202", "401", "403", "409", "422"} <= set(post["responses"])
    schemes = schema["components"]["securitySchemes"]
    assert [s["scheme"].lower() for s in schemes.values()] == ["bearer"]
    assert post["security"] == [{name: []} for name in schemes]


# --- Refusals: each leaves no job row ---------------------------------------------------------


def test_write_without_a_token_is_401(shared_api: ApiServer) -> None:
    response = shared_api.client(token=None).post("/v1/datasets", json=request_body("no-token"))
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "missing bearer token"}
    assert response.headers["www-authenticate"] == "Bearer"
    assert_no_job_rows(shared_api)


def test_write_with_a_wrong_token_is_401(shared_api: ApiServer) -> None:
    response = shared_api.client(token=TOKEN + "x").post(
        "/v1/datasets", json=request_body("wrong-token")
    )
    assert response.status_code == 401, response.text
    assert response.json() == {"detail": "invalid bearer token"}
    assert_no_job_rows(shared_api)


@pytest.mark.parametrize(
    ("source", "train", "version"),
    [
        (SOURCE, [20091231, 20301231], "20301231"),  # max(train_versions) not loaded
        ("goa_worm", [20091231], "20091231"),  # a source with no sets at all
    ],
)
def test_no_pivot_set_is_422_naming_source_and_version(
    shared_api: ApiServer, source: str, train: list[int], version: str
) -> None:
    body = request_body("no-pivot", annotation_source=source, train_versions=train)
    body["test_versions"] = []
    response = shared_api.client().post("/v1/datasets", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert repr(source) in detail and repr(version) in detail, detail
    assert detail.startswith("annotation_set_id:"), detail
    assert_no_job_rows(shared_api)
    assert shared_api.worker_pids() == []


@pytest.mark.parametrize("extra", ["annotation_set_id", "bogus"])
def test_an_extra_field_is_422(shared_api: ApiServer, extra: str) -> None:
    # Even the right pivot id is refused: the API derives it, a client never sends it.
    value = shared_api.annotation_set_id(SOURCE, max(TRAIN))
    response = shared_api.client().post(
        "/v1/datasets", json={**request_body("extra-field"), extra: value}
    )
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", extra]
    assert problem["type"] == "extra_forbidden"
    assert_no_job_rows(shared_api)


@pytest.mark.parametrize(
    "name",
    ["", "..", "a/b", "-leading-dash", "x" * 201, "trailing-newline\n", "new\nline"],
    ids=["empty", "dotdot", "slash", "leading-dash", "too-long", "trailing-newline", "newline"],
)
def test_an_unsafe_output_name_is_422(shared_api: ApiServer, name: str) -> None:
    # The ontology is unknown too, so an output_name that slipped through validation is told
    # apart by the field the 422 names, without launching anything.
    body = request_body(name, ontology_snapshot="no-such-ontology")
    response = shared_api.client().post("/v1/datasets", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail.startswith("output_name:"), detail
    assert_no_job_rows(shared_api)


def test_a_name_taken_by_a_folder_is_409(shared_api: ApiServer) -> None:
    (shared_api.home / "datasets" / "taken-folder").mkdir(parents=True)
    response = shared_api.client().post("/v1/datasets", json=request_body("taken-folder"))
    assert response.status_code == 409, response.text
    assert response.json()["detail"].startswith("output_name:")
    assert_no_job_rows(shared_api)


def test_unknown_other_names_are_422_naming_the_field(shared_api: ApiServer) -> None:
    client = shared_api.client()
    for field, value in (("embedding_config", "nope"), ("ontology_snapshot", "nope")):
        response = client.post("/v1/datasets", json=request_body("unknown", **{field: value}))
        assert response.status_code == 422, response.text
        assert response.json()["detail"].startswith(f"{field}:"), response.text
    assert_no_job_rows(shared_api)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/jobs/00000000-0000-0000-0000-000000000000",
        "/v1/jobs/00000000-0000-0000-0000-000000000000/events",
        "/v1/datasets/no-such-dataset",
    ],
)
def test_unknown_job_or_dataset_is_404_and_reads_are_open(shared_api: ApiServer, path: str) -> None:
    response = shared_api.client(token=None).get(path)
    assert response.status_code == 404, response.text
    assert isinstance(response.json()["detail"], str)


def test_writes_are_403_without_a_server_token(start_api: StartApi) -> None:
    server = start_api(env={"PROTEA_API_TOKEN": None})
    response = server.client(token=TOKEN).post("/v1/datasets", json=request_body("no-server"))
    assert response.status_code == 403, response.text
    assert "PROTEA_API_TOKEN" in response.json()["detail"]
    assert_no_job_rows(server)
    # Reads stay open.
    assert server.client(token=None).get("/v1/jobs/x").status_code == 404


def test_protected_reads_need_the_token(start_api: StartApi) -> None:
    server = start_api(env={"PROTEA_API_PROTECT_READS": "1"})
    paths = ["/v1/jobs/x", "/v1/jobs/x/events", "/v1/datasets/x"]
    for path in paths:
        missing = server.client(token=None).get(path)
        assert missing.status_code == 401, (path, missing.text)
        assert missing.headers["www-authenticate"] == "Bearer"
        assert server.client(token="wrong").get(path).status_code == 401, path
        assert server.client(token=TOKEN).get(path).status_code == 404, path
    assert server.client(token=None).get("/openapi.json").status_code == 200


def test_protected_reads_without_a_server_token_are_403(start_api: StartApi) -> None:
    server = start_api(env={"PROTEA_API_PROTECT_READS": "1", "PROTEA_API_TOKEN": None})
    response = server.client(token="anything").get("/v1/jobs/x")
    assert response.status_code == 403, response.text
    assert "PROTEA_API_TOKEN" in response.json()["detail"]


# --- A launch ---------------------------------------------------------------------------------


def dagster_instance(home: Path) -> dg.DagsterInstance:
    return dg.DagsterInstance.from_config(str(home / "dagster"))


def all_events(server: ApiServer, job_id: str) -> dict[str, Any]:
    response = server.client().get(f"/v1/jobs/{job_id}/events", params={"limit": 1000})
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


@pytest.mark.slow
def test_launch_runs_to_succeeded_and_reads_back(api: ApiServer) -> None:
    client = api.client()
    body = request_body("api-demo")
    pivot = api.annotation_set_id(SOURCE, max(TRAIN))
    assert pivot != api.annotation_set_id(SOURCE, TRAIN[-1])  # max, not the last listed
    assert pivot != api.annotation_set_id(SOURCE, TEST[0])

    started = time.monotonic()
    response = client.post("/v1/datasets", json=body)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert set(answer) == {"job_id", "run_id", "status"}
    assert answer["status"] == "queued"
    job_id, run_id = answer["job_id"], answer["run_id"]

    # The name is in use while the export runs: 409, and still one job.
    again = client.post("/v1/datasets", json=body)
    assert again.status_code == 409, again.text
    assert "output_name" in again.json()["detail"]

    (row,) = api.parent_jobs()
    assert row["id"] == job_id
    assert row["dagster_run_id"] == run_id
    assert row["payload"] == {
        **body,
        "failure_ratio": 1.0,
        "expand_votes_to_ancestors": False,
        "annotation_set_id": pivot,
    }

    # The run is a real Dagster run on the instance under DAGSTER_HOME, tagged with the job.
    with dagster_instance(api.home) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        assert run.job_name == EXPORT_JOB
        assert run.tags[PARENT_JOB_TAG] == job_id
        run_config: dict[str, Any] = dict(run.run_config)
        assert run_config["ops"]["export_coordinator"]["config"] == row["payload"]

    job = wait_for_job(client, job_id, ("succeeded", "failed", "cancelled"))
    elapsed = time.monotonic() - started
    assert job["status"] == "succeeded", (job, api.log()[-4000:])
    assert job["id"] == job_id and job["operation"] == EXPORT_JOB
    assert job["dagster_run_id"] == run_id
    assert job["progress_current"] == job["progress_total"] == PAIRS
    assert job["error"] is None
    dataset = api.home / "datasets" / body["output_name"]
    assert job["meta"]["dataset_path"] == str(dataset)
    assert job["meta"]["dispatched_total"] == PAIRS
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]
    # The parent job ends inside the write step; the Dagster run ends a moment later.
    with dagster_instance(api.home) as instance:
        deadline = time.monotonic() + 30
        run = instance.get_run_by_id(run_id)
        while run is not None and not run.is_finished and time.monotonic() < deadline:
            time.sleep(0.2)
            run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS

    # The timeline, oldest first: the store's rows in id order, start to write.
    page = all_events(api, job_id)
    events = page["events"]
    assert page["job_id"] == job_id and page["offset"] == 0 and page["limit"] == 1000
    assert page["total"] == len(events) == len(api.event_rows(job_id))
    assert [(e["id"], e["name"], e["message"]) for e in events] == api.event_rows(job_id)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    stamps = [e["ts"] for e in events]
    assert stamps == sorted(stamps)
    names = [e["name"] for e in events]
    assert names[:2] == ["export_coordinator.start", "export_coordinator.dispatching"]
    assert names[-2:] == ["export_collect.outcomes", "export_write.done"]
    assert names.count("child.pair_features.done") == PAIRS
    assert events[0]["fields"]["run_id"] == run_id

    # Paging: small pages read back the same sequence; past the end is empty.
    paged: list[dict[str, Any]] = []
    offset = 0
    while True:
        response = client.get(f"/v1/jobs/{job_id}/events", params={"offset": offset, "limit": 3})
        assert response.status_code == 200, response.text
        chunk = response.json()
        assert chunk["total"] == page["total"] and chunk["offset"] == offset
        assert len(chunk["events"]) <= 3
        if not chunk["events"]:
            break
        paged.extend(chunk["events"])
        offset += len(chunk["events"])
    assert paged == events
    assert offset == page["total"]
    beyond = client.get(f"/v1/jobs/{job_id}/events", params={"offset": 10_000, "limit": 5})
    assert beyond.status_code == 200
    assert beyond.json()["events"] == [] and beyond.json()["total"] == page["total"]
    for bad in ({"offset": -1}, {"limit": 0}, {"limit": 1001}):
        refused = client.get(f"/v1/jobs/{job_id}/events", params=bad)
        assert refused.status_code == 422, (bad, refused.text)

    # The dataset's manifest as on disk, with the derived pivot.
    manifest = json.loads((dataset / "manifest.json").read_text())
    served = client.get(f"/v1/datasets/{body['output_name']}")
    assert served.status_code == 200, served.text
    assert served.json() == manifest
    assert manifest["annotation_set_id"] == pivot
    assert manifest["name"] == body["output_name"]
    assert manifest["search_backend"] == "numpy"

    # The name is taken now that the dataset exists: 409, and still one job.
    taken = client.post("/v1/datasets", json=body)
    assert taken.status_code == 409, taken.text
    assert taken.json()["detail"].startswith("output_name:")
    assert [job["id"] for job in api.parent_jobs()] == [job_id]
    assert elapsed < 240


@pytest.mark.slow
def test_a_killed_worker_is_seen_dead_and_its_job_reaped(
    api: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that dies mid-run must not look alive: the reaper then ends its parent job.

    The worker is the API server's child; until the server waits for it, it stays a zombie,
    which a kill(pid, 0) probe takes for a live process.
    """
    from protea_pipelines.assets.orphans import reap_with_instance
    from protea_pipelines.jobs.reaper import launcher_alive

    client = api.client()
    response = client.post("/v1/datasets", json=request_body("killed-worker"))
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    job = wait_for_job(client, job_id, ("running", "succeeded", "failed"), timeout_s=120)
    assert job["status"] == "running", job
    pid = job["meta"]["launcher_pid"]
    assert pid in api.worker_pids()
    kill_group_or_process(pid)

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and process_state(pid) not in (None, "Z"):
        time.sleep(0.2)
    time.sleep(2)
    # The test process shares PID namespace and host with the server, as the reaper would.
    state = process_state(pid)
    assert launcher_alive(job["meta"]) is False, f"worker {pid} is in state {state!r}"

    with dagster_instance(api.home) as instance:
        reaped = reap_with_instance(instance)
    assert [item.job_id for item in reaped] == [job_id]
    ended = wait_for_job(client, job_id, ("failed", "cancelled", "succeeded"), timeout_s=5)
    assert ended["status"] == "failed"
    assert "died" in ended["error"]["message"]


@pytest.mark.slow
def test_a_run_launched_without_the_pivot_derives_the_same_set(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Dagster UI path: run config without annotation_set_id, executed in process."""
    from protea_pipelines.api import launch
    from protea_pipelines.assets.definitions import defs
    from protea_pipelines.dagster_home import ensure_dagster_home
    from protea_pipelines.export import plan

    # One function for both launchers: the router calls the very function the pre-flight does.
    assert launch.derive_pivot_annotation_set is plan.derive_pivot_annotation_set

    monkeypatch.setenv("PROTEA_EXPORT_MINIJOBS", "1")
    calls: list[tuple[str, list[int], int]] = []
    derive = plan.derive_pivot_annotation_set

    def spy(session: Any, source: str, train_versions: list[int]) -> int:
        result = derive(session, source, train_versions)
        calls.append((source, list(train_versions), result))
        return result

    monkeypatch.setattr(plan, "derive_pivot_annotation_set", spy)
    body = request_body("ui-demo")
    assert "annotation_set_id" not in body
    ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def(EXPORT_JOB).execute_in_process(
            run_config={"ops": {"export_coordinator": {"config": body}}},
            instance=instance,
            raise_on_error=False,
        )
    assert result.success

    connection = sqlite3.connect(demo_home / "protea.db")
    try:
        (expected,) = connection.execute(
            "SELECT id FROM annotation_sets WHERE source = ? AND source_version = ?",
            (SOURCE, str(max(TRAIN))),
        ).fetchone()
    finally:
        connection.close()
    manifest = json.loads((demo_home / "datasets" / "ui-demo" / "manifest.json").read_text())
    assert manifest["annotation_set_id"] == expected
    assert manifest["ontology_snapshot"] == ONTOLOGY
    assert calls and all(call == (SOURCE, TRAIN, expected) for call in calls), calls
    assert os.environ["PROTEA_EXPORT_MINIJOBS"] == "1"


@pytest.mark.slow
def test_a_failed_export_reports_its_error_and_children(api: ApiServer) -> None:
    # Without the embedding matrix every child fails; failure_ratio 1.0 fails the export.
    (api.home / "embeddings" / "kmer3-320" / "vectors.npy").unlink()
    client = api.client()
    response = client.post("/v1/datasets", json=request_body("no-vectors"))
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    job = wait_for_job(client, job_id, ("succeeded", "failed", "cancelled"))
    assert job["status"] == "failed", job
    assert job["error"]["code"] == "children_failed", job
    assert job["error"]["message"].startswith(f"{PAIRS} of {PAIRS} children failed: "), job
    assert job["meta"]["failed_children_count"] == PAIRS
    top = job["meta"]["top_error_messages"]
    assert len(top) in (1, 2, 3) and all(isinstance(m, str) and m for m in top), top
    assert job["finished_at"] is not None
    names = [e["name"] for e in all_events(api, job_id)["events"]]
    assert names[0] == "export_coordinator.start"
    assert "export_write.done" not in names
    assert not (api.home / "datasets" / "no-vectors").exists()
    missing = client.get("/v1/datasets/no-vectors")
    assert missing.status_code == 404, missing.text


def post_at_once(server: ApiServer, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    """POST every body at the same moment, one thread and connection each."""
    barrier = threading.Barrier(len(bodies))
    headers = {"Authorization": f"Bearer {TOKEN}"}

    def post(body: dict[str, Any]) -> httpx.Response:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
            barrier.wait(timeout=30)
            return client.post("/v1/datasets", json=body)

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(post, bodies))


@pytest.mark.slow
def test_concurrent_launches_of_one_name_start_one_export(api: ApiServer) -> None:
    """Requests racing for one output_name: one is accepted, the others get 409."""
    with dagster_instance(api.home) as instance:  # the run storage exists before the race
        assert instance.get_runs(limit=1) == []
    responses = post_at_once(api, [request_body("raced-name")] * 4)
    codes = sorted(response.status_code for response in responses)
    summary = [(j["id"], j["status"]) for j in api.parent_jobs()]
    assert codes == [202, 409, 409, 409], (codes, summary)
    assert len(summary) == 1, summary


@pytest.mark.slow
def test_concurrent_first_launches_on_a_fresh_instance_are_accepted(api: ApiServer) -> None:
    """The first launches on a DAGSTER_HOME whose storage does not exist yet, at once: each
    is accepted (no 500) and leaves exactly its own job."""
    assert not (api.home / "dagster" / "storage").exists()
    names = [f"fresh-{i}" for i in range(3)]
    responses = post_at_once(api, [request_body(name) for name in names])
    answers = [(response.status_code, response.text[:160]) for response in responses]
    jobs = api.parent_jobs()
    assert [code for code, _ in answers] == [202] * 3, (answers, api.log()[-3000:])
    assert sorted(job["payload"]["output_name"] for job in jobs) == names
    assert all(job["status"] in ("queued", "running") for job in jobs), jobs
