"""Streaming readers of the input files (OBO, GAF, FASTA, embedding files); no database access.

This module holds what the readers share: opening a file that may be gzipped, and the record
of a line or record a reader skipped instead of raising.
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class SkippedLine:
    """A line (or record starting at that line) that a reader could not use, and why."""

    line_number: int
    reason: str
    detail: str = ""

    @property
    def message(self) -> str:
        """The reason with its detail, as a report lists it."""
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


def is_gzipped(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes, whatever its suffix says."""
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_text(path: Path) -> TextIO:
    """Open a text file for reading, decompressing it when it is gzipped."""
    if is_gzipped(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")
