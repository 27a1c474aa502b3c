"""The export's front door: open the parent job, validate and plan, run, end the job.

The Dagster coordinator calls the same pieces; `export_in_one_step` runs everything here
without Dagster (used by tests and scripts).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from protea_pipelines.errors import InputError, PayloadError, ProteaError
from protea_pipelines.export.one_step import run_export_in_one_step
from protea_pipelines.export.payload import ExportPayload, describe_validation_error
from protea_pipelines.export.plan import ExportPlan, plan_export
from protea_pipelines.jobs.parent_job import (
    FAILED,
    SUCCEEDED,
    create_parent_job,
    finish_parent_job,
    set_parent_meta,
    start_parent_job,
)
from protea_pipelines.jobs.timeline import Forward, Timeline
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.models import ParentJob

OPERATION = "export_research_dataset"
MAX_PAYLOAD_BYTES = 1_000_000


@dataclass(frozen=True)
class ExportOutcome:
    job_id: str
    status: str
    dataset_path: str | None
    error: str | None


def open_parent_job(
    payload_data: Mapping[str, Any],
    dagster_run_id: str | None = None,
    job_id: str | None = None,
    meta: dict[str, Any] | None = None,
) -> str:
    # Stored as JSON whatever the caller read (YAML turns 2024-05-01 into a date); the
    # payload model still judges the values as given.
    stored = json.loads(json.dumps(_json_keys(dict(payload_data)), default=str))
    size = len(json.dumps(stored))
    if size > MAX_PAYLOAD_BYTES:
        raise InputError(
            "payload",
            f"{size} bytes",
            "too large to be an export payload",
            accepted=f"at most {MAX_PAYLOAD_BYTES} bytes as JSON",
        )
    with session_scope() as session:
        new_id = create_parent_job(
            session, OPERATION, stored, dagster_run_id=dagster_run_id, job_id=job_id
        )
        if meta:
            set_parent_meta(session, new_id, **meta)
        return new_id


def adopt_parent_job(
    payload_data: Mapping[str, Any], dagster_run_id: str, job_id: str | None
) -> str:
    """The parent job a launcher created for this run (tagged on it), or a new one."""
    if job_id:
        with session_scope() as session:
            job = session.get(ParentJob, job_id)
            if job is not None:
                job.dagster_run_id = dagster_run_id
                return job.id
    return open_parent_job(payload_data, dagster_run_id=dagster_run_id, job_id=job_id)


def validate_and_plan(
    payload_data: Mapping[str, Any], timeline: Timeline, search_backend: str | None = None
) -> ExportPlan:
    """Pre-flight: on any rejection, emit export_coordinator.failed, end the parent, raise."""
    try:
        payload = ExportPayload.model_validate(dict(payload_data))
    except ValidationError as error:
        reason = describe_validation_error(error)
        fields = sorted({".".join(str(p) for p in e["loc"]) or "payload" for e in error.errors()})
        fail_parent(timeline, PayloadError.code, reason, "export_coordinator.failed", fields=fields)
        raise PayloadError(reason) from None
    try:
        with session_scope() as session:
            return plan_export(session, payload, search_backend)
    except InputError as error:
        reject_input(timeline, error)
        raise


def reject_input(timeline: Timeline, error: InputError) -> None:
    """A pre-flight rejection: export_coordinator.failed with the field, value and accepted."""
    fail_parent(
        timeline,
        error.code,
        str(error),
        "export_coordinator.failed",
        field=error.field,
        value=_jsonable(error.value),
        accepted=error.accepted,
    )


def fail_parent(timeline: Timeline, code: str, message: str, event: str, **fields: Any) -> None:
    timeline.emit(event, message, level="error", error_code=code, **fields)
    with session_scope() as session:
        finish_parent_job(session, timeline.job_id, FAILED, code, message)


def export_in_one_step(
    payload_data: Mapping[str, Any], forward: Forward | None = None
) -> ExportOutcome:
    """Run a whole export in this process; the parent job ends SUCCEEDED or FAILED."""
    job_id = open_parent_job(payload_data)
    timeline = Timeline(job_id, forward)
    try:
        plan = validate_and_plan(payload_data, timeline)
    except ProteaError as error:
        return ExportOutcome(job_id, FAILED, None, str(error))
    return run_planned_in_one_step(plan, timeline)


def run_planned_in_one_step(plan: ExportPlan, timeline: Timeline) -> ExportOutcome:
    job_id = timeline.job_id
    with session_scope() as session:
        start_parent_job(session, job_id, progress_total=len(plan.pairs))
    started = time.perf_counter()
    try:
        written = run_export_in_one_step(plan, job_id, timeline)
    except BaseException as error:
        code = error.code if isinstance(error, ProteaError) else type(error).__name__
        message = str(error) or f"interrupted ({type(error).__name__})"
        fail_parent(timeline, code, message, "export_research_dataset.failed")
        if not isinstance(error, ProteaError):
            raise
        return ExportOutcome(job_id, FAILED, None, str(error))
    with session_scope() as session:
        finish_parent_job(
            session,
            job_id,
            SUCCEEDED,
            meta_updates={"dataset_path": str(written.path), **written.manifest["row_counts"]},
        )
    timeline.emit(
        "export_research_dataset.done",
        f"dataset {plan.payload.output_name} written in {time.perf_counter() - started:.1f}s",
        path=str(written.path),
        seconds=round(time.perf_counter() - started, 3),
    )
    return ExportOutcome(job_id, SUCCEEDED, str(written.path), None)


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None), list)) else repr(value)


def _json_keys(value: Any) -> Any:
    """Mapping keys as strings at every level (YAML reads 2024-05-01: as a date key)."""
    if isinstance(value, Mapping):
        return {str(key): _json_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_keys(item) for item in value]
    return value
