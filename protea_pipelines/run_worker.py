"""Start a Dagster run of the export in a process of its own, for launchers that cannot wait.

The launcher creates the run (so it can answer with its id at once) and this worker executes
it: `python -m protea_pipelines.run_worker RUN_ID`.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import Any

from protea_pipelines.dagster_home import ensure_dagster_home
from protea_pipelines.export_launch import PARENT_JOB_TAG, export_job_definition, outcome_of
from protea_pipelines.jobs.parent_job import FAILED, finish_parent_job, record_event
from protea_pipelines.store.db import session_scope


def create_export_run(payload: Mapping[str, Any], job_id: str) -> str:
    """Record a not-yet-started run of export_research_dataset; returns its run id."""
    import dagster as dg

    ensure_dagster_home()
    run_config = {
        "ops": {"export_coordinator": {"config": dict(payload)}},
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    }
    job = dg.reconstructable(export_job_definition)
    with dg.DagsterInstance.get() as instance:
        run = instance.create_run_for_job(
            job_def=job.get_definition(),
            run_config=run_config,
            tags={PARENT_JOB_TAG: job_id},
            job_code_origin=job.get_python_origin(),
        )
        return run.run_id


def start_worker(run_id: str) -> int:
    """Start the worker in its own session (it outlives the request); returns its pid."""
    process = subprocess.Popen(
        [sys.executable, "-m", "protea_pipelines.run_worker", run_id],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    # Wait for it in the background: an unwaited child stays a zombie, which looks alive to
    # the reaper's liveness check.
    threading.Thread(target=process.wait, name=f"run-worker-{run_id}", daemon=True).start()
    return process.pid


def execute_created_run(run_id: str) -> bool:
    import dagster as dg
    from dagster._core.execution.api import execute_run

    ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(run_id)
        if run is None:
            raise SystemExit(f"no Dagster run {run_id}")
        job_id = run.tags.get(PARENT_JOB_TAG)
        try:
            result = execute_run(dg.reconstructable(export_job_definition), run, instance)
        except Exception as error:
            _fail_parent(job_id, f"run {run_id} could not start: {error}")
            raise
    if job_id:
        # A run can end without its steps ending the parent (a killed step): end it here.
        outcome_of(job_id, run_id)
    return result.success


def _fail_parent(job_id: str | None, reason: str) -> None:
    if not job_id:
        return
    with session_scope() as session:
        if finish_parent_job(session, job_id, FAILED, "launch_failed", reason):
            record_event(session, job_id, "error", "export_launch.failed", reason)


if __name__ == "__main__":
    sys.exit(0 if execute_created_run(sys.argv[1]) else 1)
