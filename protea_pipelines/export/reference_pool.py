"""The reference pool of an aspect: proteins annotated in it at pred(v) that have an embedding.

Only pred(v) is read here, so nothing from v or later leaks into the features.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Container
from dataclasses import dataclass

from protea_pipelines.export.statements import Statement


@dataclass(frozen=True)
class VoterAnnotation:
    go_id: str
    evidence_code: str
    qualifier: str


@dataclass(frozen=True)
class ReferencePool:
    aspect: str
    accessions: tuple[str, ...]
    annotations: dict[str, tuple[VoterAnnotation, ...]]
    term_frequency: dict[str, int]

    def terms_of(self, accession: str) -> frozenset[str]:
        return frozenset(a.go_id for a in self.annotations.get(accession, ()))


def build_reference_pools(
    pred_statements: list[Statement], embedded: Container[str]
) -> dict[str, ReferencePool]:
    """One pool per aspect from the non-NOT statements (any evidence) at pred(v)."""
    per_aspect: dict[str, dict[str, set[VoterAnnotation]]] = defaultdict(lambda: defaultdict(set))
    for s in pred_statements:
        if s.is_negated or s.accession not in embedded:
            continue
        per_aspect[s.aspect][s.accession].add(
            VoterAnnotation(s.go_id, s.evidence_code, s.qualifier)
        )

    pools = {}
    for aspect, by_protein in per_aspect.items():
        annotations = {
            accession: tuple(sorted(items, key=lambda a: (a.go_id, a.evidence_code, a.qualifier)))
            for accession, items in by_protein.items()
        }
        frequency: Counter[str] = Counter()
        for items in annotations.values():
            frequency.update({a.go_id for a in items})
        pools[aspect] = ReferencePool(
            aspect=aspect,
            accessions=tuple(sorted(annotations)),
            annotations=annotations,
            term_frequency=dict(frequency),
        )
    return pools
