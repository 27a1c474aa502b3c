"""Load a GO release (OBO) as an ontology snapshot: terms, is_a / part_of edges, alt ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from protea_pipelines.errors import InputError
from protea_pipelines.loaders import bulk_insert, file_sha256, require_file, track
from protea_pipelines.loaders.report import LoadTally, nothing_usable
from protea_pipelines.parsers.obo import iter_obo_terms, read_obo_header
from protea_pipelines.store.models import (
    GoAltId,
    GoTerm,
    GoTermRelation,
    LoadReport,
    OntologySnapshot,
)

OBO_ACCEPTED = "an OBO 1.2 file of [Term] stanzas, such as go-basic.obo, plain or gzipped"


def load_ontology(session: Session, path: Path, name: str) -> tuple[OntologySnapshot, LoadReport]:
    """Store every [Term] of the file (obsolete ones flagged) under a new snapshot name.

    A file without any [Term] stanza is an InputError and stores nothing.
    """
    require_file(path)
    if not name or len(name) > 100:
        raise InputError("name", name, "an ontology name must have 1 to 100 characters")
    if session.scalar(select(OntologySnapshot.id).where(OntologySnapshot.name == name)):
        raise _name_taken(name)
    header = read_obo_header(path)
    tally = LoadTally()
    terms: list[dict[str, Any]] = []
    edges: set[tuple[str, str, str]] = set()
    alt_ids: dict[str, str] = {}
    seen: set[str] = set()
    for term in track(iter_obo_terms(path), f"terms of {path.name}"):
        tally.rows_read += 1
        if term.go_id in seen:
            tally.skip("duplicate term id")
            continue
        seen.add(term.go_id)
        terms.append(
            {
                "go_id": term.go_id,
                "name": term.name,
                "aspect": term.aspect,
                "is_obsolete": term.is_obsolete,
            }
        )
        edges.update((term.go_id, parent, "is_a") for parent in term.is_a)
        edges.update((term.go_id, parent, "part_of") for parent in term.part_of)
        for alt_id in term.alt_ids:
            # An alt id claimed by two terms is ambiguous; the first claim wins and is noted.
            if alt_id in alt_ids:
                tally.list_note("alt ids claimed twice", alt_id)
                continue
            alt_ids[alt_id] = term.go_id
    if not terms:
        # A snapshot without terms would drop every annotation loaded against it; the file is
        # the wrong one (Typedefs only, a table, empty), so nothing is stored.
        raise nothing_usable(str(path), "[Term] stanza", "terms", tally, accepted=OBO_ACCEPTED)

    # The snapshot row is written only now that the file has proved to hold terms.
    snapshot = OntologySnapshot(
        name=name, data_version=header.data_version, file_name=path.name, sha256=file_sha256(path)
    )
    session.add(snapshot)
    try:
        session.flush()
    except IntegrityError as error:
        # A concurrent load committed the same name after the check above.
        raise _name_taken(name) from error
    for row in terms:
        row["snapshot_id"] = snapshot.id

    bulk_insert(session, GoTerm, terms)
    bulk_insert(
        session,
        GoTermRelation,
        [
            {"snapshot_id": snapshot.id, "child_go_id": c, "parent_go_id": p, "relation": r}
            for c, p, r in sorted(edges)
        ],
    )
    bulk_insert(
        session,
        GoAltId,
        [
            {"snapshot_id": snapshot.id, "alt_id": alt_id, "primary_go_id": primary}
            for alt_id, primary in sorted(alt_ids.items())
        ],
    )
    snapshot.term_count = len(terms)
    tally.rows_kept = len(terms)
    tally.notes.update(
        {
            "data-version": header.data_version,
            "obsolete terms": sum(1 for term in terms if term["is_obsolete"]),
            "is_a edges": sum(1 for edge in edges if edge[2] == "is_a"),
            "part_of edges": sum(1 for edge in edges if edge[2] == "part_of"),
            "alt ids": len(alt_ids),
        }
    )
    report = tally.store(session, "ontology", name, path.name)
    return snapshot, report


def _name_taken(name: str) -> InputError:
    return InputError("name", name, "an ontology snapshot with this name already exists")
