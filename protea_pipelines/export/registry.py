"""The dataset registry: one row per finished dataset, written with the dataset itself."""

from __future__ import annotations

from sqlalchemy.orm import Session

from protea_pipelines.export.writer import WrittenDataset
from protea_pipelines.store.models import Dataset


def register_dataset(session: Session, written: WrittenDataset, parent_job_id: str | None) -> int:
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
