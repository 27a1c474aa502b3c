"""Launch export_research_dataset on the local Dagster instance and wait for it to end.

The parent job is created first and handed to the run as a tag, so that a run which Dagster
refuses at launch (bad config) still ends its parent job with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from protea_pipelines.dagster_home import ensure_dagster_home
from protea_pipelines.errors import PayloadError
from protea_pipelines.export.payload import ExportPayload, describe_validation_error
from protea_pipelines.export.service import ExportOutcome, open_parent_job
from protea_pipelines.jobs.parent_job import (
    CANCELLED,
    FAILED,
    LIVE_STATES,
    finish_parent_job,
    record_event,
)
from protea_pipelines.jobs.reaper import launcher_identity
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.models import ParentJob

PARENT_JOB_TAG = "protea/parent_job_id"


def export_job_definition() -> Any:
    """The job as the code location defines it (with its resources), for reconstruction."""
    from protea_pipelines.assets.definitions import defs

    return defs.resolve_job_def("export_research_dataset")


def launch_export(payload: Mapping[str, Any]) -> ExportOutcome:
    import dagster as dg

    ensure_dagster_home()
    job_id = open_parent_job(payload, meta=launcher_identity())
    # Dagster's own config check would answer first, in its type grammar and without the
    # value: judge the payload with the export's model so the person reads the same message
    # on every path.
    try:
        ExportPayload.model_validate(dict(payload))
    except ValidationError as error:
        reason = describe_validation_error(error)
        _refuse(job_id, reason)
        return ExportOutcome(job_id, FAILED, None, reason)
    run_config = {
        "ops": {"export_coordinator": {"config": dict(payload)}},
        "loggers": {"console": {"config": {"log_level": "INFO"}}},
    }
    try:
        with dg.DagsterInstance.get() as instance:
            result = dg.execute_job(
                dg.reconstructable(export_job_definition),
                instance=instance,
                run_config=run_config,
                tags={PARENT_JOB_TAG: job_id},
            )
            run_id = result.run_id
    except dg.DagsterInvalidConfigError as error:
        reason = "; ".join(e.message for e in error.errors) or str(error)
        _refuse(job_id, reason)
        return ExportOutcome(job_id, FAILED, None, reason)
    except Exception as error:
        # The code location itself failed to load or launch (a bad schedule file, say): the
        # job must not stay queued holding its output name.
        reason = f"the run could not be launched: {type(error).__name__}: {error}"
        _refuse(job_id, reason, code="launch_failed")
        return ExportOutcome(job_id, FAILED, None, reason)
    return outcome_of(job_id, run_id)


def _refuse(job_id: str, reason: str, code: str = PayloadError.code) -> None:
    with session_scope() as session:
        record_event(session, job_id, "error", "export_coordinator.failed", reason)
        finish_parent_job(session, job_id, FAILED, code, reason)


def outcome_of(job_id: str, run_id: str) -> ExportOutcome:
    """Read the parent job after its run; a run that ended without ending it ends it here."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(run_id)
        run_status = run.status if run is not None else None
    with session_scope() as session:
        job = session.get(ParentJob, job_id)
        assert job is not None
        if job.status in LIVE_STATES:
            cancelled = run_status == dg.DagsterRunStatus.CANCELED
            status = CANCELLED if cancelled else FAILED
            state = run_status.value if run_status is not None else "missing"
            reason = f"Dagster run {run_id} ended ({state}) before the export finished"
            if finish_parent_job(session, job_id, status, "run_ended", reason, run_id=run_id):
                event = "export_run.cancelled" if cancelled else "export_run.failed"
                record_event(session, job_id, "error", event, reason, {"run_id": run_id})
            session.refresh(job)
        return ExportOutcome(
            job.id, job.status, (job.meta or {}).get("dataset_path"), job.error_message
        )
