"""Embedding configs on disk: one float32 .npy matrix plus an accession list per config.

The database holds one EmbeddingConfig row per config (dimension, count, matrix hash), never a
row per vector; the vectors live under PROTEA_HOME/embeddings/<name>/.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from protea_pipelines import settings
from protea_pipelines.errors import InputError
from protea_pipelines.parsers.embedding_files import validate_embeddings
from protea_pipelines.store.models import EmbeddingConfig

NAME_PATTERN = re.compile(r"[A-Za-z0-9._-]+")
VECTORS_FILE = "vectors.npy"
ACCESSIONS_FILE = "accessions.txt"


@dataclass(frozen=True)
class EmbeddingMatrix:
    """The vectors of one config, memory-mapped read-only, with their accessions in row order."""

    config_name: str
    accessions: tuple[str, ...]
    vectors: np.ndarray

    @cached_property
    def row_of(self) -> dict[str, int]:
        """accession -> row index in vectors."""
        return {accession: row for row, accession in enumerate(self.accessions)}


def check_config_name(name: str) -> str:
    """The name when it is one safe path segment; it becomes a directory name."""
    if len(name) > 100 or not NAME_PATTERN.fullmatch(name) or name.startswith("."):
        raise InputError(
            "name",
            name,
            "not a safe embedding config name",
            "letters, digits, '.', '_' and '-', not starting with '.', at most 100 characters",
        )
    return name


def config_dir(name: str) -> Path:
    return settings.embeddings_dir() / check_config_name(name)


def matrix_sha256(vectors: np.ndarray) -> str:
    """sha256 of the float32 bytes in C order."""
    return hashlib.sha256(np.ascontiguousarray(vectors, dtype=np.float32).tobytes()).hexdigest()


def save_embeddings(
    session: Session,
    name: str,
    accessions: Sequence[str],
    matrix: np.ndarray,
    model: str = "",
    source_file: str = "",
) -> EmbeddingConfig:
    """Write the matrix and accession list atomically and add the config row (flushed).

    A directory left without a config row (its transaction rolled back after the files were
    moved in place) is replaced: the row is the record of what exists.
    """
    target = config_dir(name)
    if session.scalar(select(EmbeddingConfig.id).where(EmbeddingConfig.name == name)):
        raise InputError("name", name, "an embedding config with this name already exists")
    vectors = validate_embeddings(f"embedding config {name}", list(accessions), matrix)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The temporary directory starts with '.', which no config name may, so it never collides.
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        np.save(staging / VECTORS_FILE, vectors, allow_pickle=False)
        (staging / ACCESSIONS_FILE).write_text(
            "".join(f"{accession}\n" for accession in accessions), encoding="utf-8"
        )
        if target.exists():
            shutil.rmtree(target)
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    config = EmbeddingConfig(
        name=name,
        dim=int(vectors.shape[1]),
        n_vectors=int(vectors.shape[0]),
        model=model,
        source_file=source_file,
        matrix_sha256=matrix_sha256(vectors),
    )
    try:
        session.add(config)
        session.flush()
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return config


def load_embeddings(name: str) -> EmbeddingMatrix:
    """The stored vectors of a config, memory-mapped (nothing is read until used)."""
    directory = config_dir(name)
    vectors_path = directory / VECTORS_FILE
    accessions_path = directory / ACCESSIONS_FILE
    if not vectors_path.is_file() or not accessions_path.is_file():
        raise InputError("embedding config", name, f"no stored vectors under {directory}")
    vectors = np.load(vectors_path, mmap_mode="r", allow_pickle=False)
    accessions = tuple(accessions_path.read_text(encoding="utf-8").splitlines())
    if vectors.ndim != 2 or vectors.shape[0] != len(accessions):
        raise InputError(
            "embedding config",
            name,
            f"{vectors_path} has shape {vectors.shape} for {len(accessions)} accessions",
        )
    return EmbeddingMatrix(config_name=name, accessions=accessions, vectors=vectors)
