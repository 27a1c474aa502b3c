"""The PROTEA_EXPORT_MINIJOBS gate and the coordinator's pre-flight.

Unset and "0" export in one step, "1" fans out, and all three write byte-identical files from
the bundled data. Any other gate value, and an unknown search backend in the payload or on the
resource, fail in the coordinator before any child starts, with the parent job FAILED.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from protea_pipelines.demo import demo_payload
from tests.dagster import (
    GATE,
    copy_demo_home,
    dagster_event_names,
    dagster_instance,
    events_of,
    names_of,
    parent_jobs,
    parent_of_run,
    payload_config,
    run_export,
    set_gate,
    started_steps,
    the_event,
    use_home,
)

FILES = ("train.parquet", "eval.parquet", "manifest.json")
BACKENDS = "numpy, faiss, torch"


def _export_in_fresh_home(
    home: Path, monkeypatch: pytest.MonkeyPatch, gate: str | None
) -> dict[str, Any]:
    use_home(monkeypatch, home)
    set_gate(monkeypatch, gate)
    with dagster_instance() as instance:
        result = run_export(instance, payload_config(demo_payload("gate-check")))
        assert result.success, gate
        job = parent_of_run(result.run_id)
        return {
            "job": job,
            "events": events_of(job["id"]),
            "steps": started_steps(instance, result.run_id),
            "dagster_events": dagster_event_names(instance, result.run_id),
            "files": {
                name: (home / "datasets" / "gate-check" / name).read_bytes() for name in FILES
            },
        }


@pytest.mark.slow
def test_gate_values_choose_the_path_and_write_the_same_bytes(
    demo_home_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, protea_home: Path
) -> None:
    runs = {
        gate or "unset": _export_in_fresh_home(
            copy_demo_home(demo_home_template, tmp_path / f"home-{gate or 'unset'}"),
            monkeypatch,
            gate,
        )
        for gate in (None, "0", "1")
    }
    for gate in ("unset", "0"):
        run = runs[gate]
        names = names_of(run["events"])
        assert names[:2] == ["export_coordinator.start", "export_coordinator.legacy_delegate"]
        delegate = the_event(run["events"], "export_coordinator.legacy_delegate")
        assert delegate["level"] == "info"
        assert delegate["fields"] == {"n_pairs": 4}
        assert names[-1] == "export_research_dataset.done"
        assert not [n for n in names if n.startswith("child.")], names
        assert "export_coordinator.dispatching" not in names
        assert run["steps"] == ["export_coordinator", "collect_export", "write_export"], gate
        assert run["dagster_events"] == names
        assert run["job"]["status"] == "succeeded"
        assert run["job"]["progress_current"] == run["job"]["progress_total"] == 4, gate

    fanout = runs["1"]
    names = names_of(fanout["events"])
    assert "export_coordinator.legacy_delegate" not in names
    assert names.count("child.export_knn_batch.start") == 4
    assert sum(step.startswith("knn_batch[") for step in fanout["steps"]) == 4
    assert fanout["job"]["status"] == "succeeded"

    digests = {
        gate: {name: hashlib.sha256(data).hexdigest() for name, data in run["files"].items()}
        for gate, run in runs.items()
    }
    assert digests["unset"] == digests["0"] == digests["1"], digests
    assert all(len(run["files"]["train.parquet"]) > 1000 for run in runs.values())


def _assert_failed_in_coordinator(
    instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult
) -> dict[str, Any]:
    """The run failed in the coordinator's step, no child started, the parent is FAILED with
    one export_coordinator.failed event; returns that event."""
    assert not result.success
    assert started_steps(instance, result.run_id) == ["export_coordinator"]
    failures = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    assert [entry.step_key for entry in failures] == ["export_coordinator"]
    assert len(parent_jobs()) == 1
    job = parent_of_run(result.run_id)
    assert job["status"] == "failed"
    assert job["finished_at"] is not None
    assert job["progress_current"] == 0
    events = events_of(job["id"])
    names = names_of(events)
    assert names[0] == "export_coordinator.start"
    assert "export_coordinator.dispatching" not in names
    assert "export_coordinator.legacy_delegate" not in names
    assert not [n for n in names if n.startswith("child.")], names
    failed = the_event(events, "export_coordinator.failed")
    assert failed["level"] == "error"
    assert job["error_message"] == failed["message"]
    assert "export_coordinator.failed" in dagster_event_names(instance, result.run_id)
    return failed


@pytest.mark.parametrize("value", ["2", "yes"])
def test_invalid_gate_value_fails_the_run(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    set_gate(monkeypatch, value)
    with dagster_instance() as instance:
        result = run_export(instance)
        failed = _assert_failed_in_coordinator(instance, result)
    assert GATE in failed["message"]
    assert repr(value) in failed["message"]
    assert "accepted: 0, 1" in failed["message"]
    assert failed["fields"]["field"] == GATE
    assert not (demo_home / "datasets").exists()


@pytest.mark.parametrize("gate", ["1", None])
def test_unknown_backend_in_the_payload_fails_in_the_coordinator(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch, gate: str | None
) -> None:
    set_gate(monkeypatch, gate)
    payload = {**demo_payload(), "search_backend": "FAISS"}
    with dagster_instance() as instance:
        result = run_export(instance, payload_config(payload))
        failed = _assert_failed_in_coordinator(instance, result)
    assert "search_backend" in failed["message"]
    assert "FAISS" in failed["message"]
    assert BACKENDS in failed["message"]
    assert not (demo_home / "datasets").exists()
    assert not (demo_home / "knn").exists()


@pytest.mark.parametrize("gate", ["1", None])
def test_unknown_backend_on_the_resource_fails_in_the_coordinator(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch, gate: str | None
) -> None:
    set_gate(monkeypatch, gate)
    # Only the resource is configured: the payload is the launchpad's default (the demo's).
    run_config = {"resources": {"search": {"config": {"backend": "FAISS"}}}}
    with dagster_instance() as instance:
        result = run_export(instance, run_config)
        failed = _assert_failed_in_coordinator(instance, result)
    assert failed["fields"]["field"] == "search_backend"
    assert failed["fields"]["value"] == "FAISS"
    assert failed["fields"]["accepted"] == BACKENDS
    assert "search_backend" in failed["message"] and BACKENDS in failed["message"]
    assert not (demo_home / "datasets").exists()
    assert not (demo_home / "knn").exists()


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        (
            {"train_versions": [20091231, 20300101]},
            "train_versions",
            ["20300101", "snapshot version not loaded", "20041231, 20091231"],
        ),
        (
            {"test_versions": [20041231]},
            "test_versions",
            ["20041231", "no predecessor"],
        ),
        (
            {"embedding_config": "kmer9-999"},
            "embedding_config",
            ["'kmer9-999'", "accepted: kmer3-320"],
        ),
        ({"output_name": "taken"}, "output_name", ["'taken'", "exists already"]),
        ({"output_name": "../escape"}, "output_name", ["'../escape'", "one path segment"]),
    ],
    ids=["unknown-version", "no-predecessor", "unknown-embedding", "name-taken", "unsafe-name"],
)
def test_preflight_rejects_what_would_fail_every_child(
    demo_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, Any],
    field: str,
    expected: list[str],
) -> None:
    set_gate(monkeypatch, "1")
    (demo_home / "datasets" / "taken").mkdir(parents=True)
    with dagster_instance() as instance:
        result = run_export(instance, payload_config({**demo_payload(), **change}))
        failed = _assert_failed_in_coordinator(instance, result)
    assert failed["message"].startswith(f"{field}: "), failed["message"]
    for text in expected:
        assert text in failed["message"], (text, failed["message"])
    assert sorted(path.name for path in (demo_home / "datasets").iterdir()) == ["taken"]
    assert not (demo_home / "knn").exists()
