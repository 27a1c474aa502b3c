"""What travels between the export's steps: small pickled records, never data frames.

Rows and neighbours go through files under PROTEA_HOME, which any worker of a distributed
executor can read when PROTEA_HOME is shared storage.
"""

from __future__ import annotations

from dataclasses import dataclass

from protea_pipelines.export.lineage import LineagePair
from protea_pipelines.export.plan import ExportPlan


@dataclass(frozen=True)
class ExportTicket:
    """The coordinator's word to collect: which parent job, which path, how many children."""

    job_id: str
    mode: str
    plan: ExportPlan | None
    dispatched: int


@dataclass(frozen=True)
class PairTask:
    job_id: str
    plan: ExportPlan
    pair: LineagePair


@dataclass(frozen=True)
class ChildOutcome:
    """A child's result: ok with the file it wrote, or the error that failed it."""

    task: PairTask
    ok: bool
    knn_path: str | None = None
    candidates_path: str | None = None
    knn_reused: bool = False
    n_rows: int = 0
    error: str | None = None

    @property
    def snapshot_pair(self) -> str:
        return self.task.pair.name
