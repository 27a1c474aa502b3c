"""Loaders: read input files through the parsers and write them to the store in bulk.

Each loader takes a Session, flushes, and leaves the commit to the caller's session_scope.
This module holds what they share: file checks and hashes, chunked inserts, progress display.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from sqlalchemy import insert
from sqlalchemy.orm import Session

from protea_pipelines.errors import InputError

INSERT_CHUNK = 5000
T = TypeVar("T")


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise InputError("file", str(path), "no such file")
    return path


def file_sha256(path: Path) -> str:
    """sha256 of the file's bytes as stored (a gzipped file is hashed compressed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bulk_insert(session: Session, model: type[Any], rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows in chunks with one executemany each, instead of one ORM object per row."""
    for start in range(0, len(rows), INSERT_CHUNK):
        session.execute(insert(model), list(rows[start : start + INSERT_CHUNK]))


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Yield items, with a transient progress bar when stderr is a terminal (never in CI logs)."""
    if not sys.stderr.isatty():
        yield from items
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)
