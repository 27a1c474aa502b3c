"""The event timeline of a parent job: each event is a row, and optionally a Dagster log line.

Each event is committed on its own, so the timeline survives a step that dies right after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from protea_pipelines.jobs.parent_job import record_event
from protea_pipelines.store.db import session_scope

Forward = Callable[[str, str, str, dict[str, Any]], None]
logger = logging.getLogger("protea_pipelines.timeline")


class Timeline:
    """Write named events (export_coordinator.dispatching, child.export_knn_batch.done ...)."""

    def __init__(self, job_id: str, forward: Forward | None = None) -> None:
        self.job_id = job_id
        self.forward = forward

    def emit(self, name: str, message: str = "", level: str = "info", **fields: Any) -> None:
        with session_scope() as session:
            record_event(session, self.job_id, level, name, message, fields)
        if self.forward is not None:
            self.forward(level, name, message, fields)
        else:
            logger.log(logging.getLevelName(level.upper()), "%s %s %s", name, message, fields)
