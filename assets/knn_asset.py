"""snapshot_knn: the KNN result of one snapshot version, as a partitioned asset.

Backfilling a range of snapshot versions computes each version's neighbours once; exports with
the same settings then reuse them (child.export_knn_batch.noop). The settings default to the
environment (PROTEA_KNN_*), so a backfill from the UI needs no config.
"""

import os

import dagster as dg
from pydantic import Field

from protea_pipelines.assets.dagster_log import QUEUE_TAG
from protea_pipelines.assets.partitions import parse_partition_key, snapshot_versions
from protea_pipelines.demo import EMBEDDING, ONTOLOGY
from protea_pipelines.errors import ProteaError
from protea_pipelines.export.plan import plan_single_pair
from protea_pipelines.export.stages import run_knn_stage
from protea_pipelines.resources.search_backend import SearchBackendResource
from protea_pipelines.store.db import session_scope


class KnnSettingsConfig(dg.Config):
    embedding_config: str = Field(
        default=os.environ.get("PROTEA_KNN_EMBEDDING_CONFIG", EMBEDDING),
        description="Embedding config of the search (PROTEA_KNN_EMBEDDING_CONFIG).",
    )
    ontology_snapshot: str = Field(
        default=os.environ.get("PROTEA_KNN_ONTOLOGY_SNAPSHOT", ONTOLOGY),
        description="GO release the queries' ground truth is read through.",
    )
    k: int = Field(default=int(os.environ.get("PROTEA_KNN_K", "5")), description="Neighbours.")
    search_backend: str = Field(
        default=os.environ.get("PROTEA_KNN_SEARCH_BACKEND", "faiss"),
        description="numpy, faiss or torch.",
    )


@dg.asset(
    key="snapshot_knn",
    partitions_def=snapshot_versions,
    op_tags={QUEUE_TAG: "protea.training.knn-batch"},
    group_name="export",
    description="Neighbours of every query of a snapshot version's lineage pair.",
)
def snapshot_knn(
    context: dg.AssetExecutionContext, config: KnnSettingsConfig, search: SearchBackendResource
) -> dg.MaterializeResult:  # type: ignore[type-arg]
    try:
        source, version = parse_partition_key(context.partition_key)
        with session_scope() as session:
            pair_settings, pair = plan_single_pair(
                session,
                source,
                version,
                config.embedding_config,
                config.ontology_snapshot,
                config.k,
                search.effective_name(config.search_backend),
            )
        result = run_knn_stage(pair_settings, pair, search.build(pair_settings.search_backend))
    except ProteaError as error:
        # Bad input (the oldest version of a source has no predecessor, an unknown name):
        # one clear line in the UI rather than a stack trace.
        raise dg.Failure(description=str(error)) from None
    verb = "reused" if result.reused else "computed"
    context.log.info(
        f"{pair.name}: {verb} neighbours of {result.n_queries} queries in {result.seconds:.2f}s"
    )
    return dg.MaterializeResult(
        metadata={
            "snapshot_pair": pair.name,
            "n_queries": result.n_queries,
            "n_neighbour_rows": result.n_neighbour_rows,
            "reused": result.reused,
            "seconds": round(result.seconds, 3),
            "path": dg.MetadataValue.path(result.path),
        }
    )


snapshot_knn_backfill = dg.define_asset_job(
    "snapshot_knn_backfill",
    selection=[snapshot_knn],
    description="Compute the KNN result of each snapshot version in a range.",
)
