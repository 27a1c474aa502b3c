"""POST /v1/datasets: validate, derive the pivot set, pre-flight, then launch a Dagster run.

Everything that can be refused is refused before the parent job exists, so a 4xx answer never
leaves a job row behind.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from protea_pipelines.errors import InputError
from protea_pipelines.export.payload import ExportPayload, describe_validation_error
from protea_pipelines.export.plan import derive_pivot_annotation_set, plan_export
from protea_pipelines.export.service import open_parent_job
from protea_pipelines.jobs.parent_job import (
    FAILED,
    LIVE_STATES,
    finish_parent_job,
    record_event,
    set_parent_meta,
)
from protea_pipelines.jobs.reaper import launcher_identity
from protea_pipelines.run_worker import create_export_run, start_worker
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.models import ParentJob


class Refused(Exception):
    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


def resolve_payload(body: dict[str, Any]) -> dict[str, Any]:
    """The job payload: the request plus its derived annotation_set_id, pre-flighted."""
    try:
        ExportPayload.model_validate(body)
    except ValidationError as error:
        raise Refused(422, describe_validation_error(error)) from None
    with session_scope() as session:
        try:
            pivot = derive_pivot_annotation_set(
                session, body["annotation_source"], body["train_versions"]
            )
        except InputError as error:
            raise Refused(422, str(error)) from None
        payload = {**body, "annotation_set_id": pivot}
        if _export_running(session, body["output_name"]):
            raise Refused(409, f"output_name: an export named {body['output_name']!r} is running")
        try:
            plan_export(session, ExportPayload.model_validate(payload))
        except InputError as error:
            raise Refused(409 if error.field == "output_name" else 422, str(error)) from None
    return payload


def launch(payload: dict[str, Any]) -> tuple[str, str]:
    """Create the parent job (queued) and its run, start the run; (job_id, run_id)."""
    try:
        job_id = open_parent_job(payload, meta=launcher_identity())
    except InputError as error:
        raise Refused(409, str(error)) from None
    try:
        run_id = create_export_run(payload, job_id)
        pid = start_worker(run_id)
    except Exception as error:
        with session_scope() as session:
            reason = f"the run could not be launched: {error}"
            record_event(session, job_id, "error", "export_launch.failed", reason)
            finish_parent_job(session, job_id, FAILED, "launch_failed", reason)
        raise
    with session_scope() as session:
        session.execute(
            update(ParentJob)
            .where(ParentJob.id == job_id, ParentJob.dagster_run_id.is_(None))
            .values(dagster_run_id=run_id)
        )
        set_parent_meta(session, job_id, launcher_pid=pid)
    return job_id, run_id


def _export_running(session: Session, output_name: str) -> bool:
    live = session.scalars(select(ParentJob.payload).where(ParentJob.status.in_(LIVE_STATES)))
    return any(payload.get("output_name") == output_name for payload in live)
