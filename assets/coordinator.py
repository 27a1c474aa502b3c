"""The export coordinator op: open the parent job, pre-flight, then run in one step or fan out.

PROTEA_EXPORT_MINIJOBS is read when the step runs: "0" or unset runs the whole export here
(export_coordinator.legacy_delegate); "1" yields one DynamicOutput per train and test version.
"""

import os
from collections.abc import Iterator
from typing import Any

import dagster as dg

from protea_pipelines.assets.dagster_log import PARENT_JOB_TAG, QUEUE_TAG, timeline_for
from protea_pipelines.assets.export_config import ExportConfig
from protea_pipelines.assets.partitions import register_snapshot_partitions
from protea_pipelines.assets.tasks import ExportTicket, PairTask
from protea_pipelines.errors import InputError, ProteaError
from protea_pipelines.export.service import (
    adopt_parent_job,
    reject_input,
    run_planned_in_one_step,
    validate_and_plan,
)
from protea_pipelines.jobs.parent_job import SUCCEEDED, start_parent_job
from protea_pipelines.jobs.timeline import Timeline
from protea_pipelines.resources.search_backend import SearchBackendResource
from protea_pipelines.store.db import session_scope

GATE = "PROTEA_EXPORT_MINIJOBS"
GATE_VALUES = {"0": "legacy", "1": "fanout"}


def export_mode(value: str | None) -> str:
    """The path an export takes for a value of PROTEA_EXPORT_MINIJOBS ("0" when unset)."""
    mode = GATE_VALUES.get("0" if value is None or value == "" else value)
    if mode is None:
        raise InputError(GATE, value, "unknown export mode", accepted=sorted(GATE_VALUES))
    return mode


@dg.op(
    tags={QUEUE_TAG: "protea.training"},
    out={"ticket": dg.Out(ExportTicket), "pairs": dg.DynamicOut(PairTask)},
    description="Validate the payload, pre-flight it and start the children (or run in one step).",
)
def export_coordinator(
    context: dg.OpExecutionContext, config: ExportConfig, search: SearchBackendResource
) -> Iterator[Any]:
    payload_data = config.payload_data()
    try:
        job_id = adopt_parent_job(
            payload_data, context.run_id, context.run.tags.get(PARENT_JOB_TAG)
        )
    except ProteaError as error:
        raise dg.Failure(description=f"no parent job could be opened: {error}") from None

    context.instance.add_run_tags(context.run_id, {PARENT_JOB_TAG: job_id})
    timeline = timeline_for(context, job_id)
    timeline.emit("export_coordinator.start", f"parent job {job_id}", run_id=context.run_id)

    try:
        mode = export_mode(os.environ.get(GATE))
    except InputError as error:
        reject_input(timeline, error)
        raise dg.Failure(description=str(error)) from None
    try:
        plan = validate_and_plan(payload_data, timeline, search.backend or None)
    except ProteaError as error:
        raise dg.Failure(description=str(error)) from None

    if mode == "legacy":
        yield from _run_in_one_step(timeline, plan)
        return

    with session_scope() as session:
        register_snapshot_partitions(context.instance, session)
        start_parent_job(session, job_id, progress_total=len(plan.pairs))
    payload = plan.payload
    timeline.emit(
        "export_coordinator.dispatching",
        f"{len(plan.pairs)} children for {payload.output_name}",
        output_name=payload.output_name,
        coordinator_job_id=job_id,
        train_versions=payload.train_versions,
        test_versions=payload.test_versions,
        n_minijobs=len(plan.pairs),
    )
    yield dg.Output(
        ExportTicket(job_id, "fanout", plan, len(plan.pairs)),
        "ticket",
        metadata={"parent_job_id": job_id, "n_minijobs": len(plan.pairs), "mode": "fanout"},
    )
    for pair in plan.pairs:
        yield dg.DynamicOutput(
            PairTask(job_id, plan, pair), mapping_key=pair.mapping_key, output_name="pairs"
        )


def _run_in_one_step(timeline: Timeline, plan: Any) -> Iterator[dg.Output[ExportTicket]]:
    timeline.emit(
        "export_coordinator.legacy_delegate",
        f"{GATE} is 0: exporting {len(plan.pairs)} pairs in this step",
        n_pairs=len(plan.pairs),
    )
    outcome = run_planned_in_one_step(plan, timeline)
    if outcome.status != SUCCEEDED:
        raise dg.Failure(description=outcome.error or "export failed")
    yield dg.Output(
        ExportTicket(timeline.job_id, "legacy", plan, 0),
        "ticket",
        metadata={
            "parent_job_id": timeline.job_id,
            "mode": "legacy",
            "dataset_path": outcome.dataset_path or "",
        },
    )
