"""End parent jobs whose run is gone: no parent stays RUNNING without a live run.

The reaper asks a run-state lookup (the Dagster instance, in practice) about every live parent
job and ends the ones whose run has ended, vanished, or whose launching process died.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from protea_pipelines.jobs.parent_job import (
    CANCELLED,
    FAILED,
    LIVE_STATES,
    finish_parent_job,
    record_event,
)
from protea_pipelines.store.models import ParentJob, utcnow

NEVER_LAUNCHED_AFTER = timedelta(minutes=10)
ENDED_RUN_STATES = ("SUCCESS", "FAILURE", "CANCELED")


@dataclass(frozen=True)
class Reaped:
    job_id: str
    status: str
    reason: str
    run_id: str | None


def launcher_identity() -> dict[str, object]:
    """Recorded on a parent job by the process that runs it, so the reaper can tell if it died."""
    return {"launcher_pid": os.getpid(), "launcher_host": socket.gethostname()}


def launcher_alive(meta: dict[str, object]) -> bool | None:
    """True / False for a launcher on this host; None when it ran elsewhere or is unknown."""
    pid = meta.get("launcher_pid")
    if not isinstance(pid, int) or meta.get("launcher_host") != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A process that has exited but was not waited for still answers signal 0."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def verdict(job: ParentJob, run_status: str | None) -> tuple[str, str] | None:
    """(final status, reason) for a live parent whose run is over, else None."""
    run_id = job.dagster_run_id
    if run_id is None:
        alive = launcher_alive(job.meta or {})
        if alive is False:
            return FAILED, "the process launching this job died before it launched a run"
        created = job.created_at
        if created.tzinfo is None:
            created = created.replace(tzinfo=utcnow().tzinfo)
        if utcnow() - created > NEVER_LAUNCHED_AFTER and alive is None:
            return FAILED, "no Dagster run was ever launched for this job"
        return None
    if run_status is None:
        return FAILED, f"Dagster run {run_id} no longer exists"
    if run_status == "CANCELED":
        return CANCELLED, f"Dagster run {run_id} was cancelled"
    if run_status in ENDED_RUN_STATES:
        return FAILED, f"Dagster run {run_id} ended ({run_status}) without ending this job"
    if launcher_alive(job.meta or {}) is False:
        return FAILED, f"the process running Dagster run {run_id} died"
    return None


def reap_orphaned_parents(
    session: Session, run_status_of: Callable[[str], str | None]
) -> list[Reaped]:
    reaped = []
    live = session.scalars(select(ParentJob).where(ParentJob.status.in_(LIVE_STATES))).all()
    for job in live:
        status = run_status_of(job.dagster_run_id) if job.dagster_run_id else None
        decision = verdict(job, status)
        if decision is None:
            continue
        final, reason = decision
        if finish_parent_job(session, job.id, final, "orphaned", reason, run_id=job.dagster_run_id):
            record_event(session, job.id, "error", "export_reaper.ended", reason, {"status": final})
            reaped.append(Reaped(job.id, final, reason, job.dagster_run_id))
    return reaped
