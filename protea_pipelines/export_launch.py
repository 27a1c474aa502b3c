"""Launch an export from a payload mapping and wait for its parent job to end."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from protea_pipelines.export.service import ExportOutcome, export_in_one_step


def launch_export(payload: Mapping[str, Any]) -> ExportOutcome:
    return export_in_one_step(payload)
