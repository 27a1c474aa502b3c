"""The export_research_dataset job: coordinator -> knn_batch -> pair_features -> collect -> write.

Steps run in their own processes, started from a forkserver that has the code location
preloaded, so a child does not pay a full interpreter start and import.
"""

from __future__ import annotations

import dagster as dg

from protea_pipelines.assets.children import knn_batch, pair_features
from protea_pipelines.assets.collect import collect_export, write_export
from protea_pipelines.assets.coordinator import export_coordinator
from protea_pipelines.assets.orphans import end_parent_on_step_failure
from protea_pipelines.demo import demo_payload

PRELOADED_MODULES = ["protea_pipelines.assets.definitions"]

export_executor = dg.multiprocess_executor.configured(
    {
        "max_concurrent": 2,
        "start_method": {"forkserver": {"preload_modules": PRELOADED_MODULES}},
    },
    name="protea_multiprocess",
)


def demo_run_config() -> dict[str, object]:
    """The launchpad's default: the bundled demo export."""
    return {"ops": {"export_coordinator": {"config": demo_payload()}}}


@dg.job(
    name="export_research_dataset",
    executor_def=export_executor,
    config=demo_run_config(),
    tags={"protea/operation": "export_research_dataset"},
    hooks={end_parent_on_step_failure},
    description="Export train.parquet, eval.parquet and manifest.json for a set of versions.",
)
def export_research_dataset() -> None:
    ticket, pairs = export_coordinator()
    outcomes = pairs.map(knn_batch).map(pair_features)
    write_export(collect_export(ticket, outcomes.collect()))
