"""The three stages of an export, shared by the one-step path and the Dagster fan-out.

knn stage -> candidate stage, once per lineage pair; then one write of the whole dataset.
Both paths call these same functions, which is what makes their files byte-identical.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from protea_pipelines.export.candidates import build_pair_candidates
from protea_pipelines.export.knn_results import knn_result_path, read_knn_result, write_knn_result
from protea_pipelines.export.lineage import LineagePair
from protea_pipelines.export.pair_inputs import load_pair_inputs
from protea_pipelines.export.pair_knn import search_pair_neighbours
from protea_pipelines.export.plan import ExportPlan, PairSettings
from protea_pipelines.export.registry import register_dataset
from protea_pipelines.export.schema import DATASET_SCHEMA
from protea_pipelines.export.writer import WrittenDataset, write_dataset
from protea_pipelines.knn import KnnBackend, get_backend
from protea_pipelines.store.db import session_scope


@dataclass(frozen=True)
class KnnStageResult:
    snapshot_pair: str
    path: str
    reused: bool
    n_queries: int
    n_neighbour_rows: int
    seconds: float


@dataclass(frozen=True)
class CandidateStageResult:
    snapshot_pair: str
    n_rows: int
    n_positive: int
    seconds: float


def run_knn_stage(
    settings: PairSettings, pair: LineagePair, backend: KnnBackend | None = None
) -> KnnStageResult:
    """Compute the pair's neighbours, or reuse a stored result of the same inputs and settings."""
    started = time.perf_counter()
    path = knn_result_path(settings, pair)
    reused = path.exists()
    if reused:
        table = read_knn_result(path)
    else:
        with session_scope() as session:
            inputs = load_pair_inputs(session, settings, pair)
        backend = backend or get_backend(settings.search_backend)
        table = search_pair_neighbours(inputs, backend, settings.k)
        write_knn_result(table, path)
    n_queries = int(table[["aspect", "protein_accession"]].drop_duplicates().shape[0])
    return KnnStageResult(
        pair.name, str(path), reused, n_queries, len(table), time.perf_counter() - started
    )


def run_candidate_stage(
    settings: PairSettings, pair: LineagePair, knn: KnnStageResult
) -> tuple[pd.DataFrame, CandidateStageResult]:
    started = time.perf_counter()
    with session_scope() as session:
        inputs = load_pair_inputs(session, settings, pair)
    frame = build_pair_candidates(
        inputs, read_knn_result(Path(knn.path)), settings.k, settings.expand_votes_to_ancestors
    )
    summary = CandidateStageResult(
        pair.name, len(frame), int(frame["label"].sum()), time.perf_counter() - started
    )
    return frame, summary


def save_candidates(frame: pd.DataFrame, path: Path) -> None:
    """Hand a pair's rows to the write stage through a file any worker can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, schema=DATASET_SCHEMA, preserve_index=False)
    pq.write_table(table, path)


def load_candidates(path: Path) -> pd.DataFrame:
    return pq.read_table(path, schema=DATASET_SCHEMA).to_pandas()


def run_write_stage(
    plan: ExportPlan,
    frames: dict[str, pd.DataFrame],
    missing: list[dict[str, str]],
    parent_job_id: str | None,
) -> WrittenDataset:
    """Write the files, then register them; a failed registration removes the files again."""
    written = write_dataset(plan, frames, missing)
    try:
        with session_scope() as session:
            register_dataset(session, written, parent_job_id)
    except BaseException:
        shutil.rmtree(written.path, ignore_errors=True)
        raise
    return written
