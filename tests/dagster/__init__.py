"""Tests of the Dagster layer, and the helpers they share.

Every test runs against a real Dagster instance on the temporary DAGSTER_HOME that the
protea_home fixture sets (PROTEA_HOME/dagster), and reads the parent job and its events from
the store of the same PROTEA_HOME.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from sqlalchemy import select

from protea_pipelines.dagster_home import ensure_dagster_home
from protea_pipelines.jobs.parent_job import event_as_dict, job_as_dict, list_events
from protea_pipelines.ontology import clear_ontology_cache
from protea_pipelines.store.db import dispose_engines, session_scope
from protea_pipelines.store.models import ParentJob

REPO_ROOT = Path(__file__).resolve().parents[2]
EXPORT_JOB = "export_research_dataset"
PARENT_JOB_TAG = "protea/parent_job_id"
GATE = "PROTEA_EXPORT_MINIJOBS"
VERSION_KEYS = [
    "goa_yeast.20041231",
    "goa_yeast.20091231",
    "goa_yeast.20141231",
    "goa_yeast.20200616",
    "goa_yeast.20210408",
]
# A timeline event as the Dagster log shows it: "<name>: <message> <fields as JSON>".
EVENT_LINE = re.compile(r"^((?:export|child)[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+):(?:\s|$)")


@contextmanager
def dagster_instance() -> Iterator[dg.DagsterInstance]:
    """The instance of the current DAGSTER_HOME, set up the way the project's CLIs set it up."""
    ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        yield instance


def export_job() -> dg.JobDefinition:
    from protea_pipelines.assets.definitions import defs

    return defs.resolve_job_def(EXPORT_JOB)


def payload_config(payload: dict[str, Any]) -> dict[str, Any]:
    return {"ops": {"export_coordinator": {"config": payload}}}


def run_export(
    instance: dg.DagsterInstance, run_config: dict[str, Any] | None = None
) -> dg.ExecuteInProcessResult:
    """One export in this process; a failed run is returned, not raised."""
    return export_job().execute_in_process(
        run_config=run_config, instance=instance, raise_on_error=False
    )


def parent_of_run(run_id: str) -> dict[str, Any]:
    """The parent job row of a Dagster run (exactly one must exist)."""
    with session_scope() as session:
        jobs = session.scalars(select(ParentJob).where(ParentJob.dagster_run_id == run_id)).all()
        assert len(jobs) == 1, f"{len(jobs)} parent jobs for run {run_id}"
        return job_as_dict(jobs[0])


def parent_jobs() -> list[dict[str, Any]]:
    with session_scope() as session:
        return [job_as_dict(job) for job in session.scalars(select(ParentJob))]


def events_of(job_id: str) -> list[dict[str, Any]]:
    """The parent job's event rows, oldest first."""
    with session_scope() as session:
        return [event_as_dict(event) for event in list_events(session, job_id)]


def names_of(events: list[dict[str, Any]]) -> list[str]:
    return [event["name"] for event in events]


def the_event(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [event for event in events if event["name"] == name]
    assert len(found) == 1, f"{len(found)} {name} events in {names_of(events)}"
    return found[0]


def dagster_event_names(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Names of the timeline events forwarded to the run's Dagster event log, in order."""
    names = []
    for entry in instance.all_logs(run_id):
        match = EVENT_LINE.match(entry.user_message or "")
        if match:
            names.append(match[1])
    return names


def started_steps(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    entries = instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_START)
    return [entry.step_key or "" for entry in entries]


def use_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Point this process at another PROTEA_HOME (and its DAGSTER_HOME)."""
    monkeypatch.setenv("PROTEA_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    dispose_engines()
    clear_ontology_cache()


def copy_demo_home(template: Path, target: Path) -> Path:
    shutil.copytree(template, target)
    return target


def set_gate(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(GATE, raising=False)
    else:
        monkeypatch.setenv(GATE, value)
    assert os.environ.get(GATE) == value


def assert_fanout_timeline(events: list[dict[str, Any]], mapping_versions: list[int]) -> None:
    """The parent's timeline of a fan-out export that succeeded, every child's KNN computed
    or reused: names, counts and order."""
    names = names_of(events)
    n = len(mapping_versions)
    assert names[:2] == ["export_coordinator.start", "export_coordinator.dispatching"], names
    assert names[-2:] == ["export_collect.outcomes", "export_write.done"], names
    child = names[2:-2]
    assert all(name.startswith("child.") for name in child), names
    assert "child.failed" not in names
    assert names.count("child.export_knn_batch.start") == n
    assert names.count("child.pair_knn_done") == n
    assert names.count("child.pair_features.done") == n
    knn_ends = names.count("child.export_knn_batch.done") + names.count(
        "child.export_knn_batch.noop"
    )
    assert knn_ends == n
    assert len(child) == 4 * n, names
    for version in mapping_versions:
        own = [
            event["name"]
            for event in events
            if event["name"].startswith("child.export_knn_batch")
            and event["fields"].get("version") == version
        ]
        assert len(own) == 2 and own[0] == "child.export_knn_batch.start", (version, own)
    # Each child's events in its own order: start, done or noop, pair_knn_done, features done.
    by_pair: dict[str, list[str]] = {}
    for event in events[2:-2]:
        by_pair.setdefault(event["fields"]["snapshot_pair"], []).append(event["name"])
    assert len(by_pair) == n
    for pair, sequence in by_pair.items():
        assert sequence[0] == "child.export_knn_batch.start", (pair, sequence)
        assert sequence[1] in ("child.export_knn_batch.done", "child.export_knn_batch.noop")
        assert sequence[2:] == ["child.pair_knn_done", "child.pair_features.done"], sequence
    progress = [
        e["fields"]["progress_current"] for e in events if e["name"] == "child.pair_knn_done"
    ]
    assert sorted(progress) == list(range(1, n + 1))
    totals = {e["fields"]["progress_total"] for e in events if e["name"] == "child.pair_knn_done"}
    assert totals == {n}
