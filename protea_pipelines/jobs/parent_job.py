"""The parent job's state machine: queued -> running -> succeeded | failed | cancelled.

Every transition is one conditional UPDATE, so two writers racing to end a job cannot both win
and a job that has ended never changes again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protea_pipelines.errors import InputError
from protea_pipelines.store.models import JobEvent, ParentJob, utcnow

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
CANCELLED = "cancelled"
LIVE_STATES = (QUEUED, RUNNING)
FINAL_STATES = (SUCCEEDED, FAILED, CANCELLED)


def create_parent_job(
    session: Session,
    operation: str,
    payload: dict[str, Any],
    dagster_run_id: str | None = None,
    job_id: str | None = None,
) -> str:
    """A queued job; InputError when a live job already exports to the same output name."""
    output_name = payload.get("output_name")
    job = ParentJob(
        id=job_id or str(uuid.uuid4()),
        operation=operation,
        status=QUEUED,
        payload=payload,
        meta={},
        dagster_run_id=dagster_run_id,
        live_output_name=output_name if isinstance(output_name, str) else None,
    )
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:
        raise InputError(
            "output_name", output_name, "an export of this name is running; choose another name"
        ) from None
    return job.id


def start_parent_job(session: Session, job_id: str, progress_total: int) -> bool:
    """queued -> running with the number of children dispatched; False if not queued.

    The failure counters start at zero here, so a reader sees them on every running job.
    """
    result = session.execute(
        update(ParentJob)
        .where(ParentJob.id == job_id, ParentJob.status == QUEUED)
        .values(status=RUNNING, started_at=utcnow(), progress_total=progress_total)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    set_parent_meta(
        session,
        job_id,
        dispatched_total=progress_total,
        failed_children_count=0,
        top_error_messages=[],
    )
    return True


def finish_parent_job(
    session: Session,
    job_id: str,
    status: str,
    error_code: str | None = None,
    error_message: str | None = None,
    meta_updates: dict[str, Any] | None = None,
    run_id: str | None = None,
) -> bool:
    """End a live job once; returns False (and changes nothing) when it had ended already.

    With run_id, only while that Dagster run owns the job: a late word about a run that a
    re-execution has since replaced changes nothing.
    """
    if status not in FINAL_STATES:
        raise ValueError(f"not a final status: {status}")
    values: dict[str, Any] = {
        "status": status,
        "live_output_name": None,
        "finished_at": utcnow(),
        "error_code": error_code,
        "error_message": error_message,
    }
    if meta_updates:
        job = session.get(ParentJob, job_id)
        values["meta"] = {**(job.meta if job else {}), **meta_updates}
    statement = update(ParentJob).where(ParentJob.id == job_id, ParentJob.status.in_(LIVE_STATES))
    if run_id is not None:
        statement = statement.where(ParentJob.dagster_run_id == run_id)
    result = session.execute(statement.values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def set_parent_meta(session: Session, job_id: str, **fields: Any) -> None:
    job = session.get(ParentJob, job_id, with_for_update=True)
    if job is not None:
        job.meta = {**job.meta, **fields}
        session.flush()


def record_event(
    session: Session,
    job_id: str,
    level: str,
    name: str,
    message: str = "",
    fields: dict[str, Any] | None = None,
) -> None:
    session.add(
        JobEvent(job_id=job_id, level=level, name=name, message=message, fields=fields or {})
    )
    session.flush()


def job_as_dict(job: ParentJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "operation": job.operation,
        "status": job.status,
        "payload": job.payload,
        "meta": job.meta,
        "progress_current": job.progress_current,
        "progress_total": job.progress_total,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "error_code": job.error_code,
        "error_message": job.error_message,
        "dagster_run_id": job.dagster_run_id,
    }


def event_as_dict(event: JobEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "job_id": event.job_id,
        "ts": _iso(event.ts),
        "level": event.level,
        "name": event.name,
        "message": event.message,
        "fields": event.fields,
    }


def list_events(
    session: Session, job_id: str, offset: int = 0, limit: int = 1000
) -> list[JobEvent]:
    return list(
        session.scalars(
            select(JobEvent)
            .where(JobEvent.job_id == job_id)
            .order_by(JobEvent.id)
            .offset(offset)
            .limit(limit)
        )
    )


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC; SQLite hands timestamps back without their zone."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
