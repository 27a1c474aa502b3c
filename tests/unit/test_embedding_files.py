"""Embedding file readers: H5, .npy plus accession list, parquet; and their input checks."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from protea_pipelines.errors import InputError
from protea_pipelines.parsers.embedding_files import read_embedding_file

ACCESSIONS = ["P38903", "Q12754", "P32457"]
MATRIX = np.array([[0.5, -1.0, 2.0, 0.0], [1.5, 2.5, -3.5, 4.0], [0.0, 0.25, 0.125, -8.0]])


def write_h5(path: Path, vectors: dict[str, np.ndarray]) -> Path:
    with h5py.File(path, "w") as handle:
        for accession, vector in vectors.items():
            handle.create_dataset(accession, data=vector)
    return path


def write_npy(tmp_path: Path, matrix: np.ndarray, accessions: list[str]) -> tuple[Path, Path]:
    np.save(tmp_path / "vectors.npy", matrix)
    (tmp_path / "accessions.txt").write_text("\n".join(accessions) + "\n")
    return tmp_path / "vectors.npy", tmp_path / "accessions.txt"


def test_h5_round_trip(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "per-protein.h5", dict(zip(ACCESSIONS, MATRIX, strict=True)))
    accessions, matrix = read_embedding_file(path)
    # h5py lists top-level datasets by name, as UniProt's downloads are ordered.
    assert accessions == sorted(ACCESSIONS)
    order = [ACCESSIONS.index(accession) for accession in accessions]
    assert matrix.dtype == np.float32
    assert np.array_equal(matrix, MATRIX[order].astype(np.float32))


def test_npy_round_trip(tmp_path: Path) -> None:
    vectors, names = write_npy(tmp_path, MATRIX, ACCESSIONS)
    accessions, matrix = read_embedding_file(vectors, accessions_path=names)
    assert accessions == ACCESSIONS
    assert matrix.dtype == np.float32 and matrix.flags.c_contiguous
    assert np.array_equal(matrix, MATRIX.astype(np.float32))


def test_parquet_list_column_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "vectors.parquet"
    table = pa.table(
        {"accession": ACCESSIONS, "embedding": pa.array(MATRIX.tolist(), pa.list_(pa.float32()))}
    )
    pq.write_table(table, path)
    accessions, matrix = read_embedding_file(path)
    assert accessions == ACCESSIONS
    assert np.array_equal(matrix, MATRIX.astype(np.float32))


def test_parquet_numeric_columns_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "vectors.pq"
    columns = {f"d{index}": MATRIX[:, index] for index in range(MATRIX.shape[1])}
    pq.write_table(pa.table({"accession": ACCESSIONS, **columns}), path)
    accessions, matrix = read_embedding_file(path, fmt="parquet")
    assert accessions == ACCESSIONS
    assert np.array_equal(matrix, MATRIX.astype(np.float32))


def test_nan_is_refused_naming_row_and_accession(tmp_path: Path) -> None:
    bad = MATRIX.copy()
    bad[1, 2] = np.nan
    vectors, names = write_npy(tmp_path, bad, ACCESSIONS)
    with pytest.raises(InputError) as caught:
        read_embedding_file(vectors, accessions_path=names)
    assert str(caught.value) == f"{vectors}: NaN or infinite value in row 1 (got 'Q12754')"


def test_inf_in_parquet_is_refused(tmp_path: Path) -> None:
    bad = MATRIX.copy()
    bad[2, 0] = np.inf
    path = tmp_path / "vectors.parquet"
    pq.write_table(pa.table({"accession": ACCESSIONS, "embedding": bad.tolist()}), path)
    with pytest.raises(InputError) as caught:
        read_embedding_file(path)
    assert str(caught.value) == f"{path}: NaN or infinite value in row 2 (got 'P32457')"


def test_vectors_of_differing_length_are_refused(tmp_path: Path) -> None:
    vectors = {"P38903": MATRIX[0], "Q12754": MATRIX[1, :3]}
    path = write_h5(tmp_path / "per-protein.h5", vectors)
    with pytest.raises(InputError) as caught:
        read_embedding_file(path)
    assert str(caught.value) == (
        f"{path}: vector in row 1 has shape (3,), expected (4,) like row 0 (got 'Q12754')"
    )


def test_rows_must_match_accession_count(tmp_path: Path) -> None:
    vectors, names = write_npy(tmp_path, MATRIX, [*ACCESSIONS, "P99999"])
    with pytest.raises(InputError) as caught:
        read_embedding_file(vectors, accessions_path=names)
    assert str(caught.value) == f"{vectors}: matrix has 3 rows but there are 4 accessions (got 3)"


def test_duplicate_accession_is_refused(tmp_path: Path) -> None:
    vectors, names = write_npy(tmp_path, MATRIX, ["P38903", "Q12754", "P38903"])
    with pytest.raises(InputError) as caught:
        read_embedding_file(vectors, accessions_path=names)
    assert str(caught.value) == f"{vectors}: duplicate accession in rows 0 and 2 (got 'P38903')"


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = write_h5(tmp_path / "empty.h5", {})
    with pytest.raises(InputError) as caught:
        read_embedding_file(path)
    assert str(caught.value) == f"{path}: holds no vectors (got 0)"


def test_unknown_suffix_and_missing_accession_list(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        read_embedding_file(tmp_path / "vectors.csv")
    assert str(caught.value) == (
        f"{tmp_path / 'vectors.csv'}: cannot infer the format from the suffix (got '.csv'); "
        "accepted: h5, npy, parquet"
    )
    vectors, _ = write_npy(tmp_path, MATRIX, ACCESSIONS)
    with pytest.raises(InputError) as caught:
        read_embedding_file(vectors)
    assert str(caught.value) == "accessions: a .npy matrix needs an accession list file (got None)"


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


@pytest.mark.parametrize(
    ("name", "data", "reason", "accepted"),
    [
        ("empty.npy", b"", "the file is empty", "a numeric matrix written by numpy.save"),
        (
            "picture.npy",
            PNG,
            "it does not start with the .npy signature",
            "a numeric matrix written by numpy.save",
        ),
        (
            "text.h5",
            b"not hdf5\n",
            "it has no HDF5 signature",
            "an HDF5 file with one 1-D dataset per accession",
        ),
        (
            "text.parquet",
            b"not parquet\n",
            "it is damaged, truncated or in another format",
            "a Parquet file with an accession column",
        ),
    ],
)
def test_a_file_its_reader_cannot_open_is_an_input_error(
    tmp_path: Path, name: str, data: bytes, reason: str, accepted: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    (tmp_path / "accessions.txt").write_text("P1\n")
    with pytest.raises(InputError) as caught:
        read_embedding_file(path, accessions_path=tmp_path / "accessions.txt")
    suffix = path.suffix
    assert str(caught.value) == (
        f"{path}: not a readable {suffix} file: {reason} (got {data[:16]!r}); accepted: {accepted}"
    )
    assert "pickle" not in str(caught.value)


def test_npy_of_python_objects_is_refused_without_unpickling(tmp_path: Path) -> None:
    np.save(tmp_path / "objects.npy", np.array([[1, None]], dtype=object), allow_pickle=True)
    (tmp_path / "accessions.txt").write_text("P1\n")
    with pytest.raises(InputError) as caught:
        read_embedding_file(tmp_path / "objects.npy", accessions_path=tmp_path / "accessions.txt")
    message = str(caught.value)
    assert "not a readable .npy file" in message and "pickle" not in message
    strings, names = write_npy(tmp_path, np.array([["a", "b"]]), ["P1"])
    with pytest.raises(InputError) as caught:
        read_embedding_file(strings, accessions_path=names)
    assert str(caught.value) == (
        f"{strings}: vectors are not numeric (got '<U1'); accepted: integers or floats"
    )


def test_blank_line_in_accession_list_names_file_and_line(tmp_path: Path) -> None:
    vectors, names = write_npy(tmp_path, MATRIX, ACCESSIONS)
    names.write_text("P38903\n\nQ12754\nP32457\n")
    with pytest.raises(InputError) as caught:
        read_embedding_file(vectors, accessions_path=names)
    assert str(caught.value) == (
        f"{names}:2: blank line in the accession list (got ''); "
        "accepted: one accession per line, in the order of the matrix rows"
    )
    # Blank lines after the last accession shift nothing and are ignored.
    names.write_text("\n".join(ACCESSIONS) + "\n\n\n")
    accessions, _ = read_embedding_file(vectors, accessions_path=names)
    assert accessions == ACCESSIONS


def test_zero_vector_is_refused_naming_file_row_and_accession(tmp_path: Path) -> None:
    """A zero vector has no direction, so no cosine distance to any other."""
    matrix = MATRIX.copy()
    matrix[1] = 0.0
    vectors, accessions = write_npy(tmp_path, matrix, ACCESSIONS)
    with pytest.raises(InputError, match=r"zero vector in row 1 \(accession Q12754\)") as caught:
        read_embedding_file(vectors, accessions_path=accessions)
    assert caught.value.field == str(vectors)
    assert caught.value.value == "Q12754"
    path = write_h5(tmp_path / "zero.h5", {"P1": np.ones(3), "P2": np.zeros(3)})
    with pytest.raises(InputError, match=r"zero vector in row 1 \(accession P2\)"):
        read_embedding_file(path)
    path = tmp_path / "zero.parquet"
    pq.write_table(pa.table({"accession": ["P1", "P2"], "x": [0.0, 1.0], "y": [0.0, 2.0]}), path)
    with pytest.raises(InputError, match=r"zero vector in row 0 \(accession P1\)"):
        read_embedding_file(path)


def test_null_accession_in_parquet_is_refused_naming_the_row(tmp_path: Path) -> None:
    """str(None) would have stored the accession 'None'."""
    path = tmp_path / "null.parquet"
    table = pa.table({"accession": ["P1", None], "embedding": [[1.0, 2.0], [3.0, 4.0]]})
    pq.write_table(table, path)
    with pytest.raises(InputError, match="null accession in row 1") as caught:
        read_embedding_file(path)
    assert caught.value.field == str(path)
