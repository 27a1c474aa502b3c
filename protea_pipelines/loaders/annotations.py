"""Load GAF files as one annotation set: a real release (version N) or a date cut of one.

Rows are read through an ontology snapshot (alt ids remapped, obsolete and unknown terms
dropped, aspect taken from the term's namespace) and keyed on (accession, GO id, evidence code,
negation); repeated keys are merged into one stored row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protea_pipelines.errors import InputError
from protea_pipelines.loaders import bulk_insert, file_sha256, require_file, track
from protea_pipelines.loaders.report import LoadTally, nothing_usable
from protea_pipelines.parsers import SkippedLine
from protea_pipelines.parsers.gaf import GafRecord, iter_gaf, read_gaf_version
from protea_pipelines.store.models import (
    Annotation,
    AnnotationSet,
    GoAltId,
    GoTerm,
    LoadReport,
    OntologySnapshot,
)

# The source becomes part of Dagster partition keys, which cannot start with '.'.
SOURCE_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
SOURCE_ACCEPTED = (
    "letters, digits, '.', '_' and '-', starting with a letter, digit or '_', "
    "at most 100 characters"
)
MAX_SOURCE_LENGTH = 100  # the length of annotation_sets.source
# version_number is an INTEGER column: PostgreSQL refuses more (SQLite would store it).
MAX_VERSION = 2_147_483_647
GAF_ACCEPTED = "GAF 2.0 to 2.2: tab-separated annotation lines, plain or gzipped"
AnnotationKey = tuple[str, str, str, bool]


@dataclass(frozen=True)
class TermIndex:
    """The terms of one ontology snapshot as the loader needs them."""

    aspect: dict[str, str]
    obsolete: frozenset[str]
    primary_of_alt: dict[str, str]

    @classmethod
    def of_snapshot(cls, session: Session, snapshot_id: int) -> TermIndex:
        rows = session.execute(
            select(GoTerm.go_id, GoTerm.aspect, GoTerm.is_obsolete).where(
                GoTerm.snapshot_id == snapshot_id
            )
        ).all()
        alt_rows = session.execute(
            select(GoAltId.alt_id, GoAltId.primary_go_id).where(GoAltId.snapshot_id == snapshot_id)
        ).all()
        return cls(
            aspect={go_id: aspect for go_id, aspect, _ in rows},
            obsolete=frozenset(go_id for go_id, _, is_obsolete in rows if is_obsolete),
            primary_of_alt=dict(alt_rows),
        )


def load_annotation_set(
    session: Session,
    paths: list[Path],
    source: str,
    ontology_name: str,
    version: int | None = None,
    cutoff_date: date | None = None,
    release_label: str = "",
) -> tuple[AnnotationSet, LoadReport]:
    """Store the rows of the files as the set (source, version); see the module docstring.

    A date cut keeps rows dated on or before cutoff_date and is versioned by the cutoff as
    YYYYMMDD. The set's file_name and sha256 are comma-joined, one entry per file in order.
    Files that yield no row to keep are an InputError and store nothing.
    """
    version_number = _version_of(version, cutoff_date)
    if len(source) > MAX_SOURCE_LENGTH or not SOURCE_PATTERN.fullmatch(source):
        raise InputError("source", source, "not a valid source name", SOURCE_ACCEPTED)
    if not paths:
        raise InputError("paths", paths, "no GAF file given")
    for path in paths:
        require_file(path)
    snapshot = session.scalar(
        select(OntologySnapshot).where(OntologySnapshot.name == ontology_name)
    )
    if snapshot is None:
        raise InputError("ontology", ontology_name, "no ontology snapshot with this name")
    existing = select(AnnotationSet.id).where(
        AnnotationSet.source == source, AnnotationSet.source_version == str(version_number)
    )
    if session.scalar(existing):
        raise _set_exists(source, version_number)

    tally = LoadTally()
    # Counted notes are present even at zero, so every annotation report has the same shape.
    tally.notes.update(
        {"alt ids remapped": 0, "GAF aspect differs from ontology": 0, "malformed lines": []}
    )
    merged = _read_rows(paths, TermIndex.of_snapshot(session, snapshot.id), cutoff_date, tally)
    if not merged:
        # An empty set would become pred(v) of the next version and make every annotation of
        # that version look new: refuse it before anything is stored.
        first = tally.notes["malformed lines"][:1] or [None]
        files = ", ".join(str(path) for path in paths)
        raise nothing_usable(files, "annotation row", "data lines", tally, first[0], GAF_ACCEPTED)
    names = [path.name for path in paths]
    annotation_set = AnnotationSet(
        source=source,
        source_version=str(version_number),
        version_number=version_number,
        ontology_snapshot_id=snapshot.id,
        file_name=",".join(names),
        sha256=",".join(file_sha256(path) for path in paths),
        cutoff_date=cutoff_date,
        provenance=_provenance(source, version_number, cutoff_date, release_label, names),
        row_count=len(merged),
    )
    session.add(annotation_set)
    try:
        session.flush()
    except IntegrityError as error:
        # A concurrent load committed the same (source, version) after the check above.
        raise _set_exists(source, version_number) from error
    for row in merged.values():
        row["annotation_set_id"] = annotation_set.id
    bulk_insert(session, Annotation, list(merged.values()))
    tally.rows_kept = len(merged)
    tally.notes["NOT statements kept as negatives"] = sum(
        1 for row in merged.values() if row["is_negated"]
    )
    report = tally.store(session, "annotations", f"{source}:{version_number}", ",".join(names))
    return annotation_set, report


def _set_exists(source: str, version_number: int) -> InputError:
    return InputError(
        "version", version_number, f"annotation set ({source}, {version_number}) already exists"
    )


def _version_of(version: int | None, cutoff_date: date | None) -> int:
    if version is not None and cutoff_date is not None:
        raise InputError(
            "version",
            version,
            "a date cut is versioned by its cutoff date (YYYYMMDD); give a version or a cutoff "
            "date, not both",
        )
    if cutoff_date is not None:
        return int(cutoff_date.strftime("%Y%m%d"))
    if version is None:
        raise InputError("version", None, "give a release version or a cutoff date")
    if not 1 <= version <= MAX_VERSION:
        raise InputError(
            "version",
            version,
            "a release version must be a positive integer that fits the store",
            f"1 to {MAX_VERSION}",
        )
    return version


def _provenance(
    source: str, version: int, cutoff_date: date | None, label: str, names: list[str]
) -> str:
    files = ", ".join(names)
    if cutoff_date is not None:
        return f"cut of {label or files} at annotation date <= {cutoff_date.isoformat()}"
    return f"{source} release {label or version} from {files}"


def _read_rows(
    paths: list[Path], terms: TermIndex, cutoff_date: date | None, tally: LoadTally
) -> dict[AnnotationKey, dict[str, Any]]:
    merged: dict[AnnotationKey, dict[str, Any]] = {}
    versions: dict[str, str | None] = {}
    for path in paths:
        versions[path.name] = read_gaf_version(path)
        for item in track(iter_gaf(path), f"rows of {path.name}"):
            tally.rows_read += 1
            if isinstance(item, SkippedLine):
                tally.skip("malformed line")
                tally.list_note(
                    "malformed lines",
                    f"{path.name}: malformed line {item.line_number}: {item.message}",
                )
                continue
            if cutoff_date is not None and item.date > cutoff_date:
                tally.skip("after cutoff date")
                continue
            go_id = _resolve_term(item, terms, tally)
            if go_id is None:
                continue
            _merge(merged, item, go_id, terms.aspect[go_id], tally)
    tally.notes["gaf versions"] = versions
    return merged


def _resolve_term(record: GafRecord, terms: TermIndex, tally: LoadTally) -> str | None:
    go_id = record.go_id
    if go_id not in terms.aspect and go_id in terms.primary_of_alt:
        go_id = terms.primary_of_alt[go_id]
        tally.count_note("alt ids remapped")
    if go_id not in terms.aspect:
        tally.skip("unknown term")
        return None
    if go_id in terms.obsolete:
        tally.skip("obsolete term")
        return None
    if record.aspect != terms.aspect[go_id]:
        tally.count_note("GAF aspect differs from ontology")
    return go_id


def _merge(
    merged: dict[AnnotationKey, dict[str, Any]],
    record: GafRecord,
    go_id: str,
    aspect: str,
    tally: LoadTally,
) -> None:
    key = (record.accession, go_id, record.evidence_code, record.is_negated)
    row = merged.get(key)
    if row is not None:
        # One statement backed by several references or lines: keep the first qualifier seen
        # and the earliest date.
        tally.skip("duplicate key merged")
        row["annotation_date"] = min(row["annotation_date"], record.date)
        return
    merged[key] = {
        "accession": record.accession,
        "go_id": go_id,
        "qualifier": record.qualifier,
        "is_negated": record.is_negated,
        "evidence_code": record.evidence_code,
        "aspect": aspect,
        "annotation_date": record.date,
        "assigned_by": record.assigned_by,
    }
