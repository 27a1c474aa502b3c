"""The store's database connections cut while children run (issue 4, B3).

The store is a fresh PostgreSQL schema with the demo data loaded. Every connection of the
export names itself with an application_name unique to this test, and only connections with
that name are ever terminated: nothing else on the shared server is touched. Each cut is aimed,
so that a child surely sees it in the middle of its work:

- while a child reads its pair's inputs: the test waits until a backend of the export runs a
  query on annotations or go_terms (or sits in that query's open transaction) and terminates it;
  it repeats, a bounded number of times, until a child.retrying event shows a child saw it;
- while a child writes its own timeline event: the test holds a lock on job_events until a
  backend of the export is waiting on an INSERT there, terminates that backend, and lets go.

Either way the connection error is transient: the child must retry and the export succeed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from protea_pipelines.demo import load_demo_data
from protea_pipelines.store.db import dispose_engines
from tests.faults.helpers import (
    Export,
    assert_complete_dataset,
    dagster_instance,
    events_of,
    export_process,
    named,
    names_of,
    of_pair,
    only_parent,
    parent_jobs,
    payload,
    wait_until,
    write_payload,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

MAX_CUTS = 6
START = "child.export_knn_batch.start"
# Backends of this test's export that are reading a pair's inputs.
INPUT_READS = text(
    """
    SELECT pid, state, left(query, 80) AS query
    FROM pg_stat_activity
    WHERE datname = current_database()
      AND pid <> pg_backend_pid()
      AND application_name = :tag
      AND query NOT ILIKE '%pg_stat_activity%'
      AND (state = 'active' OR state LIKE 'idle in transaction%')
      AND (query ILIKE '%FROM annotations%' OR query ILIKE '%FROM go_term%')
    """
)
# A backend of this test's export waiting, behind the test's lock, to insert an event.
BLOCKED_EVENT_INSERT = text(
    """
    SELECT pid, left(query, 80) AS query
    FROM pg_stat_activity
    WHERE datname = current_database()
      AND pid <> pg_backend_pid()
      AND application_name = :tag
      AND state = 'active'
      AND wait_event_type = 'Lock'
      AND query ILIKE 'INSERT INTO job_events%'
    """
)
TERMINATE = text(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE pid = :pid AND application_name = :tag AND datname = current_database()"
)


@pytest.fixture
def tagged_store(
    protea_home: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The demo data in this test's schema; every connection to it carries a unique tag."""
    tag = f"protea-fault-{uuid.uuid4().hex[:12]}"
    url = make_url(postgres_url).update_query_dict({"application_name": tag})
    monkeypatch.setenv("PROTEA_DATABASE_URL", url.render_as_string(hide_password=False))
    dispose_engines()
    load_demo_data()
    dispose_engines()
    yield tag


class Watcher:
    """The test's own connections (named apart, so it never cuts itself)."""

    def __init__(self, postgres_url: str, tag: str) -> None:
        url = make_url(postgres_url).update_query_dict({"application_name": f"{tag}-watcher"})
        self.tag = tag
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT")
        self.locker = create_engine(url)

    def terminate(self, pid: int) -> bool:
        with self.engine.connect() as connection:
            return bool(connection.execute(TERMINATE, {"pid": pid, "tag": self.tag}).scalar())

    def dispose(self) -> None:
        self.engine.dispose()
        self.locker.dispose()


def children_started() -> str | None:
    """The parent job's id once a child has started: the coordinator's reads are no target."""
    jobs = parent_jobs()
    if len(jobs) == 1 and named(events_of(jobs[0]["id"]), START):
        return str(jobs[0]["id"])
    return None


def cut_input_reads(watcher: Watcher, export: Export, job_id: str) -> list[tuple[str, str]]:
    """Terminate child backends reading inputs until a child reports a retry."""
    cuts: list[tuple[str, str]] = []
    with watcher.engine.connect() as connection:
        while export.running() and len(cuts) < MAX_CUTS:
            if named(events_of(job_id), "child.retrying"):
                break
            backend = connection.execute(INPUT_READS, {"tag": watcher.tag}).first()
            if backend is None:
                time.sleep(0.005)
                continue
            if watcher.terminate(backend.pid):
                cuts.append((backend.state, backend.query))
                # Give the child time to notice and report before aiming again.
                time.sleep(0.5)
    return cuts


def cut_an_event_write(watcher: Watcher, export: Export) -> list[tuple[str, str]]:
    """Hold job_events until a backend of the export waits to insert an event; cut it."""
    with watcher.locker.begin() as locked:
        locked.execute(text("LOCK TABLE job_events IN EXCLUSIVE MODE"))
        blocked = wait_until(
            "an event write held by the lock",
            lambda: _blocked_event_insert(watcher),
            timeout=60,
            interval=0.01,
            export=export,
        )
        assert watcher.terminate(blocked[0])
    return [("blocked", blocked[1])]


def _blocked_event_insert(watcher: Watcher) -> tuple[int, str] | None:
    with watcher.engine.connect() as connection:
        row = connection.execute(BLOCKED_EVENT_INSERT, {"tag": watcher.tag}).first()
    return (row.pid, row.query) if row else None


def run_with_cuts(
    tmp_path: Path, name: str, watcher: Watcher, cut: str
) -> tuple[int, str, list[tuple[str, str]]]:
    with export_process(write_payload(tmp_path, payload(name)), tmp_path / "x.log") as export:
        job_id = wait_until("the first child", children_started, export=export)
        if cut == "inputs":
            cuts = cut_input_reads(watcher, export, job_id)
        else:
            cuts = cut_an_event_write(watcher, export)
        rc = export.wait()
        log = export.tail()
    return rc, log, cuts


def assert_seen_and_recovered(
    name: str, rc: int, log: str, cuts: list[tuple[str, str]]
) -> dict[str, Any]:
    job = only_parent()
    events = events_of(job["id"])
    retrying = named(events, "child.retrying")
    # The cut was hit: a child saw it, said so, and was retried.
    assert cuts, "no backend of the export was ever caught at the aimed moment"
    assert retrying, (
        f"{len(cuts)} cut(s) {cuts}, no child.retrying; parent {job['status']}: "
        f"{job['error_message']}; events {names_of(events)}"
    )
    first = retrying[0]
    assert first["level"] == "warning"
    assert first["fields"]["attempt"] == 1
    assert "connection" in first["message"] or "terminating" in first["message"], first

    # And the export recovered: succeeded, complete, no child failed.
    assert rc == 0, log
    assert job["status"] == "succeeded", job
    assert job["progress_current"] == job["progress_total"] == 4
    assert job["meta"].get("failed_children_count", 0) == 0
    assert named(events, "child.failed") == []
    manifest = assert_complete_dataset(name, job["id"])
    assert manifest["missing_snapshot_pairs"] == []
    # The retried child went on to finish, once.
    pair = first["fields"]["snapshot_pair"]
    assert of_pair(events, pair).count("child.pair_knn_done") == 1, of_pair(events, pair)
    assert of_pair(events, pair).count("child.pair_features.done") == 1, of_pair(events, pair)
    with dagster_instance() as instance:
        restarted = [
            entry.step_key
            for entry in instance.all_logs(job["dagster_run_id"])
            if entry.dagster_event is not None
            and entry.dagster_event.event_type_value == "STEP_RESTARTED"
        ]
    assert restarted, "Dagster restarted the retried step"
    return first


def test_connection_cut_while_a_child_reads_its_inputs(
    tagged_store: str, postgres_url: str, tmp_path: Path
) -> None:
    watcher = Watcher(postgres_url, tagged_store)
    try:
        rc, log, cuts = run_with_cuts(tmp_path, "cut-inputs", watcher, "inputs")
    finally:
        watcher.dispose()
    first = assert_seen_and_recovered("cut-inputs", rc, log, cuts)
    assert first["fields"]["stage"] in ("knn", "features")


def test_connection_cut_while_a_child_writes_an_event(
    tagged_store: str, postgres_url: str, tmp_path: Path
) -> None:
    watcher = Watcher(postgres_url, tagged_store)
    try:
        rc, log, cuts = run_with_cuts(tmp_path, "cut-event", watcher, "event")
    finally:
        watcher.dispose()
    assert_seen_and_recovered("cut-event", rc, log, cuts)
