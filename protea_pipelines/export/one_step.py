"""The export as one step (PROTEA_EXPORT_MINIJOBS=0): every pair in turn, then the write.

It applies the same failure-ratio policy as the fan-out, pair by pair, so both paths end a
partly failed export the same way.
"""

from __future__ import annotations

import pandas as pd

from protea_pipelines.errors import ProteaError
from protea_pipelines.export.plan import ExportPlan
from protea_pipelines.export.policy import failure_reason, warn_partial
from protea_pipelines.export.stages import run_candidate_stage, run_knn_stage, run_write_stage
from protea_pipelines.export.writer import WrittenDataset
from protea_pipelines.jobs.children import report_child_failure, update_parent_progress
from protea_pipelines.jobs.timeline import Timeline
from protea_pipelines.store.db import session_scope


class ExportFailed(ProteaError):
    code = "export_failed"


def run_export_in_one_step(plan: ExportPlan, job_id: str, timeline: Timeline) -> WrittenDataset:
    frames: dict[str, pd.DataFrame] = {}
    missing: list[dict[str, str]] = []
    for pair in plan.pairs:
        try:
            knn = run_knn_stage(plan.settings, pair)
            frame, summary = run_candidate_stage(plan.settings, pair, knn)
        except ProteaError as error:
            # The same text as a fan-out child's, so both paths write the same manifest.
            message = f"{pair.name}: {error}"
            missing.append({"snapshot_pair": pair.name, "split": pair.split, "error": message})
            with session_scope() as session:
                report_child_failure(session, job_id, pair.mapping_key, message)
            timeline.emit(
                "export_research_dataset.pair_failed",
                f"{pair.name} failed: {error}",
                level="error",
                snapshot_pair=pair.name,
                version=pair.current.version,
                error=str(error),
            )
            continue
        frames[pair.name] = frame
        with session_scope() as session:
            update_parent_progress(session, job_id, pair.mapping_key)
        timeline.emit(
            "export_research_dataset.pair_done",
            f"{pair.name}: {knn.n_queries} queries, {summary.n_rows} rows "
            f"({summary.n_positive} positive)" + (", KNN reused" if knn.reused else ""),
            snapshot_pair=pair.name,
            split=pair.split,
            n_queries=knn.n_queries,
            n_rows=summary.n_rows,
            n_positive=summary.n_positive,
            knn_reused=knn.reused,
            knn_seconds=round(knn.seconds, 3),
            candidate_seconds=round(summary.seconds, 3),
        )

    reason = failure_reason(missing, len(plan.pairs), plan.payload.failure_ratio)
    if reason is not None:
        raise ExportFailed(reason)
    if missing:
        warn_partial(timeline, "export_research_dataset.partial", missing)
    written = run_write_stage(plan, frames, missing, job_id)
    timeline.emit(
        "export_research_dataset.written",
        f"{written.train_rows} train rows, {written.eval_rows} eval rows at {written.path}",
        path=str(written.path),
        train_rows=written.train_rows,
        eval_rows=written.eval_rows,
    )
    return written
