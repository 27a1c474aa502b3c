"""Readers of per-protein embedding files: UniProt H5, .npy plus accession list, parquet.

Each returns (accessions, float32 matrix of shape (n, d)) after the checks every embedding
config needs: no NaN or inf, one dimension, one row per accession, no duplicate accession.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from protea_pipelines.errors import InputError, is_transient
from protea_pipelines.parsers import open_text

Embeddings = tuple[list[str], np.ndarray]
SHOWN_BYTES = 16
NPY_ACCEPTED = "a numeric matrix written by numpy.save"
H5_ACCEPTED = "an HDF5 file with one 1-D dataset per accession"
PARQUET_ACCEPTED = "a Parquet file with an accession column"
ACCESSIONS_ACCEPTED = "one accession per line, in the order of the matrix rows"


def unreadable(path: Path, suffix: str, reason: str, accepted: str) -> InputError:
    """The error for a file the format's reader cannot open, showing how the file starts.

    The library's own message is not passed on: numpy's, for one, invites allow_pickle=True,
    which would let a crafted file run code.
    """
    with open(path, "rb") as handle:
        head = handle.read(SHOWN_BYTES)
    if not head:
        reason = "the file is empty"
    return InputError(str(path), head, f"not a readable {suffix} file: {reason}", accepted)


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


def refuse_zero_vectors(source: str, accessions: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    """The vectors unless one is all zeros: it has no direction, so no cosine distance."""
    nonzero = vectors.any(axis=1)
    if not nonzero.all():
        row = int(np.flatnonzero(~nonzero)[0])
        raise InputError(
            source,
            accessions[row],
            f"zero vector in row {row} (accession {accessions[row]}): it has no direction "
            "for cosine similarity",
        )
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
    if not h5py.is_hdf5(path):
        raise unreadable(path, ".h5", "it has no HDF5 signature", H5_ACCEPTED)
    try:
        with h5py.File(path, "r") as handle:
            for accession, item in handle.items():
                if not isinstance(item, h5py.Dataset):
                    raise InputError(source, accession, "top-level entry is not a dataset")
                accessions.append(accession)
                rows.append(_numeric(path, np.asarray(item[()]), accession))
    except OSError as error:
        # h5py reports a damaged or cut-off file as OSError; a busy disk stays retryable.
        if is_transient(error):
            raise
        raise unreadable(path, ".h5", "it is damaged or truncated", H5_ACCEPTED) from error
    matrix = stack_vectors(source, accessions, rows)
    return accessions, _checked(source, accessions, matrix)


def _checked(source: str, accessions: Sequence[str], matrix: np.ndarray) -> np.ndarray:
    """What every file reader returns: the validated matrix, refusing zero vectors (checked
    here, at load, rather than in validate_embeddings: featurize drops its zero rows itself)."""
    return refuse_zero_vectors(source, accessions, validate_embeddings(source, accessions, matrix))


def read_npy(path: Path, accessions_path: Path) -> Embeddings:
    """A 2-D .npy matrix plus a text file with one accession per line, in row order."""
    source = str(path)
    with open(path, "rb") as handle:
        magic = handle.read(len(np.lib.format.MAGIC_PREFIX))
    # Checked before np.load: without the .npy signature numpy would take the file for a
    # pickle, and pickles are never loaded (allow_pickle stays False).
    if magic != np.lib.format.MAGIC_PREFIX:
        raise unreadable(path, ".npy", "it does not start with the .npy signature", NPY_ACCEPTED)
    try:
        matrix = np.load(path, allow_pickle=False)
    except (EOFError, ValueError) as error:
        # A cut-off file, a damaged header or an array of Python objects.
        reason = "it is truncated, its header is damaged or it holds Python objects"
        raise unreadable(path, ".npy", reason, NPY_ACCEPTED) from error
    accessions = read_accessions(accessions_path)
    return accessions, _checked(source, accessions, _numeric(path, matrix))


def read_accessions(path: Path) -> list[str]:
    """The accessions of a .npy matrix, one a line; blank lines at the end are ignored.

    A blank line before the last accession would shift every later accession onto the wrong
    row, so it is refused with its line number rather than dropped.
    """
    with open_text(path) as handle:
        lines = [line.strip() for line in handle]
    while lines and not lines[-1]:
        lines.pop()
    for line_number, accession in enumerate(lines, start=1):
        if not accession:
            raise InputError(
                f"{path}:{line_number}",
                accession,
                "blank line in the accession list",
                ACCESSIONS_ACCEPTED,
            )
    return lines


def _numeric(path: Path, array: np.ndarray, accession: str | None = None) -> np.ndarray:
    """The array when it holds numbers; strings or records cannot be vectors."""
    if array.dtype.kind not in "iuf":
        where = f" of {accession}" if accession is not None else ""
        raise InputError(
            str(path), str(array.dtype), f"vectors{where} are not numeric", "integers or floats"
        )
    return array


def read_parquet(path: Path) -> Embeddings:
    """Parquet with an "accession" column plus a list<float> "embedding" or numeric columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = str(path)
    try:
        table = pq.read_table(path)
    except pa.ArrowException as error:
        if isinstance(error, OSError) and is_transient(error):
            raise
        reason = "it is damaged, truncated or in another format"
        raise unreadable(path, ".parquet", reason, PARQUET_ACCEPTED) from error
    if "accession" not in table.column_names:
        raise InputError(source, table.column_names, "no 'accession' column")
    values = table.column("accession").to_pylist()
    for row, value in enumerate(values):
        # str(None) would store the accession "None"; a missing accession names no protein.
        if value is None:
            raise InputError(source, None, f"null accession in row {row}")
    accessions = [str(value) for value in values]
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
    return accessions, _checked(source, accessions, matrix)


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
