"""The writers of last resort of a parent job's end: a failure hook, run-status sensors and a
reaper sensor. Collect and write end the parent in the normal case; these cover a step that
raised, a run that failed or was cancelled, and a run whose process died.
"""

import shutil

import dagster as dg

from protea_pipelines import settings
from protea_pipelines.assets.dagster_log import PARENT_JOB_TAG
from protea_pipelines.export.service import OPERATION
from protea_pipelines.jobs.children import reopen_for_reexecution
from protea_pipelines.jobs.parent_job import (
    CANCELLED,
    FAILED,
    FINAL_STATES,
    finish_parent_job,
    record_event,
)
from protea_pipelines.jobs.reaper import Reaped, launcher_alive, reap_orphaned_parents
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.models import ParentJob


def adopt_reexecution(context: dg.OpExecutionContext, job_id: str) -> None:
    """A re-execution of the run that owned the parent job takes the job over, once."""
    run = context.run
    if run.parent_run_id is None:
        return
    previous = {run.parent_run_id, run.root_run_id or run.parent_run_id}
    with session_scope() as session:
        reopened = reopen_for_reexecution(session, job_id, context.run_id, previous)
        if reopened:
            record_event(
                session,
                job_id,
                "info",
                "export_coordinator.reopened",
                f"re-execution {context.run_id} of run {run.parent_run_id} takes the job over",
                {"run_id": context.run_id, "parent_run_id": run.parent_run_id},
            )
    if reopened:
        context.log.info(f"parent job {job_id} reopened for re-execution {context.run_id}")


def end_parent_of_run(run: dg.DagsterRun, status: str, reason: str, event: str) -> bool:
    job_id = run.tags.get(PARENT_JOB_TAG)
    if not job_id:
        return False
    with session_scope() as session:
        ended = finish_parent_job(
            session, job_id, status, "run_" + status, reason, run_id=run.run_id
        )
        if ended:
            record_event(session, job_id, "error", event, reason, {"run_id": run.run_id})
    return ended


@dg.failure_hook(name="end_parent_on_step_failure")
def end_parent_on_step_failure(context: dg.HookContext) -> None:
    """A step that raised (a bug, not bad data) fails the export at once."""
    run = context.instance.get_run_by_id(context.run_id)
    if run is None:
        return
    reason = f"step {context.step_key} failed: {context.op_exception}"
    if end_parent_of_run(run, FAILED, reason, "export_step.failed"):
        context.log.error(f"parent job {run.tags.get(PARENT_JOB_TAG)} failed: {reason}")


@dg.run_failure_sensor(
    name="export_run_failure_sensor",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
)
def export_run_failure_sensor(context: dg.RunFailureSensorContext) -> None:
    reason = f"Dagster run {context.dagster_run.run_id} failed"
    if context.failure_event.message:
        reason += f": {context.failure_event.message}"
    end_parent_of_run(context.dagster_run, FAILED, reason, "export_run.failed")


@dg.run_status_sensor(
    name="export_run_cancel_sensor",
    run_status=dg.DagsterRunStatus.CANCELED,
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=15,
)
def export_run_cancel_sensor(context: dg.RunStatusSensorContext) -> None:
    reason = f"Dagster run {context.dagster_run.run_id} was cancelled"
    end_parent_of_run(context.dagster_run, CANCELLED, reason, "export_run.cancelled")


def reap_with_instance(instance: dg.DagsterInstance) -> list[Reaped]:
    """Reap against this instance; a run whose process died is marked failed in Dagster too."""

    def status_of(run_id: str) -> str | None:
        run = instance.get_run_by_id(run_id)
        return None if run is None else run.status.value

    with session_scope() as session:
        reaped = reap_orphaned_parents(session, status_of)
    for item in reaped:
        run = instance.get_run_by_id(item.run_id) if item.run_id else None
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, message=item.reason)
    _fail_abandoned_runs(instance)
    _clear_work_of_ended_jobs()
    return reaped


def _fail_abandoned_runs(instance: dg.DagsterInstance) -> None:
    """A run whose parent job has ended and whose launcher died would hold a slot of the run
    queue for ever: mark it failed in Dagster too."""
    live = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
    runs = instance.get_runs(dg.RunsFilter(statuses=live, tags={"protea/operation": OPERATION}))
    for run in runs:
        job_id = run.tags.get(PARENT_JOB_TAG)
        with session_scope() as session:
            job = session.get(ParentJob, job_id) if job_id else None
            ended = job is not None and job.status in FINAL_STATES
            dead = job is not None and launcher_alive(job.meta or {}) is False
        if ended and dead:
            instance.report_run_failed(
                run, message=f"its parent job {job_id} has ended and its launcher died"
            )


def _clear_work_of_ended_jobs() -> None:
    """Candidate files of jobs that will never write (a failed fan-out leaves them)."""
    work = settings.protea_home() / "work"
    if not work.is_dir():
        return
    with session_scope() as session:
        for folder in work.iterdir():
            job = session.get(ParentJob, folder.name)
            if job is None or job.status in FINAL_STATES:
                shutil.rmtree(folder, ignore_errors=True)


@dg.sensor(
    name="orphaned_parent_reaper",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="End parent jobs whose Dagster run has ended, vanished or lost its process.",
)
def orphaned_parent_reaper(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    reaped = reap_with_instance(context.instance)
    if not reaped:
        return dg.SkipReason("every live parent job has a live run")
    for item in reaped:
        context.log.warning(f"parent job {item.job_id} -> {item.status}: {item.reason}")
    return dg.SkipReason(f"ended {len(reaped)} orphaned parent job(s)")
