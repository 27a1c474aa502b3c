"""Reader of protein FASTA files (UniProt headers or plain ones), skipping unusable records."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from protea_pipelines.parsers import SkippedLine, open_text

# The 26 letters cover the IUPAC amino-acid codes with ambiguity (B, Z, X) and U/O;
# '*' marks a stop in translated sequences.
SEQUENCE_PATTERN = re.compile(r"[A-Z*]+")
SEQUENCE_ACCEPTED = "A-Z and *"
UNIPROT_HEADER = re.compile(r"(?:sp|tr)\|([^|\s]+)\|\S*")
# The size of protein_sequences.accession: PostgreSQL refuses longer values, SQLite does not.
MAX_ACCESSION_LENGTH = 100


@dataclass(frozen=True)
class FastaRecord:
    accession: str
    description: str
    sequence: str
    line_number: int


def accession_of_header(header: str) -> tuple[str, str]:
    """(accession, description) of a header without its '>'."""
    first, _, rest = header.strip().partition(" ")
    match = UNIPROT_HEADER.fullmatch(first)
    if match:
        return match.group(1), rest.strip()
    return first, rest.strip()


def iter_fasta(path: Path) -> Iterator[FastaRecord | SkippedLine]:
    """Each record of the file, or a SkippedLine (at its header line) when it cannot be used."""
    first_seen: dict[str, int] = {}
    for line_number, header, sequence in _iter_raw_records(path):
        accession, description = accession_of_header(header)
        if "\x00" in header:
            # PostgreSQL text cannot hold a NUL byte; no header has a use for one.
            yield SkippedLine(line_number, "NUL byte in header")
        elif not accession:
            yield SkippedLine(line_number, "header without accession")
        elif len(accession) > MAX_ACCESSION_LENGTH:
            yield SkippedLine(
                line_number,
                "accession too long",
                f"{accession[:20]}... has {len(accession)} characters; "
                f"accepted: at most {MAX_ACCESSION_LENGTH}",
            )
        elif not sequence:
            yield SkippedLine(line_number, "empty sequence", accession)
        elif not SEQUENCE_PATTERN.fullmatch(sequence):
            bad = sorted(set(SEQUENCE_PATTERN.sub("", sequence)))
            yield SkippedLine(
                line_number,
                "characters outside the amino-acid alphabet",
                f"{accession} has {''.join(bad)!r}; accepted: {SEQUENCE_ACCEPTED}",
            )
        elif accession in first_seen:
            yield SkippedLine(
                line_number,
                "duplicate accession",
                f"{accession} (first at line {first_seen[accession]})",
            )
        else:
            first_seen[accession] = line_number
            yield FastaRecord(accession, description, sequence, line_number)


def _iter_raw_records(path: Path) -> Iterator[tuple[int, str, str]]:
    header: str | None = None
    header_line = 0
    chunks: list[str] = []
    with open_text(path) as handle:
        for line_number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if line.startswith(">"):
                if header is not None:
                    yield header_line, header, "".join(chunks).upper()
                header, header_line, chunks = line[1:], line_number, []
            elif header is not None:
                chunks.append("".join(line.split()))
    if header is not None:
        yield header_line, header, "".join(chunks).upper()
