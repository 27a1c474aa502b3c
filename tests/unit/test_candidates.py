"""Neighbours, candidates, features and labels on a hand-made pair, every value worked by hand.

Ontology: tests/fixtures/handmade/go_tiny.obo (see test_ground_truth.py for its graph).
Releases: cand_pred.gaf (version 1) and cand_current.gaf (version 2, the same rows plus the
new ones). Embeddings are 2-D, so cosine distances to the query QRY1 = (1, 0) are exact:

    REF1 (4, 3)  d = 1 - 0.8 = 0.2     REF3 (0, 1)   d = 1.0   (tie with REF4: REF3 wins)
    REF2 (3, 4)  d = 1 - 0.6 = 0.4     REF4 (0, -1)  d = 1.0
    REF5 (-1, 0) d = 2.0               REF7, REF8, REF9, QRY1 at (1, 0): d = 0

REF6 has no embedding; REF7 has only a NOT process annotation; REF8's process annotation is
only at v; REF9 only has a function: none of them is in the process pool, although REF7 and
REF8 would be the nearest if they were. K = 3.

Query QRY1 knew P2 (so P2 and P1) at pred; at v it gains P3 and P5 (so new(P) = {P3, P4, P5},
pk) and F2 (new(F) = {F2, F1}, lk: it knew a process). QNOEMB gains P3 but has no embedding.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from protea_pipelines.export.candidates import build_pair_candidates
from protea_pipelines.export.pair_inputs import PairInputs, load_pair_inputs
from protea_pipelines.export.pair_knn import search_pair_neighbours
from protea_pipelines.export.payload import ExportPayload
from protea_pipelines.export.plan import ExportPlan, plan_export
from protea_pipelines.export.schema import COLUMNS
from protea_pipelines.export.service import export_in_one_step
from protea_pipelines.knn import get_backend
from protea_pipelines.loaders.annotations import load_annotation_set
from protea_pipelines.loaders.ontology import load_ontology
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.embedding_store import save_embeddings

HANDMADE = Path(__file__).resolve().parents[1] / "fixtures" / "handmade"
K = 3
P1, P2, P3, P4, P5, P6 = (f"GO:010000{i}" for i in range(1, 7))
F1, F2 = "GO:0200001", "GO:0200002"

VECTORS = {
    "QRY1": (1.0, 0.0),
    "REF1": (4.0, 3.0),
    "REF2": (3.0, 4.0),
    "REF3": (0.0, 1.0),
    "REF4": (0.0, -1.0),
    "REF5": (-1.0, 0.0),
    "REF7": (1.0, 0.0),
    "REF8": (1.0, 0.0),
    "REF9": (1.0, 0.0),
}
# Population standard deviation of all neighbours' distances of each (query, aspect).
P_DISTANCES = (0.2, 0.4, 1.0)
P_STD = math.sqrt(sum((d - sum(P_DISTANCES) / 3) ** 2 for d in P_DISTANCES) / 3)
F_STD = 0.1  # neighbours at 0.0 and 0.2

FEATURES = (
    "go_term_id",
    "category",
    "distance",
    "k_position",
    "vote_count",
    "vote_fraction",
    "neighbor_min_distance",
    "neighbor_mean_distance",
    "neighbor_distance_std",
    "go_term_frequency",
    "ref_annotation_density",
    "evidence_code",
    "qualifier",
    "label",
)


def expected_row(aspect: str, *values: Any) -> dict[str, Any]:
    row = dict(zip(FEATURES, values, strict=True))
    return {"snapshot_pair": "v1-v2", "protein_accession": "QRY1", "aspect": aspect, **row}


# Votes as annotated. Known P1/P2 are never candidates (REF1's P1, REF3's P2).
# go_term_frequency counts process-pool proteins annotated with the term: P3 REF1 REF2 REF4
# (not REF6: no embedding, not REF7: NOT, not REF8: only at v); P5 REF3; P6 REF2 REF3 REF5.
# ref_annotation_density: distinct aspect terms of the closest voter (REF1 {P1, P3}, REF2
# {P3, P6}, REF3 {P2, P5, P6}, REF1 in F {F1}, REF9 {F2}).
F1_DIRECT = expected_row(
    "F", F1, "lk", 0.2, 2, 1, 1 / 3, 0.2, 0.2, F_STD, 1, 1, "IDA", "enables", 1
)
F2_ROW = expected_row("F", F2, "lk", 0.0, 1, 1, 1 / 3, 0.0, 0.0, F_STD, 1, 1, "IDA", "enables", 1)
# REF1 has P3 by IDA and by IEA: IDA is alphabetically first and carries its own qualifier.
P3_ROW = expected_row(
    "P", P3, "pk", 0.2, 1, 2, 2 / 3, 0.2, 0.3, P_STD, 3, 2, "IDA", "involved_in", 1
)
P5_ROW = expected_row(
    "P", P5, "pk", 1.0, 3, 1, 1 / 3, 1.0, 1.0, P_STD, 1, 3, "IEA", "involved_in", 1
)
# REF2 has P6 by TAS and by IC: IC first. P6 is not in new(P): label 0.
P6_ROW = expected_row(
    "P", P6, "pk", 0.4, 2, 2, 2 / 3, 0.4, 0.7, P_STD, 3, 2, "IC", "acts_upstream_of", 0
)
EXPECTED_AS_ANNOTATED = [F1_DIRECT, F2_ROW, P3_ROW, P5_ROW, P6_ROW]

# Votes expanded to ancestors: REF9's F2 also votes F1 (two voters now, REF9 the closest, its
# evidence that of F2); REF3's P5 also votes P4 (frequency: REF4 and REF5 as annotated; REF1's
# P4 is NOT), with the evidence of the P5 row. P1 and P2 stay known, roots never vote.
F1_EXPANDED = expected_row(
    "F", F1, "lk", 0.0, 1, 2, 2 / 3, 0.0, 0.1, F_STD, 1, 1, "IDA", "enables", 1
)
P4_EXPANDED = expected_row(
    "P", P4, "pk", 1.0, 3, 1, 1 / 3, 1.0, 1.0, P_STD, 2, 3, "IEA", "involved_in", 1
)
EXPECTED_EXPANDED = [F1_EXPANDED, F2_ROW, P3_ROW, P4_EXPANDED, P5_ROW, P6_ROW]


def payload(expand: bool, output_name: str = "cand") -> dict[str, Any]:
    return {
        "output_name": output_name,
        "embedding_config": "plane",
        "annotation_source": "cand",
        "ontology_snapshot": "go-tiny",
        "train_versions": [2],
        "k": K,
        "search_backend": "numpy",
        "expand_votes_to_ancestors": expand,
    }


@pytest.fixture
def loaded(store: str) -> None:
    with session_scope() as session:
        load_ontology(session, HANDMADE / "go_tiny.obo", "go-tiny")
        for version, name in ((1, "cand_pred.gaf"), (2, "cand_current.gaf")):
            load_annotation_set(session, [HANDMADE / name], "cand", "go-tiny", version=version)
        matrix = np.asarray(list(VECTORS.values()), dtype=np.float32)
        save_embeddings(session, "plane", list(VECTORS), matrix)


def _plan(expand: bool) -> ExportPlan:
    with session_scope() as session:
        return plan_export(session, ExportPayload.model_validate(payload(expand)))


def _inputs(plan: ExportPlan) -> PairInputs:
    with session_scope() as session:
        return load_pair_inputs(session, plan.settings, plan.pairs[0])


def assert_rows(frame: pd.DataFrame, expected: list[dict[str, Any]]) -> None:
    assert list(frame.columns) == list(COLUMNS)
    rows = frame.to_dict("records")
    assert [(r["aspect"], r["go_term_id"]) for r in rows] == [
        (e["aspect"], e["go_term_id"]) for e in expected
    ]
    for row, want in zip(rows, expected, strict=True):
        for column, value in want.items():
            if isinstance(value, float):
                assert row[column] == pytest.approx(value, abs=1e-12), (want["go_term_id"], column)
            else:
                assert row[column] == value, (want["go_term_id"], column)


def test_reference_pools_and_queries(loaded: None) -> None:
    inputs = _inputs(_plan(expand=False))
    assert inputs.pools["P"].accessions == ("QRY1", "REF1", "REF2", "REF3", "REF4", "REF5")
    assert inputs.pools["F"].accessions == ("REF1", "REF9")
    assert "C" not in inputs.pools
    assert set(inputs.ground_truth.new) == {("QRY1", "P"), ("QRY1", "F"), ("QNOEMB", "P")}
    # QNOEMB has ground truth but no embedding: it is no query.
    assert inputs.queries("P") == ["QRY1"]
    assert inputs.queries("F") == ["QRY1"]
    assert inputs.queries("C") == []


@pytest.mark.parametrize("backend", ["numpy", "faiss", "torch"])
def test_neighbours_exclude_self_and_break_ties_by_accession(loaded: None, backend: str) -> None:
    inputs = _inputs(_plan(expand=False))
    table = search_pair_neighbours(inputs, get_backend(backend), K)
    rows = [
        (r.aspect, r.protein_accession, r.rank, r.neighbour_accession)
        for r in table.itertuples(index=False)
    ]
    # F has a pool of two, smaller than K: two neighbours. In P the query itself (d = 0) is
    # skipped and REF3 beats REF4 at d = 1.0 by accession.
    assert rows == [
        ("F", "QRY1", 1, "REF9"),
        ("F", "QRY1", 2, "REF1"),
        ("P", "QRY1", 1, "REF1"),
        ("P", "QRY1", 2, "REF2"),
        ("P", "QRY1", 3, "REF3"),
    ]
    assert table["distance"].tolist() == pytest.approx([0.0, 0.2, 0.2, 0.4, 1.0], abs=1e-12)


def test_candidates_as_annotated(loaded: None) -> None:
    plan = _plan(expand=False)
    inputs = _inputs(plan)
    table = search_pair_neighbours(inputs, get_backend("numpy"), K)
    assert_rows(build_pair_candidates(inputs, table, K, False), EXPECTED_AS_ANNOTATED)


def test_candidates_with_votes_expanded_to_ancestors(loaded: None) -> None:
    plan = _plan(expand=True)
    inputs = _inputs(plan)
    table = search_pair_neighbours(inputs, get_backend("numpy"), K)
    assert_rows(build_pair_candidates(inputs, table, K, True), EXPECTED_EXPANDED)


@pytest.mark.parametrize(
    ("expand", "expected"),
    [(False, EXPECTED_AS_ANNOTATED), (True, EXPECTED_EXPANDED)],
    ids=["as-annotated", "expanded"],
)
def test_written_dataset_holds_the_same_rows(
    loaded: None, protea_home: Path, expand: bool, expected: list[dict[str, Any]]
) -> None:
    outcome = export_in_one_step(payload(expand))
    assert (outcome.status, outcome.error) == ("succeeded", None)
    folder = protea_home / "datasets" / "cand"
    assert_rows(pq.read_table(folder / "train.parquet").to_pandas(), expected)
    assert pq.read_table(folder / "eval.parquet").num_rows == 0
