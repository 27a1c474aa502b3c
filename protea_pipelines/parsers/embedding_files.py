"""Readers of per-protein embedding files: UniProt H5, .npy plus accession list, parquet.

Each returns (accessions, float32 matrix of shape (n, d)) after the checks every embedding
config needs: no NaN or inf, one dimension, one row per accession, no duplicate accession.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from protea_pipelines.errors import InputError

Embeddings = tuple[list[str], np.ndarray]


def validate_embeddings(source: str, accessions: Sequence[str], matrix: np.ndarray) -> np.ndarray:
    """The matrix as C-ordered float32 once it passes the checks; InputError naming the row."""
    if len(accessions) == 0 or matrix.size == 0:
        raise InputError(source, len(accessions), "holds no vectors")
    if matrix.ndim != 2:
        raise InputError(source, matrix.shape, "vectors must form a 2-D matrix (n, dim)")
    if matrix.shape[0] != len(accessions):
        raise InputError(
            source,
            matrix.shape[0],
            f"matrix has {matrix.shape[0]} rows but there are {len(accessions)} accessions",
        )
    vectors = np.ascontiguousarray(matrix, dtype=np.float32)
    finite = np.isfinite(vectors).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise InputError(source, accessions[row], f"NaN or infinite value in row {row}")
    first_row: dict[str, int] = {}
    for row, accession in enumerate(accessions):
        if not accession:
            raise InputError(source, accession, f"empty accession in row {row}")
        if accession in first_row:
            raise InputError(
                source, accession, f"duplicate accession in rows {first_row[accession]} and {row}"
            )
        first_row[accession] = row
    return vectors


def stack_vectors(source: str, accessions: Sequence[str], rows: Sequence[np.ndarray]) -> np.ndarray:
    """One matrix from per-accession vectors, refusing vectors of differing length."""
    if not rows:
        raise InputError(source, 0, "holds no vectors")
    dim = rows[0].shape[0]
    for row, (accession, vector) in enumerate(zip(accessions, rows, strict=True)):
        if vector.ndim != 1 or vector.shape[0] != dim:
            raise InputError(
                source,
                accession,
                f"vector in row {row} has shape {vector.shape}, expected ({dim},) like row 0",
            )
    return np.stack(rows)


def read_h5(path: Path) -> Embeddings:
    """UniProt per-protein H5: one 1-D dataset per accession at the top level."""
    import h5py

    source = str(path)
    accessions: list[str] = []
    rows: list[np.ndarray] = []
    with h5py.File(path, "r") as handle:
        for accession, item in handle.items():
            if not isinstance(item, h5py.Dataset):
                raise InputError(source, accession, "top-level entry is not a dataset")
            accessions.append(accession)
            rows.append(np.asarray(item[()], dtype=np.float32))
    matrix = stack_vectors(source, accessions, rows)
    return accessions, validate_embeddings(source, accessions, matrix)


def read_npy(path: Path, accessions_path: Path) -> Embeddings:
    """A 2-D .npy matrix plus a text file with one accession per line, in row order."""
    source = str(path)
    matrix = np.load(path, allow_pickle=False)
    with open(accessions_path, encoding="utf-8") as handle:
        accessions = [line.strip() for line in handle if line.strip()]
    return accessions, validate_embeddings(source, accessions, matrix)


def read_parquet(path: Path) -> Embeddings:
    """Parquet with an "accession" column plus a list<float> "embedding" or numeric columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = str(path)
    table = pq.read_table(path)
    if "accession" not in table.column_names:
        raise InputError(source, table.column_names, "no 'accession' column")
    accessions = [str(value) for value in table.column("accession").to_pylist()]
    if "embedding" in table.column_names:
        values = table.column("embedding").to_pylist()
        rows = [np.asarray(value if value is not None else [], np.float32) for value in values]
        matrix = stack_vectors(source, accessions, rows)
    else:
        names = [name for name in table.column_names if name != "accession"]
        for name in names:
            kind = table.schema.field(name).type
            if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
                raise InputError(source, name, f"column is {kind}, not numeric")
        if not names:
            raise InputError(source, table.column_names, "no embedding or numeric columns")
        matrix = np.column_stack(
            [table.column(name).to_numpy(zero_copy_only=False) for name in names]
        ).astype(np.float32)
    return accessions, validate_embeddings(source, accessions, matrix)


def read_embedding_file(
    path: Path, fmt: str | None = None, accessions_path: Path | None = None
) -> Embeddings:
    """Dispatch on fmt ("h5", "npy", "parquet"), inferred from the suffix when None."""
    fmt = fmt or infer_format(path)
    if fmt == "h5":
        return read_h5(path)
    if fmt == "npy":
        if accessions_path is None:
            raise InputError("accessions", None, "a .npy matrix needs an accession list file")
        return read_npy(path, accessions_path)
    if fmt == "parquet":
        return read_parquet(path)
    raise InputError("format", fmt, "unknown embedding file format", FORMATS)


FORMATS = ("h5", "npy", "parquet")
SUFFIX_FORMATS = {
    ".h5": "h5",
    ".hdf5": "h5",
    ".npy": "npy",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def infer_format(path: Path) -> str:
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(str(path), path.suffix, "cannot infer the format from the suffix", FORMATS)
    return fmt
