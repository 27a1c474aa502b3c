"""The FastAPI application: datasets and jobs under /v1."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Query, status
from sqlalchemy import func, select

from protea_pipelines import __version__
from protea_pipelines.api.auth import require_reader, require_writer
from protea_pipelines.api.launch import Refused, launch, resolve_payload
from protea_pipelines.api.schemas import (
    DatasetRequest,
    ErrorResponse,
    EventPage,
    EventResponse,
    JobResponse,
    LaunchResponse,
)
from protea_pipelines.jobs.parent_job import event_as_dict, job_as_dict, list_events
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.models import Dataset, JobEvent, ParentJob

logger = logging.getLogger(__name__)
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 403, 404, 409, 410, 422, 503)
}


def create_app() -> FastAPI:
    app = FastAPI(
        title="protea-pipelines",
        version=__version__,
        description="Launch research-dataset exports and follow their parent jobs.",
    )

    @app.post(
        "/v1/datasets",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=LaunchResponse,
        responses=ERRORS,
        dependencies=[Depends(require_writer)],
        summary="Launch an export of a research dataset",
    )
    def create_dataset(request: DatasetRequest) -> LaunchResponse:  # type: ignore[valid-type]
        try:
            payload = resolve_payload(request.model_dump())  # type: ignore[attr-defined]
        except Refused as refused:
            raise HTTPException(refused.status_code, refused.detail) from None
        try:
            job_id, run_id = launch(payload)
        except Refused as refused:
            raise HTTPException(refused.status_code, refused.detail) from None
        except Exception as error:
            logger.exception("launch of %s failed", payload["output_name"])
            raise HTTPException(503, f"the export could not be launched: {error}") from None
        return LaunchResponse(job_id=job_id, run_id=run_id, status="queued")

    @app.get(
        "/v1/jobs/{job_id}",
        response_model=JobResponse,
        responses=ERRORS,
        dependencies=[Depends(require_reader)],
        summary="A parent job: status, progress, meta and error",
    )
    def get_job(job_id: str) -> JobResponse:
        with session_scope() as session:
            job = session.get(ParentJob, job_id)
            if job is None:
                raise HTTPException(404, f"no parent job {job_id}")
            data = job_as_dict(job)
        error = None
        if data["error_code"] or data["error_message"]:
            error = {"code": data["error_code"], "message": data["error_message"]}
        return JobResponse(error=error, **{k: v for k, v in data.items() if k in JOB_FIELDS})

    @app.get(
        "/v1/jobs/{job_id}/events",
        response_model=EventPage,
        responses=ERRORS,
        dependencies=[Depends(require_reader)],
        summary="The timeline of a parent job, oldest first",
    )
    def get_job_events(
        job_id: str,
        offset: int = Query(0, ge=0, le=10_000_000),
        limit: int = Query(100, ge=1, le=1000),
    ) -> EventPage:
        with session_scope() as session:
            if session.get(ParentJob, job_id) is None:
                raise HTTPException(404, f"no parent job {job_id}")
            total = session.scalar(
                select(func.count()).select_from(JobEvent).where(JobEvent.job_id == job_id)
            )
            events = [event_as_dict(e) for e in list_events(session, job_id, offset, limit)]
        return EventPage(
            job_id=job_id,
            offset=offset,
            limit=limit,
            total=int(total or 0),
            events=[EventResponse(**{k: e[k] for k in EVENT_FIELDS}) for e in events],
        )

    @app.get(
        "/v1/datasets/{name}",
        responses=ERRORS,
        dependencies=[Depends(require_reader)],
        summary="The manifest of a finished dataset",
    )
    def get_dataset(name: str) -> dict[str, Any]:
        with session_scope() as session:
            dataset = session.scalar(select(Dataset).where(Dataset.name == name))
            if dataset is None:
                raise HTTPException(404, f"no dataset named {name!r}")
            path = dataset.path
        try:
            with open(f"{path}/manifest.json") as handle:
                manifest: dict[str, Any] = json.load(handle)
        except FileNotFoundError:
            raise HTTPException(
                410, f"dataset {name!r} is registered but its files are gone"
            ) from None
        return manifest

    return app


JOB_FIELDS = {
    "id",
    "operation",
    "status",
    "progress_current",
    "progress_total",
    "payload",
    "meta",
    "dagster_run_id",
    "created_at",
    "started_at",
    "finished_at",
}
EVENT_FIELDS = ("id", "ts", "level", "name", "message", "fields")
