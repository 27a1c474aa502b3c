"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from protea_pipelines.export.payload import ExportPayload

# The request is the payload minus annotation_set_id, which the API derives; its fields (and
# their descriptions) come from the payload model so the two cannot drift apart. The payload
# model's own validators run on the derived payload.
DatasetRequest: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "DatasetRequest",
    __config__=ConfigDict(strict=True, extra="forbid", frozen=True),
    __doc__="The export payload without annotation_set_id, which the API derives.",
    **{
        name: (info.annotation, info)
        for name, info in ExportPayload.model_fields.items()
        if name != "annotation_set_id"
    },
)


class LaunchResponse(BaseModel):
    job_id: str
    run_id: str
    status: str


class JobResponse(BaseModel):
    id: str
    operation: str
    status: str
    progress_current: int
    progress_total: int
    payload: dict[str, Any]
    meta: dict[str, Any]
    error: dict[str, Any] | None = Field(description="Error code and message of a failed job.")
    dagster_run_id: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None


class EventResponse(BaseModel):
    id: int
    ts: str | None
    level: str
    name: str
    message: str
    fields: dict[str, Any]


class EventPage(BaseModel):
    job_id: str
    offset: int
    limit: int
    total: int
    events: list[EventResponse]


class ErrorResponse(BaseModel):
    detail: str | list[dict[str, Any]]
