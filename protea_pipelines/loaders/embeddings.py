"""Load a user's embedding file (H5, .npy plus accessions, parquet) as an embedding config."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from protea_pipelines.loaders import require_file
from protea_pipelines.loaders.report import LoadTally
from protea_pipelines.parsers.embedding_files import infer_format, read_embedding_file
from protea_pipelines.store.embedding_store import check_config_name, save_embeddings
from protea_pipelines.store.models import EmbeddingConfig, LoadReport


def load_embedding_file(
    session: Session,
    path: Path,
    name: str,
    fmt: str | None = None,
    accessions_path: Path | None = None,
    model: str = "",
) -> tuple[EmbeddingConfig, LoadReport]:
    """Read, check and store the vectors; any bad vector fails the whole load (InputError)."""
    check_config_name(name)
    require_file(path)
    if accessions_path is not None:
        require_file(accessions_path)
    fmt = fmt or infer_format(path)
    accessions, matrix = read_embedding_file(path, fmt, accessions_path)
    config = save_embeddings(session, name, accessions, matrix, model=model, source_file=path.name)
    tally = LoadTally(rows_read=len(accessions), rows_kept=len(accessions))
    tally.notes.update({"format": fmt, "dim": config.dim, "matrix_sha256": config.matrix_sha256})
    return config, tally.store(session, "embeddings", name, path.name)
