"""Backfill snapshot_knn over a range of snapshot versions on the local Dagster instance.

One run per version, in registration (= version) order, each tagged with its partition and
the backfill's id, as a Dagster UI backfill of the same job would launch them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from protea_pipelines.dagster_home import ensure_dagster_home
from protea_pipelines.errors import InputError
from protea_pipelines.store.db import session_scope

# The console logger at INFO: the timeline and step results, without the engine's DEBUG lines.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


@dataclass(frozen=True)
class BackfillRun:
    partition: str
    run_id: str
    success: bool


def knn_backfill_job() -> Any:
    from protea_pipelines.assets.definitions import defs

    return defs.resolve_job_def("snapshot_knn_backfill")


def partitions_in_range(instance: Any, first: str, last: str) -> list[str]:
    from protea_pipelines.assets.partitions import snapshot_versions

    keys = instance.get_dynamic_partitions(snapshot_versions.name)
    for field, key in (("--from", first), ("--to", last)):
        if key not in keys:
            raise InputError(field, key, "not a registered snapshot version", keys or "none")
    start, end = keys.index(first), keys.index(last)
    if start > end:
        raise InputError("--to", last, f"comes before {first} in registration order")
    return list(keys[start : end + 1])


def backfill_knn(
    first: str, last: str, run_config: dict[str, Any] | None = None
) -> list[BackfillRun]:
    import dagster as dg

    from protea_pipelines.assets.partitions import register_snapshot_partitions

    ensure_dagster_home()
    backfill_id = f"protea-{uuid.uuid4().hex[:8]}"
    runs = []
    with dg.DagsterInstance.get() as instance:
        with session_scope() as session:
            register_snapshot_partitions(instance, session)
        for key in partitions_in_range(instance, first, last):
            result = dg.execute_job(
                dg.reconstructable(knn_backfill_job),
                instance=instance,
                run_config={**QUIET_LOGS, **(run_config or {})},
                tags={"dagster/partition": key, "dagster/backfill": backfill_id},
            )
            runs.append(BackfillRun(key, result.run_id, result.success))
    return runs
