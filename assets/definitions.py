"""The code location: every Dagster object of protea-pipelines in one Definitions."""

from __future__ import annotations

import dagster as dg

from protea_pipelines.assets.export_job import export_research_dataset
from protea_pipelines.assets.knn_asset import snapshot_knn, snapshot_knn_backfill
from protea_pipelines.assets.orphans import (
    export_run_cancel_sensor,
    export_run_failure_sensor,
    orphaned_parent_reaper,
)
from protea_pipelines.assets.schedules import build_schedule, schedule_settings
from protea_pipelines.assets.sensors import snapshot_version_sensor
from protea_pipelines.resources.search_backend import SearchBackendResource

defs = dg.Definitions(
    assets=[snapshot_knn],
    jobs=[export_research_dataset, snapshot_knn_backfill],
    sensors=[
        snapshot_version_sensor,
        export_run_failure_sensor,
        export_run_cancel_sensor,
        orphaned_parent_reaper,
    ],
    schedules=[build_schedule(schedule_settings())],
    resources={"search": SearchBackendResource()},
)
