"""Fan-in: collect sees every child's outcome and applies the failure-ratio policy; the write
op then writes the dataset and ends the parent job.
"""

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from protea_pipelines import settings
from protea_pipelines.assets.dagster_log import QUEUE_TAG, timeline_for
from protea_pipelines.assets.orphans import adopt_reexecution
from protea_pipelines.assets.tasks import ChildOutcome, ExportTicket
from protea_pipelines.errors import ProteaError
from protea_pipelines.export.plan import ExportPlan
from protea_pipelines.export.policy import failure_reason, warn_partial
from protea_pipelines.export.service import fail_parent
from protea_pipelines.export.stages import load_candidates, run_write_stage
from protea_pipelines.jobs.parent_job import RUNNING, SUCCEEDED, finish_parent_job
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.models import ParentJob


@dataclass(frozen=True)
class WriteOrder:
    job_id: str
    plan: ExportPlan | None
    candidate_paths: dict[str, str] = field(default_factory=dict)
    missing: list[dict[str, str]] = field(default_factory=list)

    @property
    def skip(self) -> bool:
        return self.plan is None


@dg.op(
    tags={QUEUE_TAG: "protea.training"},
    description="See every child's outcome and apply the failure-ratio policy.",
)
def collect_export(
    context: dg.OpExecutionContext, ticket: ExportTicket, outcomes: list[ChildOutcome]
) -> dg.Output[WriteOrder]:
    if ticket.mode == "legacy" or ticket.plan is None:
        return dg.Output(WriteOrder(ticket.job_id, None), metadata={"mode": ticket.mode})
    plan = ticket.plan
    adopt_reexecution(context, ticket.job_id)
    timeline = timeline_for(context, ticket.job_id)

    by_pair = {o.snapshot_pair: o for o in outcomes}
    missing = []
    for pair in plan.pairs:
        outcome = by_pair.get(pair.name)
        # Re-executions of dynamic runs have dropped mapped steps: a child that never
        # reported counts as failed rather than silently vanishing from the dataset.
        error = "child did not report" if outcome is None else outcome.error
        if outcome is None or not outcome.ok or outcome.candidates_path is None:
            missing.append({"snapshot_pair": pair.name, "split": pair.split, "error": str(error)})
    failed, dispatched = len(missing), ticket.dispatched
    timeline.emit(
        "export_collect.outcomes",
        f"{dispatched - failed} of {dispatched} children succeeded",
        dispatched=dispatched,
        succeeded=dispatched - failed,
        failed=failed,
        failure_ratio=plan.payload.failure_ratio,
    )
    reason = failure_reason(missing, dispatched, plan.payload.failure_ratio)
    if reason is None and _parent_ended(ticket.job_id):
        reason = f"the parent job ended before collect ({failed} of {dispatched} children failed)"
    if reason is not None:
        fail_parent(timeline, "children_failed", reason, "export_collect.failed")
        raise dg.Failure(description=reason, metadata={"failed": failed, "dispatched": dispatched})
    if missing:
        warn_partial(timeline, "export_collect.partial", missing)
    paths = {
        o.snapshot_pair: str(o.candidates_path) for o in outcomes if o.ok and o.candidates_path
    }
    return dg.Output(
        WriteOrder(ticket.job_id, plan, paths, missing),
        metadata={"dispatched": dispatched, "succeeded": dispatched - failed, "failed": failed},
    )


def _parent_ended(job_id: str) -> bool:
    with session_scope() as session:
        job = session.get(ParentJob, job_id)
        return job is None or job.status != RUNNING


@dg.op(
    tags={QUEUE_TAG: "protea.training.write"},
    description="Write train.parquet, eval.parquet and manifest.json, then end the parent job.",
)
def write_export(context: dg.OpExecutionContext, order: WriteOrder) -> dg.Output[str]:
    if order.skip or order.plan is None:
        return dg.Output("", metadata={"skipped": "the coordinator exported in one step"})
    adopt_reexecution(context, order.job_id)
    timeline = timeline_for(context, order.job_id)
    started = time.perf_counter()
    try:
        frames = {pair: load_candidates(Path(path)) for pair, path in order.candidate_paths.items()}
        written = run_write_stage(order.plan, frames, order.missing, order.job_id)
    except BaseException as error:
        code = error.code if isinstance(error, ProteaError) else type(error).__name__
        fail_parent(timeline, code, str(error), "export_write.failed")
        raise
    seconds = time.perf_counter() - started
    timeline.emit(
        "export_write.done",
        f"{written.train_rows} train rows, {written.eval_rows} eval rows at {written.path}",
        path=str(written.path),
        train_rows=written.train_rows,
        eval_rows=written.eval_rows,
        seconds=round(seconds, 3),
    )
    with session_scope() as session:
        finish_parent_job(
            session,
            order.job_id,
            SUCCEEDED,
            meta_updates={"dataset_path": str(written.path), **written.manifest["row_counts"]},
        )
    shutil.rmtree(settings.protea_home() / "work" / order.job_id, ignore_errors=True)
    return dg.Output(
        str(written.path),
        metadata={
            "dataset": dg.MetadataValue.path(str(written.path)),
            "train_rows": written.train_rows,
            "eval_rows": written.eval_rows,
            "seconds": round(seconds, 3),
        },
    )
