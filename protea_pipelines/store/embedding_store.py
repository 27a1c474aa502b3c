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
from sqlalchemy.exc import IntegrityError
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
    """Add the config row (flushed), then write the matrix and accession list atomically.

    The row is flushed first because its unique name is the claim on the directory: a second
    load of the same name waits on it and then fails, before it touches any file. Holding the
    claim, a directory already at the target has no committed row (its transaction rolled back
    after the files were moved in place) and is replaced. On failure only what this call
    created is removed: its staging directory, or the target when this call moved it there.
    """
    target = config_dir(name)
    if session.scalar(select(EmbeddingConfig.id).where(EmbeddingConfig.name == name)):
        raise _name_taken(name)
    vectors = validate_embeddings(f"embedding config {name}", list(accessions), matrix)
    config = EmbeddingConfig(
        name=name,
        dim=int(vectors.shape[1]),
        n_vectors=int(vectors.shape[0]),
        model=model,
        source_file=source_file,
        matrix_sha256=matrix_sha256(vectors),
    )
    session.add(config)
    try:
        session.flush()
    except IntegrityError as error:
        # Another load committed this name after the check above; name is the only unique
        # column of the row, so this is that conflict, reported like the check reports it.
        raise _name_taken(name) from error
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_config_dir(name, target, accessions, vectors)
    except BaseException:
        # No files, so no row: a caller that goes on with this session must not commit a
        # config without vectors.
        session.delete(config)
        session.flush()
        raise
    return config


def _name_taken(name: str) -> InputError:
    return InputError("name", name, "an embedding config with this name already exists")


def _write_config_dir(
    name: str, target: Path, accessions: Sequence[str], vectors: np.ndarray
) -> None:
    """Write into a staging directory, then rename it to target (the caller holds the name).

    The temporary directories start with '.', which no config name may, so they never collide
    with a config directory.
    """
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    stale: Path | None = None
    try:
        np.save(staging / VECTORS_FILE, vectors, allow_pickle=False)
        (staging / ACCESSIONS_FILE).write_text(
            "".join(f"{accession}\n" for accession in accessions), encoding="utf-8"
        )
        if target.exists():
            # Moved aside, not deleted, until the new directory is in place: a failure below
            # puts it back, so a failed call leaves the directory as it found it.
            stale = Path(tempfile.mkdtemp(prefix=f".{name}.stale.", dir=target.parent))
            os.rename(target, stale / "config")
        os.rename(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if stale is not None:
            if (stale / "config").exists() and not target.exists():
                os.rename(stale / "config", target)
            shutil.rmtree(stale, ignore_errors=True)
        raise
    if stale is not None:
        shutil.rmtree(stale, ignore_errors=True)


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
