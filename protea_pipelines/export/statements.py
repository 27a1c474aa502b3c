"""Annotation statements of one snapshot version, read through the export's ontology."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from protea_pipelines.ontology import Ontology
from protea_pipelines.store.models import Annotation

EXPERIMENTAL_EVIDENCE = frozenset(
    {"EXP", "IDA", "IPI", "IMP", "IGI", "IEP", "HTP", "HDA", "HMP", "HGI", "HEP", "TAS", "IC"}
)


@dataclass(frozen=True)
class Statement:
    accession: str
    go_id: str
    aspect: str
    evidence_code: str
    qualifier: str
    is_negated: bool

    @property
    def is_experimental(self) -> bool:
        return self.evidence_code in EXPERIMENTAL_EVIDENCE


def read_statements(
    session: Session, annotation_set_id: int, ontology: Ontology
) -> list[Statement]:
    """Every stored statement of a set, alt ids mapped, obsolete and unknown terms dropped.

    The aspect is the term's namespace in the export's ontology, not the GAF column, so one
    term always belongs to one aspect whatever the file said.
    """
    rows = session.execute(
        select(
            Annotation.accession,
            Annotation.go_id,
            Annotation.evidence_code,
            Annotation.qualifier,
            Annotation.is_negated,
        )
        .where(Annotation.annotation_set_id == annotation_set_id)
        .order_by(Annotation.accession, Annotation.go_id, Annotation.evidence_code)
    ).all()
    statements = []
    for accession, go_id, evidence_code, qualifier, is_negated in rows:
        primary = ontology.primary(go_id)
        if primary is None:
            continue
        statements.append(
            Statement(
                accession=accession,
                go_id=primary,
                aspect=ontology.aspect(primary),
                evidence_code=evidence_code,
                qualifier=qualifier or "",
                is_negated=bool(is_negated),
            )
        )
    return statements
