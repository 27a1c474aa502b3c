"""Stored KNN results, one file per lineage pair and settings, reused by later exports.

The key covers everything the neighbours depend on: the embedding matrix, the ontology
snapshot, both annotation sets (by content hash), k and the search backend.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from protea_pipelines import settings as paths
from protea_pipelines.export.lineage import LineagePair
from protea_pipelines.export.plan import PairSettings


def knn_result_key(settings: PairSettings, pair: LineagePair) -> str:
    # The config name stands for its accession list too: two configs with the same vectors
    # in another row order must not share neighbours.
    material = {
        "embedding_config": settings.embedding_config,
        "embedding_matrix_sha256": settings.embedding_matrix_sha256,
        "ontology_snapshot_id": settings.ontology_snapshot_id,
        "pred": [pair.pred.annotation_set_id, pair.pred.sha256],
        "current": [pair.current.annotation_set_id, pair.current.sha256],
        "k": settings.k,
        "search_backend": settings.search_backend,
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()
    return f"{settings.annotation_source}-{pair.name}-{digest[:16]}"


def knn_result_path(settings: PairSettings, pair: LineagePair) -> Path:
    return paths.knn_results_dir() / f"{knn_result_key(settings, pair)}.parquet"


def read_knn_result(path: Path) -> pd.DataFrame:
    return pq.read_table(path).to_pandas()


def write_knn_result(table: pd.DataFrame, path: Path) -> None:
    """Write to a temporary name, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        pq.write_table(pa.Table.from_pandas(table, preserve_index=False), temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
