"""Reader of GAF 2.0 / 2.1 / 2.2 annotation files, plain or gzipped.

Malformed lines are yielded as SkippedLine (line number and reason) so a loader can count them;
strict mode raises ParseError instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from protea_pipelines.errors import ParseError
from protea_pipelines.parsers import SkippedLine, open_text

GO_ID_PATTERN = re.compile(r"GO:\d{7}")
GO_ID_ACCEPTED = "GO: and 7 digits"
ASPECTS = ("P", "F", "C")
DATE_ACCEPTED = "YYYYMMDD"
MIN_COLUMNS = 15
MAX_COLUMNS = 17
# Column sizes of the annotations table: PostgreSQL refuses longer values (SQLite does not), so
# a longer value is a malformed line here rather than a failed load later.
MAX_LENGTHS = {"accession": 100, "qualifier": 100, "evidence code": 10, "assigned by": 100}


@dataclass(frozen=True)
class GafRecord:
    accession: str
    qualifier: str
    is_negated: bool
    go_id: str
    reference: str
    evidence_code: str
    aspect: str
    taxon: str
    date: date
    assigned_by: str
    line_number: int


def read_gaf_version(path: Path) -> str | None:
    """The value of the `!gaf-version:` header line, None when the header has none."""
    with open_text(path) as handle:
        for line in handle:
            if not line.startswith("!"):
                break
            tag, sep, value = line[1:].partition(":")
            if sep and tag.strip().lower() == "gaf-version":
                return value.strip()
    return None


def iter_gaf(path: Path, *, strict: bool = False) -> Iterator[GafRecord | SkippedLine]:
    """Each data line of the file as a record, or as a SkippedLine when it is malformed."""
    with open_text(path) as handle:
        for line_number, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line or line.startswith("!"):
                continue
            record = parse_gaf_line(line, line_number)
            if isinstance(record, SkippedLine) and strict:
                raise ParseError(str(path), line_number, record.message, line)
            yield record


def parse_gaf_line(line: str, line_number: int) -> GafRecord | SkippedLine:
    columns = line.split("\t")
    if not MIN_COLUMNS <= len(columns) <= MAX_COLUMNS:
        return SkippedLine(
            line_number,
            "wrong column count",
            f"found {len(columns)}, expected {MIN_COLUMNS} to {MAX_COLUMNS} tab-separated",
        )
    if "\x00" in line:
        # PostgreSQL text cannot hold a NUL byte; no GAF column has a use for one.
        column = next(index for index, value in enumerate(columns) if "\x00" in value)
        return SkippedLine(line_number, "NUL byte", f"in column {column + 1}")
    accession = columns[1].strip()
    qualifier = columns[3].strip()
    go_id = columns[4].strip()
    evidence_code = columns[6].strip()
    aspect = columns[8].strip()
    if not accession:
        return SkippedLine(line_number, "empty accession")
    if not GO_ID_PATTERN.fullmatch(go_id):
        return SkippedLine(line_number, "bad GO id", _got(go_id, GO_ID_ACCEPTED))
    if not evidence_code:
        return SkippedLine(line_number, "empty evidence code")
    if aspect not in ASPECTS:
        return SkippedLine(line_number, "unknown aspect", _got(aspect, ", ".join(ASPECTS)))
    sized = {
        "accession": accession,
        "qualifier": qualifier,
        "evidence code": evidence_code,
        "assigned by": columns[14].strip(),
    }
    for name, value in sized.items():
        if len(value) > MAX_LENGTHS[name]:
            return SkippedLine(
                line_number,
                f"{name} too long",
                f"{len(value)} characters; accepted: at most {MAX_LENGTHS[name]}",
            )
    annotation_date = _parse_date(columns[13].strip())
    if annotation_date is None:
        return SkippedLine(line_number, "bad date", _got(columns[13].strip(), DATE_ACCEPTED))
    return GafRecord(
        accession=accession,
        qualifier=qualifier,
        is_negated="NOT" in qualifier.upper().split("|"),
        go_id=go_id,
        reference=columns[5].strip(),
        evidence_code=evidence_code,
        aspect=aspect,
        taxon=columns[12].strip(),
        date=annotation_date,
        assigned_by=columns[14].strip(),
        line_number=line_number,
    )


def _got(value: str, accepted: str) -> str:
    """The detail of a skipped line: the value found and what the column accepts."""
    return f"{value!r}; accepted: {accepted}"


def _parse_date(text: str) -> date | None:
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None
