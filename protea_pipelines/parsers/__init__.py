"""Streaming readers of the input files (OBO, GAF, FASTA, embedding files); no database access.

This module holds what the readers share: opening a file that may be gzipped, and the record
of a line or record a reader skipped instead of raising.
"""

from __future__ import annotations

import codecs
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
RESCAN_BLOCK = 1 << 20
GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib reads the gzip header and trailer itself


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
    """(complete lines read, the first line that is not UTF-8 with its number and first
    bytes, or None).

    The text reader decodes and decompresses in chunks, so the line it had reached is not the
    one at fault; reading the bytes again line by line finds it (a newline byte never sits
    inside a UTF-8 sequence). Reading stops at that line or where the gzip data breaks off.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    complete = 0
    head = b""  # the first bytes of the line being read, to show if it is the bad one
    try:
        for chunk in _raw_chunks(path, gzipped):
            pieces = chunk.split(b"\n")
            for index, piece in enumerate(pieces):
                ends_line = index < len(pieces) - 1
                head = (head + piece[:SHOWN_BYTES] + b"\n" * ends_line)[:SHOWN_BYTES]
                decoder.decode(piece + b"\n" * ends_line)
                if ends_line:
                    complete += 1
                    head = b""
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return complete, (complete + 1, head)
    except zlib.error:
        pass  # the gzip data is damaged here: what was read so far is the answer
    return complete, None


def _raw_chunks(path: Path, gzipped: bool) -> Iterator[bytes]:
    """The file's bytes, decompressed when gzipped; a cut-off gzip stream just ends early.

    zlib is used directly, not gzip.open, because it hands out everything that precedes the
    cut, where gzip.open drops its last partial block when it meets the end of the file.
    """
    with open(path, "rb") as handle:
        blocks = iter(lambda: handle.read(RESCAN_BLOCK), b"")
        if not gzipped:
            yield from blocks
            return
        decoder = zlib.decompressobj(wbits=GZIP_WBITS)
        for block in blocks:
            while block:
                yield decoder.decompress(block)
                block = decoder.unused_data
                if block:  # a file may hold several gzip members one after the other
                    decoder = zlib.decompressobj(wbits=GZIP_WBITS)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
