"""Write a dataset: train.parquet, eval.parquet and manifest.json, all or nothing.

Files are built in a temporary folder beside the final one and the folder is renamed into place,
so a reader sees either the complete dataset or no folder at all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from protea_pipelines import __version__, settings
from protea_pipelines.errors import InputError, WriteError
from protea_pipelines.export.lineage import LineagePair
from protea_pipelines.export.plan import ExportPlan
from protea_pipelines.export.schema import COLUMNS, DATASET_SCHEMA, schema_sha

PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "version": "2.6",
    "row_group_size": 1_000_000,
    "write_statistics": True,
}


@dataclass(frozen=True)
class WrittenDataset:
    path: Path
    manifest: dict[str, Any]
    manifest_sha256: str

    @property
    def train_rows(self) -> int:
        return int(self.manifest["row_counts"]["train"])

    @property
    def eval_rows(self) -> int:
        return int(self.manifest["row_counts"]["eval"])


def write_dataset(
    plan: ExportPlan,
    frames: dict[str, pd.DataFrame],
    missing: list[dict[str, str]] | None = None,
) -> WrittenDataset:
    """frames: the candidate rows of each pair that succeeded, by pair name."""
    final = settings.datasets_dir() / plan.payload.output_name
    if final.exists():
        raise InputError("output_name", plan.payload.output_name, "dataset folder exists already")
    final.parent.mkdir(parents=True, exist_ok=True)
    # One live export per output name (the parent job's unique live name): any staging folder
    # of this name is left over from a writer that died, and safe to clear.
    for stale in final.parent.glob(f".staging-{plan.payload.output_name}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = final.parent / f".staging-{plan.payload.output_name}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        splits = {
            "train": _split_table(plan.train_pairs, frames),
            "eval": _split_table(plan.eval_pairs, frames),
        }
        files = {}
        for split, table in splits.items():
            files[f"{split}.parquet"] = _write_parquet(table, staging / f"{split}.parquet")
        manifest = build_manifest(plan, frames, splits, files, missing or [])
        manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        _write_file(staging / "manifest.json", manifest_bytes)
        _fsync_dir(staging)
        os.rename(staging, final)
        _fsync_dir(final.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return WrittenDataset(final, manifest, hashlib.sha256(manifest_bytes).hexdigest())


def _in_version_order(pairs: tuple[LineagePair, ...]) -> list[LineagePair]:
    return sorted(pairs, key=lambda p: p.current.version)


def _pair_names(pairs: tuple[LineagePair, ...], frames: dict[str, pd.DataFrame]) -> list[str]:
    """The pairs written, in version order like the rows, whatever order the payload gave."""
    return [p.name for p in _in_version_order(pairs) if p.name in frames]


def _split_table(pairs: tuple[LineagePair, ...], frames: dict[str, pd.DataFrame]) -> pa.Table:
    """Pairs in version order; each pair's rows are sorted already."""
    ordered = [frames[p.name] for p in _in_version_order(pairs) if p.name in frames]
    if not ordered:
        return DATASET_SCHEMA.empty_table()
    combined = pd.concat(ordered, ignore_index=True)[list(COLUMNS)]
    return pa.Table.from_pandas(
        combined, schema=DATASET_SCHEMA, preserve_index=False
    ).replace_schema_metadata(None)


def _write_parquet(table: pa.Table, path: Path) -> dict[str, Any]:
    try:
        pq.write_table(table, path, **PARQUET_OPTIONS)
        with path.open("rb") as handle:
            os.fsync(handle.fileno())
    except OSError as error:
        raise WriteError(f"{path.name}: could not be written: {error}") from error
    return {"sha256": _sha256_file(path), "bytes": path.stat().st_size, "rows": table.num_rows}


def build_manifest(
    plan: ExportPlan,
    frames: dict[str, pd.DataFrame],
    splits: dict[str, pa.Table],
    files: dict[str, dict[str, Any]],
    missing: list[dict[str, str]],
) -> dict[str, Any]:
    payload = plan.payload
    label_counts = {split: _label_counts(table) for split, table in splits.items()}
    return {
        "name": payload.output_name,
        "k": payload.k,
        "embedding_config_id": plan.embedding_config_id,
        "embedding_config": payload.embedding_config,
        "embedding_matrix_sha256": plan.embedding_matrix_sha256,
        "ontology_snapshot_id": plan.ontology_snapshot_id,
        "ontology_snapshot": payload.ontology_snapshot,
        "annotation_set_id": plan.annotation_set_id,
        "annotation_source": payload.annotation_source,
        "train_snapshot_pairs": _pair_names(plan.train_pairs, frames),
        "eval_snapshot_pairs": _pair_names(plan.eval_pairs, frames),
        "missing_snapshot_pairs": sorted(missing, key=lambda item: item["snapshot_pair"]),
        "row_counts": {"train": splits["train"].num_rows, "eval": splits["eval"].num_rows},
        "label_counts": label_counts,
        "columns": list(COLUMNS),
        "schema_sha": schema_sha(),
        "search_backend": plan.search_backend,
        "expand_votes_to_ancestors": payload.expand_votes_to_ancestors,
        "producer": {"name": "protea-pipelines", "version": __version__},
        "files": files,
    }


def _label_counts(table: pa.Table) -> dict[str, int]:
    labels = table.column("label").to_pylist()
    return {"0": labels.count(0), "1": labels.count(1)}


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_file(path: Path, data: bytes) -> None:
    try:
        with path.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as error:
        raise WriteError(f"{path.name}: could not be written: {error}") from error


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
