"""CAFA-style ground truth of a lineage pair: what each protein newly gained, and its category.

known(p, A): propagated positive experimental terms of p in aspect A at pred(v).
new(p, A): the same at v, minus known(p, A), minus every term asserted NOT for p (at pred(v)
or v) together with its descendants. NK, LK and PK follow from which aspects were known.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from protea_pipelines.export.statements import Statement
from protea_pipelines.ontology import Ontology

ASPECTS = ("C", "F", "P")
EMPTY: frozenset[str] = frozenset()


@dataclass(frozen=True)
class GroundTruth:
    known: dict[str, dict[str, frozenset[str]]]
    new: dict[tuple[str, str], frozenset[str]]
    category: dict[tuple[str, str], str]

    def known_terms(self, accession: str, aspect: str) -> frozenset[str]:
        return self.known.get(accession, {}).get(aspect, EMPTY)

    def proteins(self) -> set[str]:
        return {accession for accession, _ in self.new}


def _positive_experimental(statements: Iterable[Statement]) -> dict[str, set[str]]:
    terms: dict[str, set[str]] = defaultdict(set)
    for s in statements:
        if s.is_experimental and not s.is_negated:
            terms[s.accession].add(s.go_id)
    return terms


def _by_aspect(ontology: Ontology, terms: set[str]) -> dict[str, frozenset[str]]:
    grouped: dict[str, set[str]] = defaultdict(set)
    for term in ontology.propagate(terms):
        grouped[ontology.aspect(term)].add(term)
    return {aspect: frozenset(values) for aspect, values in grouped.items()}


def _negated_closure(ontology: Ontology, statements: Iterable[Statement]) -> dict[str, set[str]]:
    excluded: dict[str, set[str]] = defaultdict(set)
    for s in statements:
        if s.is_negated:
            excluded[s.accession] |= ontology.descendants(s.go_id)
    return excluded


def compute_ground_truth(
    ontology: Ontology, pred_statements: list[Statement], statements: list[Statement]
) -> GroundTruth:
    known = {
        accession: _by_aspect(ontology, terms)
        for accession, terms in _positive_experimental(pred_statements).items()
    }
    excluded = _negated_closure(ontology, [*pred_statements, *statements])

    new: dict[tuple[str, str], frozenset[str]] = {}
    category: dict[tuple[str, str], str] = {}
    for accession, terms in sorted(_positive_experimental(statements).items()):
        protein_known = known.get(accession, {})
        blocked = excluded.get(accession, set())
        for aspect, propagated in _by_aspect(ontology, terms).items():
            gained = propagated - protein_known.get(aspect, EMPTY) - blocked
            if not gained:
                continue
            new[(accession, aspect)] = frozenset(gained)
            category[(accession, aspect)] = _category(protein_known, aspect)
    return GroundTruth(known=known, new=new, category=category)


def _category(protein_known: dict[str, frozenset[str]], aspect: str) -> str:
    if protein_known.get(aspect):
        return "pk"
    if any(protein_known.get(other) for other in ASPECTS):
        return "lk"
    return "nk"
