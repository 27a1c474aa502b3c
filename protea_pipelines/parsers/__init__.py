"""Streaming readers of the input files (OBO, GAF, FASTA, embedding files); no database access.

This module holds what the readers share: opening a file that may be gzipped, and the record
of a line or record a reader skipped instead of raising.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from protea_pipelines.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"
TEXT_ACCEPTED = "UTF-8 text, plain or gzipped"
GZIP_ACCEPTED = "a complete gzip file (download it again)"
SHOWN_BYTES = 16


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


@contextmanager
def open_text(path: Path) -> Iterator[Iterator[str]]:
    """The lines of a text file, decompressed when it is gzipped, as `with open_text(p) as lines`.

    Decoding and decompressing happen while the lines are read, so that is where a binary file
    (a PNG named .gaf) or a cut-off download shows; both become an InputError naming the file
    instead of a UnicodeDecodeError or EOFError that the command line would show as a traceback.
    """
    gzipped = is_gzipped(path)
    if gzipped:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
            yield _checked_lines(path, handle, gzipped)
    else:
        with open(path, encoding="utf-8", newline="") as handle:
            yield _checked_lines(path, handle, gzipped)


def _checked_lines(path: Path, handle: TextIO, gzipped: bool) -> Iterator[str]:
    while True:
        try:
            line = next(handle, None)
        except UnicodeDecodeError as error:
            raise not_text_error(path, gzipped) from error
        except EOFError as error:
            problem = "truncated gzip file: the data stops before its end marker"
            raise gzip_error(path, problem) from error
        except (gzip.BadGzipFile, zlib.error) as error:
            raise gzip_error(path, f"damaged gzip file ({error})") from error
        if line is None:
            return
        yield line


def not_text_error(path: Path, gzipped: bool = False) -> InputError:
    """The error for a file that is not UTF-8 text, naming the first line that is not."""
    _, bad = _rescan(path, gzipped)
    if bad is None:
        return InputError(str(path), None, "not a text file: it is not UTF-8", TEXT_ACCEPTED)
    line_number, line = bad
    return InputError(
        str(path),
        line[:SHOWN_BYTES],
        f"not a text file: line {line_number} is not UTF-8",
        TEXT_ACCEPTED,
    )


def gzip_error(path: Path, problem: str) -> InputError:
    """The error for gzip data that cannot be read to its end, with how many lines it held."""
    complete, _ = _rescan(path, gzipped=True)
    return InputError(str(path), complete, f"{problem}; complete lines before it", GZIP_ACCEPTED)


def _rescan(path: Path, gzipped: bool) -> tuple[int, tuple[int, bytes] | None]:
    """(complete lines read, the first line that is not UTF-8 with its number, or None).

    The text reader decodes and decompresses in chunks, so the line it had reached is not the
    one at fault; reading the bytes again line by line finds it (a newline byte never sits
    inside a UTF-8 sequence). Reading stops at that line or where the gzip data breaks off.
    """
    complete = 0
    try:
        with gzip.open(path, "rb") if gzipped else open(path, "rb") as handle:
            for line_number, line in enumerate(handle, start=1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError:
                    return complete, (line_number, line)
                complete += line.endswith(b"\n")
    except (EOFError, OSError, zlib.error):
        pass  # the gzip data breaks off here: what was read so far is the answer
    return complete, None
