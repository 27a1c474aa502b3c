"""The mapped children of the fan-out: knn_batch, then pair_features, once per version.

Children return outcomes instead of raising on bad data: a mapped step that raises stops
Dagster's collect, and the parent would never hear of the others. Only bugs raise.
"""

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg

from protea_pipelines import settings
from protea_pipelines.assets.dagster_log import QUEUE_TAG, timeline_for
from protea_pipelines.assets.orphans import adopt_reexecution
from protea_pipelines.assets.partitions import partition_key
from protea_pipelines.assets.tasks import ChildOutcome, PairTask
from protea_pipelines.errors import ProteaError, is_transient
from protea_pipelines.export.stages import (
    KnnStageResult,
    run_candidate_stage,
    run_knn_stage,
    save_candidates,
)
from protea_pipelines.jobs.children import report_child_failure, update_parent_progress
from protea_pipelines.jobs.timeline import Timeline
from protea_pipelines.resources.search_backend import SearchBackendResource
from protea_pipelines.store.db import session_scope

KNN_ASSET = dg.AssetKey("snapshot_knn")
MAX_TRANSIENT_RETRIES = 3


def handle_child_error(
    context: dg.OpExecutionContext, timeline: Timeline, task: PairTask, stage: str, error: Exception
) -> ChildOutcome:
    """Turn a child's error into its outcome, a retry, or (for a bug) a step failure.

    Transient errors are retried with exponential backoff; after the last try, and for bad
    data at once, the child fails and reports to its parent. Anything else is a bug and raises.
    """
    if is_transient(error):
        if context.retry_number < MAX_TRANSIENT_RETRIES:
            wait = 2.0**context.retry_number
            message = (
                f"{task.pair.name}: transient error, retry {context.retry_number + 1} "
                f"in {wait:.0f}s: {error}"
            )
            try:
                timeline.emit(
                    "child.retrying",
                    message,
                    level="warning",
                    stage=stage,
                    snapshot_pair=task.pair.name,
                    attempt=context.retry_number + 1,
                )
            except Exception as emit_error:
                # The store may be what is failing: the retry must not depend on it.
                context.log.warning(f"{message} (timeline not written: {emit_error})")
            raise dg.RetryRequested(
                max_retries=MAX_TRANSIENT_RETRIES, seconds_to_wait=wait
            ) from error
        return fail_child(timeline, task, stage, error)
    if isinstance(error, ProteaError):
        return fail_child(timeline, task, stage, error)
    raise error


def fail_child(timeline: Timeline, task: PairTask, stage: str, error: Exception) -> ChildOutcome:
    message = f"{task.pair.name}: {error}"
    with session_scope() as session:
        report = report_child_failure(session, task.job_id, task.pair.mapping_key, message)
    timeline.emit(
        "child.failed",
        message,
        level="error",
        stage=stage,
        version=task.pair.current.version,
        snapshot_pair=task.pair.name,
        failed_children_count=report.failed_children_count,
        parent_status=report.parent_status,
    )
    return ChildOutcome(task=task, ok=False, error=message)


@dg.op(
    tags={QUEUE_TAG: "protea.training.knn-batch"},
    out=dg.Out(ChildOutcome),
    description="Find the K nearest reference proteins of every query of one lineage pair.",
)
def knn_batch(
    context: dg.OpExecutionContext, task: PairTask, search: SearchBackendResource
) -> Iterator[Any]:
    timeline = timeline_for(context, task.job_id)
    pair = task.pair
    # Every step that touches the store sits inside the try: a dropped connection while
    # writing an event is as transient as one while reading the inputs, and a retry is safe
    # because the child's progress is counted once.
    try:
        adopt_reexecution(context, task.job_id)
        timeline.emit(
            "child.export_knn_batch.start",
            pair.name,
            version=pair.current.version,
            snapshot_pair=pair.name,
            attempt=context.retry_number + 1,
        )
        result = run_knn_stage(task.plan.settings, pair, search.build(task.plan.search_backend))
        _emit_knn_outcome(timeline, task, result)
    except Exception as error:
        yield dg.Output(handle_child_error(context, timeline, task, "knn", error))
        return

    if not result.reused:
        yield dg.AssetMaterialization(
            asset_key=KNN_ASSET,
            partition=partition_key(pair.current.source, pair.current.version),
            metadata=_knn_metadata(result),
        )
    yield dg.Output(
        ChildOutcome(task=task, ok=True, knn_path=result.path, knn_reused=result.reused),
        metadata=_knn_metadata(result),
    )


def _emit_knn_outcome(timeline: Timeline, task: PairTask, result: KnnStageResult) -> None:
    pair = task.pair
    event = "child.export_knn_batch.noop" if result.reused else "child.export_knn_batch.done"
    verb = "reused stored neighbours" if result.reused else "neighbours written"
    timeline.emit(
        event,
        f"{pair.name}: {verb} for {result.n_queries} queries in {result.seconds:.2f}s",
        version=pair.current.version,
        snapshot_pair=pair.name,
        n_queries=result.n_queries,
        n_neighbour_rows=result.n_neighbour_rows,
        seconds=round(result.seconds, 3),
        path=result.path,
    )
    with session_scope() as session:
        progress = update_parent_progress(session, task.job_id, pair.mapping_key)
    timeline.emit(
        "child.pair_knn_done",
        f"{pair.name}: progress {progress}/{len(task.plan.pairs)}",
        snapshot_pair=pair.name,
        progress_current=progress,
        progress_total=len(task.plan.pairs),
    )


def _knn_metadata(result: KnnStageResult) -> dict[str, Any]:
    return {
        "snapshot_pair": result.snapshot_pair,
        "n_queries": result.n_queries,
        "n_neighbour_rows": result.n_neighbour_rows,
        "seconds": round(result.seconds, 3),
        "reused": result.reused,
        "path": dg.MetadataValue.path(result.path),
    }


@dg.op(
    tags={QUEUE_TAG: "protea.training.features"},
    description="Turn one pair's neighbours into candidate rows with features and labels.",
)
def pair_features(context: dg.OpExecutionContext, outcome: ChildOutcome) -> dg.Output[ChildOutcome]:
    if not outcome.ok or outcome.knn_path is None:
        return dg.Output(outcome, metadata={"skipped": "the KNN stage failed"})
    task = outcome.task
    timeline = timeline_for(context, task.job_id)
    knn = KnnStageResult(task.pair.name, outcome.knn_path, outcome.knn_reused, 0, 0, 0.0)
    try:
        adopt_reexecution(context, task.job_id)
        frame, summary = run_candidate_stage(task.plan.settings, task.pair, knn)
        path = candidates_path(task)
        save_candidates(frame, path)
        timeline.emit(
            "child.pair_features.done",
            f"{task.pair.name}: {summary.n_rows} rows, {summary.n_positive} positive",
            snapshot_pair=task.pair.name,
            n_rows=summary.n_rows,
            n_positive=summary.n_positive,
            seconds=round(summary.seconds, 3),
        )
    except Exception as error:
        return dg.Output(handle_child_error(context, timeline, task, "features", error))
    done = dataclasses.replace(outcome, candidates_path=str(path), n_rows=summary.n_rows)
    return dg.Output(
        done,
        metadata={
            "snapshot_pair": task.pair.name,
            "n_rows": summary.n_rows,
            "n_positive": summary.n_positive,
            "seconds": round(summary.seconds, 3),
        },
    )


def candidates_path(task: PairTask) -> Path:
    return settings.protea_home() / "work" / task.job_id / f"{task.pair.name}.parquet"
