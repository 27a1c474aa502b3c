"""The dataset registry: one row per finished dataset, written with the dataset itself."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from protea_pipelines.errors import WriteError
from protea_pipelines.export.writer import WrittenDataset
from protea_pipelines.jobs.parent_job import RUNNING
from protea_pipelines.store.models import Dataset, ParentJob


def register_dataset(session: Session, written: WrittenDataset, parent_job_id: str | None) -> int:
    """Register the files of a parent job that is still running, under its row lock.

    A job that has ended (the reaper or a sensor gave up on it) writes no dataset: its late
    step may still reach here after its launcher died.
    """
    if parent_job_id is not None:
        status = session.scalar(
            select(ParentJob.status)
            .where(ParentJob.id == parent_job_id)
            .with_for_update(key_share=True)
        )
        if status != RUNNING:
            raise WriteError(
                f"parent job {parent_job_id} is {status or 'gone'}: the dataset is not kept"
            )
    row = Dataset(
        name=written.manifest["name"],
        path=str(written.path),
        manifest_sha256=written.manifest_sha256,
        train_rows=written.train_rows,
        eval_rows=written.eval_rows,
        parent_job_id=parent_job_id,
    )
    session.add(row)
    session.flush()
    return row.id
