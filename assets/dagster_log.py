"""Forward timeline events to the Dagster event log of the run, so the UI shows them too."""

from __future__ import annotations

import json
from typing import Any

import dagster as dg

from protea_pipelines.export_launch import PARENT_JOB_TAG
from protea_pipelines.jobs.timeline import Forward, Timeline

QUEUE_TAG = "dagster-celery/queue"
__all__ = ["PARENT_JOB_TAG", "QUEUE_TAG", "forward_to", "timeline_for"]


def forward_to(context: dg.OpExecutionContext) -> Forward:
    def forward(level: str, name: str, message: str, fields: dict[str, Any]) -> None:
        details = json.dumps(fields, sort_keys=True, default=str) if fields else ""
        line = " ".join(part for part in (f"{name}:", message, details) if part)
        if level == "error":
            context.log.error(line)
        elif level == "warning":
            context.log.warning(line)
        else:
            context.log.info(line)

    return forward


def timeline_for(context: dg.OpExecutionContext, job_id: str) -> Timeline:
    return Timeline(job_id, forward_to(context))
