"""The sensor that registers each newly loaded annotation set as a snapshot version partition."""

import dagster as dg
from sqlalchemy import func, select

from protea_pipelines.assets.partitions import snapshot_versions, unregistered_partition_keys
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.models import AnnotationSet


@dg.sensor(
    name="snapshot_version_sensor",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Add a snapshot_versions partition for each new annotation set, oldest first.",
)
def snapshot_version_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    with session_scope() as session:
        newest_id = session.scalar(select(func.max(AnnotationSet.id))) or 0
        if context.cursor and int(context.cursor) >= newest_id:
            return dg.SkipReason(f"no annotation set loaded since set id {context.cursor}")
        keys = unregistered_partition_keys(context.instance, session)
    if not keys:
        return dg.SensorResult(cursor=str(newest_id))
    context.log.info(f"registering {len(keys)} snapshot versions: {', '.join(keys)}")
    return dg.SensorResult(
        dynamic_partitions_requests=[snapshot_versions.build_add_request(keys)],
        cursor=str(newest_id),
    )
