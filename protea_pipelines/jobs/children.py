"""What children report to their parent job: progress and failures, each counted once.

A child's report first claims its (job, child) row; only the claim that inserts the row goes on
to change the parent, so a retried or re-executed child never counts twice. Counters change in
single UPDATE statements, or under the parent's row lock, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from protea_pipelines.export.policy import export_fails
from protea_pipelines.jobs.parent_job import CANCELLED, FAILED, RUNNING
from protea_pipelines.store.models import JobChild, ParentJob, utcnow

MAX_TOP_ERRORS = 3


@dataclass(frozen=True)
class FailureReport:
    counted: bool
    failed_children_count: int
    parent_status: str
    parent_failed_now: bool


def claim_child(
    session: Session, job_id: str, child_key: str, state: str, error: str | None
) -> bool:
    """Insert the child's row unless it exists; True when this call inserted it."""
    values: dict[str, Any] = {
        "job_id": job_id,
        "child_key": child_key,
        "state": state,
        "error": error,
        "updated_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(JobChild).values(**values).on_conflict_do_nothing()
    return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def update_parent_progress(session: Session, job_id: str, child_key: str) -> int | None:
    """Count a finished child once: claim it, then one atomic increment while RUNNING."""
    if claim_child(session, job_id, child_key, "done", None):
        session.execute(
            update(ParentJob)
            .where(ParentJob.id == job_id, ParentJob.status == RUNNING)
            .values(progress_current=ParentJob.progress_current + 1)
        )
    return session.scalar(select(ParentJob.progress_current).where(ParentJob.id == job_id))


def report_child_failure(
    session: Session, job_id: str, child_key: str, message: str
) -> FailureReport:
    """Count a failed child once, keep its message among the top 3, apply the policy.

    Once the parent has left RUNNING nothing changes, so the call is safe to repeat.
    """
    # Claim before reading: on SQLite the insert takes the database's write lock; on
    # PostgreSQL the row lock below serialises reporters. It is FOR NO KEY UPDATE because every
    # claim's foreign key holds KEY SHARE on the parent: a plain FOR UPDATE would deadlock.
    claimed = claim_child(session, job_id, child_key, "failed", message)
    job = session.execute(
        select(ParentJob)
        .where(ParentJob.id == job_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).scalar_one()
    if job.status != RUNNING or not claimed:
        count = int((job.meta or {}).get("failed_children_count", 0))
        return FailureReport(False, count, job.status, False)

    meta = dict(job.meta or {})
    count = int(meta.get("failed_children_count", 0)) + 1
    top = list(meta.get("top_error_messages", []))
    if message not in top and len(top) < MAX_TOP_ERRORS:
        top.append(message)
    meta.update(failed_children_count=count, top_error_messages=top)
    dispatched = int(meta.get("dispatched_total", job.progress_total))
    values: dict[str, Any] = {"meta": meta}
    failed_now = export_fails(count, dispatched, float(job.payload.get("failure_ratio", 1.0)))
    if failed_now:
        values.update(
            status=FAILED,
            live_output_name=None,
            finished_at=utcnow(),
            error_code="children_failed",
            error_message=f"{count} of {dispatched} children failed: " + "; ".join(top),
        )
    session.execute(update(ParentJob).where(ParentJob.id == job_id).values(**values))
    return FailureReport(True, count, FAILED if failed_now else RUNNING, failed_now)


def reopen_for_reexecution(
    session: Session, job_id: str, run_id: str, previous_run_ids: set[str]
) -> bool:
    """Hand a parent that ended with an earlier run over to its re-execution, once.

    Failed children are forgotten (the re-execution runs them again); children that finished
    keep their count.
    """
    result = session.execute(
        update(ParentJob)
        .where(
            ParentJob.id == job_id,
            ParentJob.status.in_((FAILED, CANCELLED)),
            ParentJob.dagster_run_id.in_(previous_run_ids),
        )
        .values(
            status=RUNNING,
            dagster_run_id=run_id,
            finished_at=None,
            error_code=None,
            error_message=None,
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    session.execute(delete(JobChild).where(JobChild.job_id == job_id, JobChild.state == "failed"))
    done = session.scalar(
        select(func.count()).where(JobChild.job_id == job_id, JobChild.state == "done")
    )
    job = session.get(ParentJob, job_id)
    assert job is not None
    session.refresh(job)
    job.meta = {**(job.meta or {}), "failed_children_count": 0, "top_error_messages": []}
    job.progress_current = int(done or 0)
    output_name = (job.payload or {}).get("output_name")
    job.live_output_name = output_name if isinstance(output_name, str) else None
    session.flush()
    return True
