"""Columns of train.parquet and eval.parquet, in file order, with their Arrow types."""

from __future__ import annotations

import hashlib

import pyarrow as pa

DATASET_SCHEMA = pa.schema(
    [
        ("snapshot_pair", pa.string()),
        ("protein_accession", pa.string()),
        ("aspect", pa.string()),
        ("go_term_id", pa.string()),
        ("category", pa.string()),
        ("distance", pa.float64()),
        ("k_position", pa.int64()),
        ("vote_count", pa.int64()),
        ("vote_fraction", pa.float64()),
        ("neighbor_min_distance", pa.float64()),
        ("neighbor_mean_distance", pa.float64()),
        ("neighbor_distance_std", pa.float64()),
        ("go_term_frequency", pa.int64()),
        ("ref_annotation_density", pa.int64()),
        ("evidence_code", pa.string()),
        ("qualifier", pa.string()),
        ("label", pa.int64()),
    ]
)
COLUMNS: tuple[str, ...] = tuple(DATASET_SCHEMA.names)


def schema_sha(columns: tuple[str, ...] | list[str] = COLUMNS) -> str:
    """First 12 hex digits of sha256 over the sorted column names joined by '|'."""
    return hashlib.sha256("|".join(sorted(columns)).encode()).hexdigest()[:12]
