"""The hashed k-mer featurizer: stable buckets, no k-mer across sequences, unit L2 norm."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from protea_pipelines.errors import InputError
from protea_pipelines.featurize import featurize_sequences, hashed_kmer_vectors
from protea_pipelines.loaders.sequences import load_sequences
from protea_pipelines.parsers.fasta import FastaRecord, iter_fasta
from protea_pipelines.store import db
from protea_pipelines.store.embedding_store import load_embeddings

FASTA = Path(__file__).parent.parent / "fixtures" / "yeast_5.fasta"


def bucket(kmer: str, dim: int) -> int:
    digest = hashlib.blake2b(kmer.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % dim


def test_counts_land_in_blake2b_buckets() -> None:
    # MKVMKV has the 3-mers MKV (twice), KVM and VMK.
    expected = np.zeros(64)
    for kmer, count in {"MKV": 2, "KVM": 1, "VMK": 1}.items():
        expected[bucket(kmer, 64)] += count
    expected /= np.linalg.norm(expected)
    vectors = hashed_kmer_vectors(["MKVMKV"], dim=64, kmer=3)
    assert vectors.dtype == np.float32
    assert np.array_equal(vectors[0], expected.astype(np.float32))


def test_kmers_do_not_cross_sequences_and_short_ones_are_zero() -> None:
    joint = hashed_kmer_vectors(["MKVL", "AG", "WYQ*"], dim=32, kmer=3)
    apart = np.vstack([hashed_kmer_vectors([s], dim=32, kmer=3) for s in ("MKVL", "AG", "WYQ*")])
    assert np.array_equal(joint, apart)
    assert not joint[1].any()
    assert np.allclose(np.linalg.norm(joint[[0, 2]], axis=1), 1.0, atol=1e-6)


def test_deterministic_and_unit_norm_on_real_sequences() -> None:
    sequences = [item.sequence for item in iter_fasta(FASTA) if isinstance(item, FastaRecord)]
    first = hashed_kmer_vectors(sequences)
    assert first.shape == (5, 320)
    assert np.array_equal(first, hashed_kmer_vectors(sequences))
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-6)
    signed = hashed_kmer_vectors(sequences, signed=True)
    assert np.allclose(np.linalg.norm(signed, axis=1), 1.0, atol=1e-6)
    assert (signed < 0).any() and not (first < 0).any()


def test_bad_parameters() -> None:
    with pytest.raises(InputError, match="k-mer length must be between 1 and 12"):
        hashed_kmer_vectors(["MKV"], kmer=0)
    with pytest.raises(InputError, match="dimension must be a positive integer"):
        hashed_kmer_vectors(["MKV"], dim=0)


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    monkeypatch.setenv("PROTEA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PROTEA_DATABASE_URL", raising=False)
    db.dispose_engines()
    with db.session_scope() as session:
        yield session
    db.dispose_engines()


def test_featurize_stored_sequences(session: Session) -> None:
    load_sequences(session, FASTA)
    config, report = featurize_sequences(session, "kmer3")
    assert config.model == "hashed-kmer k=3 dim=320 blake2b"
    assert (config.dim, config.n_vectors) == (320, 5)
    assert (report.kind, report.rows_read, report.rows_kept, report.skipped) == (
        "featurize",
        5,
        5,
        {},
    )
    records = sorted(
        (item for item in iter_fasta(FASTA) if isinstance(item, FastaRecord)),
        key=lambda record: record.accession,
    )
    stored = load_embeddings("kmer3")
    assert stored.accessions == tuple(record.accession for record in records)
    expected = hashed_kmer_vectors([record.sequence for record in records])
    assert np.array_equal(stored.vectors, expected)
    assert config.matrix_sha256 == hashlib.sha256(expected.tobytes()).hexdigest()
    # Pinned: a change here means old configs can no longer be reproduced from their model string.
    assert config.matrix_sha256 == (
        "a6b3acf127f097fd3b9d8db73720686803429d919c211e0e90b74b966d90b35e"
    )
