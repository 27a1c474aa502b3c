"""A run cancelled while its children run (issue 4, B2).

`protea-pipelines export` runs the job with dg.execute_job in its own process, so no run
launcher can terminate it. A Dagster termination is what the launcher would do: mark the run
CANCELING in the instance, then interrupt the process that executes it. The executor then
stops the step processes and ends the run CANCELED. The parent must not stay RUNNING; for a
cancelled run the contract's status is cancelled.

A plain SIGTERM (a supervisor stopping the command, no cancellation asked for) is the second
case: while dg.execute_job runs, Dagster's interrupt handling maps SIGTERM to SIGINT, so the
run ends FAILURE ("interrupted unexpectedly") and the command goes on to end the parent
failed. Neither case may leave a step process running on its own.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.faults.helpers import (
    assert_no_dataset,
    dagster_instance,
    events_of,
    export_process,
    named,
    names_of,
    only_parent,
    parent_jobs,
    payload,
    run_status,
    wait_until,
    write_payload,
)

pytestmark = pytest.mark.slow


def child_under_way() -> tuple[str, str] | None:
    """(parent job id, run id) once a child has started its KNN."""
    jobs = parent_jobs()
    if len(jobs) != 1 or not jobs[0]["dagster_run_id"]:
        return None
    if named(events_of(jobs[0]["id"]), "child.export_knn_batch.start"):
        return jobs[0]["id"], jobs[0]["dagster_run_id"]
    return None


def test_run_cancelled_while_a_child_runs(demo_home: Path, tmp_path: Path) -> None:
    name = "cancelled-demo"
    payload_file = write_payload(tmp_path, payload(name))
    with export_process(payload_file, tmp_path / "export.log") as export:
        job_id, run_id = wait_until("a child under way", child_under_way, export=export)
        with dagster_instance() as instance:
            run = instance.get_run_by_id(run_id)
            assert run is not None
            instance.report_run_canceling(run, message="cancelled by the fault test")
        os.kill(export.pid, signal.SIGINT)
        rc = export.wait()
        log = export.tail()
        left = export.group_left()

    with dagster_instance() as instance:
        assert run_status(instance, run_id) == "CANCELED", log
    assert rc != 0, log
    # The steps were stopped with the run, not left running on their own.
    assert left == [], left
    job = only_parent()
    assert job["id"] == job_id
    assert job["status"] != "running", job
    assert job["finished_at"] is not None
    assert run_id in (job["error_message"] or ""), job
    names = names_of(events_of(job_id))
    assert "export_write.done" not in names and "export_collect.outcomes" not in names, names
    assert_no_dataset(name)
    # Checked last, so that everything above is proven whatever this says: the run was
    # cancelled, not failed, and the parent must say so (as the cancel sensor and the reaper
    # would: CANCELED -> cancelled).
    assert job["status"] == "cancelled", (job["status"], job["error_code"], job["error_message"])


def test_export_command_stopped_with_sigterm(demo_home: Path, tmp_path: Path) -> None:
    name = "sigterm-demo"
    payload_file = write_payload(tmp_path, payload(name))
    with export_process(payload_file, tmp_path / "export.log") as export:
        job_id, run_id = wait_until("a child under way", child_under_way, export=export)
        os.kill(export.pid, signal.SIGTERM)
        rc = export.wait()
        log = export.tail()
        left = export.group_left()
        # What the command leaves behind once it has exited: the run and the parent.
        with dagster_instance() as instance:
            status_at_exit = run_status(instance, run_id)
        job = only_parent()

    assert rc != 0, log
    assert left == [], left
    assert job["id"] == job_id
    assert job["status"] != "running", (job, status_at_exit, log)
    assert status_at_exit == "FAILURE", status_at_exit
    assert job["status"] == "failed", job
    assert run_id in (job["error_message"] or ""), job
    assert_no_dataset(name)
