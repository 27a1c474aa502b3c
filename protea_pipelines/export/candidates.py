"""Candidate stage of a lineage pair: neighbours vote GO terms, each vote becomes a row.

One row per (query, aspect, GO term) voted for, with retrieval features and the label (did the
term appear in the ground truth of the query at v). Terms already known for the query at
pred(v) are not candidates: they are not predictions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from protea_pipelines.export.pair_inputs import PairInputs
from protea_pipelines.export.reference_pool import ReferencePool, VoterAnnotation
from protea_pipelines.export.schema import COLUMNS
from protea_pipelines.ontology import ROOT_TERMS, Ontology


@dataclass
class _Votes:
    """The neighbours voting for one term, closest first."""

    ranks: list[int] = field(default_factory=list)
    distances: list[float] = field(default_factory=list)
    voters: list[str] = field(default_factory=list)


def build_pair_candidates(
    inputs: PairInputs, knn_table: pd.DataFrame, k: int, expand_votes_to_ancestors: bool
) -> pd.DataFrame:
    """Rows of one pair, sorted by protein_accession, aspect, go_term_id."""
    rows: list[tuple[Any, ...]] = []
    for (aspect, query), group in knn_table.groupby(["aspect", "protein_accession"], sort=True):
        rows.extend(
            _rows_of_query(inputs, str(aspect), str(query), group, k, expand_votes_to_ancestors)
        )
    rows.sort(key=lambda row: (row[1], row[2], row[3]))
    return pd.DataFrame.from_records(rows, columns=list(COLUMNS))


def _rows_of_query(
    inputs: PairInputs,
    aspect: str,
    query: str,
    neighbours: pd.DataFrame,
    k: int,
    expand: bool,
) -> Iterator[tuple[Any, ...]]:
    pool = inputs.pools[aspect]
    ordered = neighbours.sort_values("rank")
    ranks = ordered["rank"].to_numpy()
    distances = ordered["distance"].to_numpy(dtype=np.float64)
    accessions = ordered["neighbour_accession"].tolist()
    distance_std = float(np.std(distances)) if len(distances) else 0.0

    known = inputs.ground_truth.known_terms(query, aspect)
    truth = inputs.ground_truth.new.get((query, aspect), frozenset())
    category = inputs.ground_truth.category[(query, aspect)]

    votes: dict[str, _Votes] = {}
    for rank, distance, neighbour in zip(ranks, distances, accessions, strict=True):
        for term in _voted_terms(inputs.ontology, pool, neighbour, expand):
            if term in known:
                continue
            vote = votes.setdefault(term, _Votes())
            vote.ranks.append(int(rank))
            vote.distances.append(float(distance))
            vote.voters.append(neighbour)

    for term in sorted(votes):
        vote = votes[term]
        closest = vote.voters[0]
        evidence = _closest_voter_annotation(inputs.ontology, pool, closest, term, expand)
        yield (
            inputs.pair.name,
            query,
            aspect,
            term,
            category,
            vote.distances[0],
            vote.ranks[0],
            len(vote.voters),
            len(vote.voters) / k,
            min(vote.distances),
            float(np.mean(vote.distances)),
            distance_std,
            pool.term_frequency.get(term, 0),
            len(pool.terms_of(closest)),
            evidence.evidence_code,
            evidence.qualifier,
            int(term in truth),
        )


def _voted_terms(ontology: Ontology, pool: ReferencePool, neighbour: str, expand: bool) -> set[str]:
    terms = set(pool.terms_of(neighbour))
    if expand:
        terms = ontology.propagate(terms)
    return terms - ROOT_TERMS


def _closest_voter_annotation(
    ontology: Ontology, pool: ReferencePool, voter: str, term: str, expand: bool
) -> VoterAnnotation:
    """The voter's annotation behind its vote: of the term itself when it has one, else (votes
    expanded to ancestors) of a descendant; the alphabetically first evidence code wins."""
    annotations = pool.annotations[voter]
    direct = [a for a in annotations if a.go_id == term]
    if direct or not expand:
        return min(direct, key=lambda a: (a.evidence_code, a.qualifier))
    below = [a for a in annotations if term in ontology.ancestors(a.go_id)]
    return min(below, key=lambda a: (a.evidence_code, a.qualifier, a.go_id))
