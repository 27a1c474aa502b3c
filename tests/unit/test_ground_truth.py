"""Ground truth of a lineage pair on hand-made releases, and the lineage rule pred(v).

The ontology (tests/fixtures/handmade/go_tiny.obo) and the two releases (gt_pred.gaf, version 1;
gt_current.gaf, version 2) are loaded through the real loaders into the store of each backend;
every expected set below was worked out by hand from export.md and the files.

The tiny graph, roots left out (P = process, F = function, C = component):

    P1 <-is_a- P2 <-is_a- P3 (alt id GO:0100093)      F1 <-is_a- F2
    P1 <-part_of- P4 <-is_a- P5 (P5 also "regulates" P2: not a propagation edge)
    P1 <-is_a- P6                                      C1 <-part_of- C2 <-is_a- C3
    P9 obsolete
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from protea_pipelines.errors import InputError
from protea_pipelines.export.ground_truth import GroundTruth, compute_ground_truth
from protea_pipelines.export.lineage import loaded_versions, resolve_lineage_pair
from protea_pipelines.export.payload import ExportPayload
from protea_pipelines.export.plan import plan_export
from protea_pipelines.export.statements import read_statements
from protea_pipelines.loaders.annotations import load_annotation_set
from protea_pipelines.loaders.ontology import load_ontology
from protea_pipelines.ontology import load_ontology_graph
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.embedding_store import save_embeddings
from protea_pipelines.store.models import OntologySnapshot

HANDMADE = Path(__file__).resolve().parents[1] / "fixtures" / "handmade"
OBO = HANDMADE / "go_tiny.obo"
PRED_GAF = HANDMADE / "gt_pred.gaf"
CURRENT_GAF = HANDMADE / "gt_current.gaf"
ONTOLOGY = "go-tiny"
SOURCE = "tiny"

P1, P2, P3, P4, P5, P6 = (f"GO:010000{i}" for i in range(1, 7))
F1, F2 = "GO:0200001", "GO:0200002"
C1, C2, C3 = "GO:0300001", "GO:0300002", "GO:0300003"
ROOTS = {"GO:0008150", "GO:0003674", "GO:0005575"}


def _load_releases(session: Session, versions: dict[int, Path]) -> dict[int, int]:
    load_ontology(session, OBO, ONTOLOGY)
    ids = {}
    for version, path in versions.items():
        annotation_set, _ = load_annotation_set(session, [path], SOURCE, ONTOLOGY, version=version)
        ids[version] = annotation_set.id
    return ids


@pytest.fixture
def truth(store: str) -> GroundTruth:
    """The ground truth of the pair (1, 2), computed from what the loaders stored."""
    with session_scope() as session:
        ids = _load_releases(session, {1: PRED_GAF, 2: CURRENT_GAF})
    with session_scope() as session:
        pair = resolve_lineage_pair(loaded_versions(session, SOURCE), 2, "train", "train_versions")
        assert (pair.pred.annotation_set_id, pair.current.annotation_set_id) == (ids[1], ids[2])
        ontology = load_ontology_graph(session, ids_snapshot(session))
        pred = read_statements(session, pair.pred.annotation_set_id, ontology)
        current = read_statements(session, pair.current.annotation_set_id, ontology)
    return compute_ground_truth(ontology, pred, current)


def ids_snapshot(session: Session) -> int:
    snapshot_id = session.scalar(
        select(OntologySnapshot.id).where(OntologySnapshot.name == ONTOLOGY)
    )
    assert snapshot_id is not None
    return snapshot_id


# new(p, A) and the category of every (protein, aspect) that gained something, by hand:
EXPECTED_NEW = {
    # NK: only an IEA function at pred (not knowledge); the process arrives through the alt id
    # GO:0100093 of P3 and propagates to P2 and P1, never to the root.
    ("Q00001", "P"): {P3, P2, P1},
    # LK: knew F2 (and F1) at pred; its function did not change, so F has no entry.
    ("Q00002", "C"): {C3, C2, C1},
    # PK: knew P2 (and P1); P3 by is_a, P5 and P4 (part_of P1) are new. The GAF said aspect F
    # for the P5 row: the ontology's namespace wins.
    ("Q00003", "P"): {P3, P4, P5},
    # NOT P4 at pred (evidence IEA: any evidence counts for NOT) blocks P4 and P5 below it.
    ("Q00004", "P"): {P2, P1},
    # NOT C2 at current blocks C2 and C3; C1 was known; so C has no entry. F is new.
    ("Q00005", "F"): {F2, F1},
    # The obsolete P9 and the unknown GO:0999999 are dropped; only the function is left.
    ("Q00007", "F"): {F2, F1},
    # HDA C3 and NOT IMP C3 together: C3 is blocked, its ancestors C2 and C1 are not.
    ("Q00010", "C"): {C2, C1},
    # P5 "regulates" P2 is not followed: P2 is not ground truth.
    ("Q00011", "P"): {P5, P4, P1},
}
EXPECTED_CATEGORY = {
    ("Q00001", "P"): "nk",
    ("Q00002", "C"): "lk",
    ("Q00003", "P"): "pk",
    ("Q00004", "P"): "nk",
    ("Q00005", "F"): "lk",
    ("Q00007", "F"): "nk",
    ("Q00010", "C"): "nk",
    ("Q00011", "P"): "nk",
}
# known(p, A) at pred: propagated positive experimental terms only. Q00001's IEA function and
# Q00004's NOT are not knowledge.
EXPECTED_KNOWN = {
    "Q00002": {"F": {F2, F1}},
    "Q00003": {"P": {P2, P1}},
    "Q00005": {"C": {C1}},
}


def test_new_terms_per_protein_and_aspect(truth: GroundTruth) -> None:
    assert {key: set(terms) for key, terms in truth.new.items()} == EXPECTED_NEW


def test_categories(truth: GroundTruth) -> None:
    assert truth.category == EXPECTED_CATEGORY


def test_known_terms_at_pred(truth: GroundTruth) -> None:
    known = {
        accession: {aspect: set(terms) for aspect, terms in by_aspect.items() if terms}
        for accession, by_aspect in truth.known.items()
    }
    assert known == EXPECTED_KNOWN
    assert truth.known_terms("Q00001", "F") == frozenset()


def test_roots_never_ground_truth_and_iea_only_protein_absent(truth: GroundTruth) -> None:
    every_term = set().union(*truth.new.values())
    assert not every_term & ROOTS
    # Q00006 has only IEA, Q00008 only root terms: no ground truth at all.
    assert truth.proteins() == {
        "Q00001",
        "Q00002",
        "Q00003",
        "Q00004",
        "Q00005",
        "Q00007",
        "Q00010",
        "Q00011",
    }


def test_statements_read_through_the_ontology(store: str) -> None:
    with session_scope() as session:
        ids = _load_releases(session, {1: PRED_GAF, 2: CURRENT_GAF})
        ontology = load_ontology_graph(session, ids_snapshot(session))
        statements = read_statements(session, ids[2], ontology)
    by_protein: dict[str, set[tuple[str, str, str, bool]]] = {}
    for s in statements:
        by_protein.setdefault(s.accession, set()).add(
            (s.go_id, s.aspect, s.evidence_code, s.is_negated)
        )
    # The alt id became P3; the obsolete and the unknown term are gone; aspect of the P5 row is
    # the ontology's P although the GAF column said F.
    assert by_protein["Q00001"] == {(F2, "F", "IEA", False), (P3, "P", "IDA", False)}
    assert by_protein["Q00007"] == {(F2, "F", "IDA", False)}
    assert (P5, "P", "IDA", False) in by_protein["Q00003"]
    assert by_protein["Q00010"] == {(C3, "C", "HDA", False), (C3, "C", "IMP", True)}


def test_pred_is_the_newest_loaded_version_below(store: str) -> None:
    # Versions 1, 2 and 10: an order by the version string would put "10" before "2".
    with session_scope() as session:
        ids = _load_releases(session, {1: PRED_GAF, 2: CURRENT_GAF, 10: CURRENT_GAF})
    with session_scope() as session:
        versions = loaded_versions(session, SOURCE)
        assert [v.version for v in versions] == [1, 2, 10]
        pair_10 = resolve_lineage_pair(versions, 10, "eval", "test_versions")
        pair_2 = resolve_lineage_pair(versions, 2, "train", "train_versions")
    assert (pair_10.pred.version, pair_10.current.version) == (2, 10)
    assert (pair_10.pred.annotation_set_id, pair_10.current.annotation_set_id) == (ids[2], ids[10])
    assert pair_10.name == "v2-v10"
    assert pair_10.mapping_key == "eval_10"
    assert (pair_2.pred.version, pair_2.name) == (1, "v1-v2")


def test_oldest_version_is_rejected_naming_field_and_version(store: str) -> None:
    with session_scope() as session:
        _load_releases(session, {1: PRED_GAF, 2: CURRENT_GAF})
    with session_scope() as session:
        versions = loaded_versions(session, SOURCE)
    with pytest.raises(InputError) as caught:
        resolve_lineage_pair(versions, 1, "eval", "test_versions")
    assert (caught.value.field, caught.value.value) == ("test_versions", 1)
    assert str(caught.value) == (
        "test_versions: snapshot version has no predecessor to diff against "
        "(it is the oldest loaded) (got 1); accepted: 2"
    )
    with pytest.raises(InputError) as caught:
        resolve_lineage_pair(versions, 3, "train", "train_versions")
    assert str(caught.value) == (
        "train_versions: snapshot version not loaded (got 3); accepted: 1, 2"
    )


def test_pre_flight_rejects_a_train_version_without_predecessor(store: str) -> None:
    with session_scope() as session:
        _load_releases(session, {1: PRED_GAF, 2: CURRENT_GAF})
        save_embeddings(session, "tiny-emb", ["Q00001"], np.ones((1, 2), dtype=np.float32))
    payload = ExportPayload(
        output_name="tiny",
        embedding_config="tiny-emb",
        annotation_source=SOURCE,
        ontology_snapshot=ONTOLOGY,
        train_versions=[2, 1],
    )
    with session_scope() as session, pytest.raises(InputError) as caught:
        plan_export(session, payload)
    assert (caught.value.field, caught.value.value) == ("train_versions", 1)
    assert "no predecessor" in str(caught.value)
