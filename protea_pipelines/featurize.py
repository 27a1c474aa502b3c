"""Hashed k-mer count vectors of protein sequences: a deterministic stand-in for learned embeddings.

Each overlapping k-mer is put in one of `dim` buckets by blake2b of its bytes (never Python's
salted hash()), the counts are optionally signed by another bit of the digest, and each vector is
L2-normalised. Vectorised with numpy: residues become integer codes, k-mers become base-27
numbers, and only the k-mers that occur are hashed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from protea_pipelines.errors import InputError
from protea_pipelines.loaders.report import LoadTally
from protea_pipelines.store.embedding_store import check_config_name, save_embeddings
from protea_pipelines.store.models import EmbeddingConfig, LoadReport, ProteinSequence

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
BASE = len(ALPHABET)
MAX_KMER = 12  # BASE**12 still fits in int64
_CODE_OF_BYTE = np.full(256, -1, dtype=np.int64)
_CODE_OF_BYTE[np.frombuffer(ALPHABET.encode(), dtype=np.uint8)] = np.arange(BASE)


def model_string(dim: int, kmer: int, signed: bool) -> str:
    """What a config records so that the same vectors can be made again."""
    return f"hashed-kmer k={kmer} dim={dim} blake2b" + (" signed" if signed else "")


def kmer_buckets(codes: np.ndarray, kmer: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(bucket, sign) of each base-27 k-mer code, from blake2b of the k-mer's letters."""
    buckets = np.empty(len(codes), dtype=np.int64)
    signs = np.empty(len(codes), dtype=np.float64)
    for index, code in enumerate(codes.tolist()):
        letters = []
        for _ in range(kmer):
            code, digit = divmod(code, BASE)
            letters.append(ALPHABET[digit])
        digest = hashlib.blake2b("".join(reversed(letters)).encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        buckets[index] = value % dim
        signs[index] = -1.0 if value >> 63 else 1.0
    return buckets, signs


def hashed_kmer_vectors(
    sequences: Sequence[str], dim: int = 320, kmer: int = 3, signed: bool = False
) -> np.ndarray:
    """float32 (len(sequences), dim); a row is all zeros when its sequence has no k-mer."""
    if not 1 <= kmer <= MAX_KMER:
        raise InputError("kmer", kmer, f"k-mer length must be between 1 and {MAX_KMER}")
    if dim < 1:
        raise InputError("dim", dim, "dimension must be a positive integer")
    joined = np.frombuffer("".join(sequences).upper().encode("ascii", "replace"), np.uint8)
    residues = _CODE_OF_BYTE[joined]
    lengths = np.array([len(sequence) for sequence in sequences], dtype=np.int64)
    owner = np.repeat(np.arange(len(sequences)), lengths)
    n_starts = max(len(residues) - kmer + 1, 0)
    codes = np.zeros(n_starts, dtype=np.int64)
    valid = np.ones(n_starts, dtype=bool)
    for offset in range(kmer):
        window = residues[offset : offset + n_starts]
        codes = codes * BASE + np.maximum(window, 0)
        valid &= window >= 0
    # A k-mer is counted only when it lies inside one sequence.
    valid &= owner[:n_starts] == owner[kmer - 1 : kmer - 1 + n_starts]
    codes, rows = codes[valid], owner[:n_starts][valid]
    unique_codes, inverse = np.unique(codes, return_inverse=True)
    buckets, signs = kmer_buckets(unique_codes, kmer, dim)
    weights = signs[inverse] if signed else np.ones(len(codes))
    counts = np.bincount(
        rows * dim + buckets[inverse], weights=weights, minlength=len(sequences) * dim
    ).reshape(len(sequences), dim)
    norms = np.linalg.norm(counts, axis=1, keepdims=True)
    return (counts / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def featurize_sequences(
    session: Session, name: str, dim: int = 320, kmer: int = 3, signed: bool = False
) -> tuple[EmbeddingConfig, LoadReport]:
    """Embed every stored protein sequence (by accession) and save it as embedding config name.

    A sequence without any k-mer (shorter than kmer, or signed counts that cancel) gets no
    vector, since a zero vector has no cosine distance.
    """
    check_config_name(name)
    rows = session.execute(
        select(ProteinSequence.accession, ProteinSequence.sequence).order_by(
            ProteinSequence.accession
        )
    ).all()
    if not rows:
        raise InputError("protein_sequences", 0, "no stored sequences to featurize")
    accessions = [accession for accession, _ in rows]
    vectors = hashed_kmer_vectors([sequence for _, sequence in rows], dim, kmer, signed)
    embedded = np.linalg.norm(vectors, axis=1) > 0
    tally = LoadTally(rows_read=len(rows), rows_kept=int(embedded.sum()))
    if not embedded.all():
        tally.skip("no k-mer to count", int((~embedded).sum()))
    kept = [accession for accession, keep in zip(accessions, embedded, strict=True) if keep]
    model = model_string(dim, kmer, signed)
    config = save_embeddings(session, name, kept, vectors[embedded], model=model)
    tally.notes.update({"model": model, "matrix_sha256": config.matrix_sha256})
    return config, tally.store(session, "featurize", name, "protein_sequences")
