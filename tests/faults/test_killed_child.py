"""A child step killed with SIGKILL in the middle of its KNN search (issue 4, B1), then the
failed run re-executed from its failure.

The KNN is made slow enough to hit by a second embedding config, saved with the real loader:
the demo's accessions with 8192 random dimensions, searched with the numpy backend.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pytest

from protea_pipelines.store.db import session_scope
from protea_pipelines.store.embedding_store import load_embeddings, save_embeddings
from tests.faults.helpers import (
    PAIRS,
    assert_complete_dataset,
    assert_no_dataset,
    dagster_instance,
    events_of,
    export_process,
    named,
    of_pair,
    only_parent,
    parent_jobs,
    payload,
    reexecute_from_failure,
    run_status,
    started_steps,
    step_events,
    step_pid,
    wait_until,
    write_payload,
)

pytestmark = pytest.mark.slow

WIDE_CONFIG = "kmer3-wide-8192"
WIDE_DIM = 8192
NAME = "killed-mid-knn"


def add_wide_embedding_config() -> None:
    accessions = load_embeddings("kmer3-320").accessions
    vectors = np.random.default_rng(4).standard_normal((len(accessions), WIDE_DIM), np.float32)
    with session_scope() as session:
        save_embeddings(session, WIDE_CONFIG, accessions, vectors, model="random, for tests")


def test_child_killed_mid_knn_then_reexecuted_from_failure(demo_home: Path, tmp_path: Path) -> None:
    add_wide_embedding_config()
    data = payload(NAME, embedding_config=WIDE_CONFIG, search_backend="numpy")
    payload_file = write_payload(tmp_path, data)

    with export_process(payload_file, tmp_path / "export.log") as export:

        def a_knn_under_way() -> tuple[str, str, int] | None:
            jobs = only_parent_or_none()
            if jobs is None or not jobs["dagster_run_id"]:
                return None
            events = events_of(jobs["id"])
            for start in named(events, "child.export_knn_batch.start"):
                pair = start["fields"]["snapshot_pair"]
                key = next(k for k, p in PAIRS.items() if p == pair)
                if key.startswith("train_"):
                    with dagster_instance() as instance:
                        pid = step_pid(instance, jobs["dagster_run_id"], f"knn_batch[{key}]")
                    if pid:
                        return jobs["dagster_run_id"], key, pid
            return None

        # Killed at once: the KNN stage of this step (inputs, then the search) takes over a
        # second at 8192 dimensions, so the step is surely inside it; the events prove it below.
        run_id, key, pid = wait_until("a train child's KNN", a_knn_under_way, export=export)
        pair = PAIRS[key]
        os.kill(pid, signal.SIGKILL)
        killed_job = only_parent()
        rc = export.wait()
        log = export.tail()

    # The kill landed mid-KNN: the child had started its KNN and never finished it.
    events = events_of(killed_job["id"])
    assert of_pair(events, pair) == ["child.export_knn_batch.start"], of_pair(events, pair)
    assert rc == 1, log

    with dagster_instance() as instance:
        assert run_status(instance, run_id) == "FAILURE"
        failed = [
            e.step_key for e in step_events(instance, run_id, dg.DagsterEventType.STEP_FAILURE)
        ]
        assert f"knn_batch[{key}]" in failed

    # The parent did not stay RUNNING: it failed, and says which run (and step) ended it.
    job = only_parent()
    assert job["status"] == "failed", job
    assert job["dagster_run_id"] == run_id
    assert job["finished_at"] is not None
    assert run_id in (job["error_message"] or ""), job["error_message"]
    assert job["progress_current"] < 4
    failed_events = events_of(job["id"])
    assert_no_dataset(NAME)

    # Re-execute from the failure: the killed child runs again, the others are reused.
    new_run_id, success = reexecute_from_failure(run_id, tmp_path / "reexecute.log")
    assert success
    job = only_parent()
    assert job["status"] == "succeeded", job
    assert job["dagster_run_id"] == new_run_id
    assert job["progress_current"] == job["progress_total"] == 4
    assert job["error_code"] is None and job["error_message"] is None
    manifest = assert_complete_dataset(NAME, job["id"])
    assert manifest["missing_snapshot_pairs"] == []
    assert sorted(manifest["train_snapshot_pairs"] + manifest["eval_snapshot_pairs"]) == sorted(
        PAIRS.values()
    )

    events = events_of(job["id"])
    reopened = named(events, "export_coordinator.reopened")
    assert [e["fields"] for e in reopened] == [{"run_id": new_run_id, "parent_run_id": run_id}]
    # The killed child computed its KNN in the re-execution, once; every child counted once.
    assert of_pair(events, pair) == [
        "child.export_knn_batch.start",
        "child.export_knn_batch.start",
        "child.export_knn_batch.done",
        "child.pair_knn_done",
        "child.pair_features.done",
    ]
    assert len(named(events, "child.pair_knn_done")) == 4
    assert named(events, "export_write.done")[-1]["fields"]["path"].endswith(NAME)
    with dagster_instance() as instance:
        assert run_status(instance, new_run_id) == "SUCCESS"
        rerun = started_steps(instance, new_run_id)
    # Children that had finished were not run again: their outputs were reused.
    assert sorted(s for s in rerun if s.startswith(("knn_batch", "pair_features"))) == [
        f"knn_batch[{key}]",
        f"pair_features[{key}]",
    ]
    assert rerun[-2:] == ["collect_export", "write_export"]

    # Checked last, so that the steps above are proven whatever this says: the person who
    # follows the timeline must see the first run's end too, as an error event naming the run.
    enders = [e for e in failed_events if e["level"] == "error" and run_id in e["message"]]
    assert enders, [(e["name"], e["level"], e["message"]) for e in failed_events]


def only_parent_or_none() -> dict[str, Any] | None:
    jobs = parent_jobs()
    return jobs[0] if len(jobs) == 1 else None
