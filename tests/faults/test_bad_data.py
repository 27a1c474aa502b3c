"""Children failing on bad data under failure_ratio 0.5 (issue 4, B5).

The data goes bad the way it does in the world: vectors of the stored embedding matrix turn
NaN in place (PROTEA_HOME/embeddings/kmer3-320/vectors.npy, opened with mmap_mode="r+"). The
KNN input check rejects a pair whose queries or references include such a row, and only that
pair. Which proteins to spoil is read from the store and checked against the pairs' own inputs,
so the test knows exactly which children must fail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from protea_pipelines import settings
from protea_pipelines.export.pair_inputs import load_pair_inputs
from protea_pipelines.export.payload import ExportPayload
from protea_pipelines.export.plan import plan_export
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.embedding_store import load_embeddings
from protea_pipelines.store.models import Annotation, AnnotationSet
from tests.faults.helpers import (
    EVAL_PAIR,
    PAIRS,
    assert_complete_dataset,
    assert_no_dataset,
    events_of,
    export_process,
    named,
    of_pair,
    only_parent,
    payload,
    write_payload,
)

pytestmark = pytest.mark.slow

CONFIG = "kmer3-320"
TRAIN_20200616 = PAIRS["train_20200616"]


def annotated_by_version() -> dict[int, set[str]]:
    """The accessions annotated in each loaded version of the demo source."""
    with session_scope() as session:
        rows = session.execute(
            select(AnnotationSet.version_number, Annotation.accession)
            .join(Annotation, Annotation.annotation_set_id == AnnotationSet.id)
            .where(AnnotationSet.source == "goa_yeast")
            .distinct()
        ).all()
    found: dict[int, set[str]] = {}
    for version, accession in rows:
        found.setdefault(version, set()).add(accession)
    return found


def pair_roles(data: dict) -> dict[str, tuple[set[str], set[str]]]:
    """(queries, references) of every pair of the export, from the pairs' own inputs."""
    roles = {}
    with session_scope() as session:
        plan = plan_export(session, ExportPayload.model_validate(data), None)
        for pair in plan.pairs:
            inputs = load_pair_inputs(session, plan.settings, pair)
            queries = {a for aspect in ("P", "F", "C") for a in inputs.queries(aspect)}
            refs = {a for pool in inputs.pools.values() for a in pool.accessions}
            roles[pair.name] = (queries, refs)
    return roles


def spoil(accessions: set[str]) -> None:
    """Overwrite these proteins' rows of the stored matrix with NaN, in place."""
    matrix = load_embeddings(CONFIG)
    rows = sorted(matrix.row_of[a] for a in accessions)
    vectors = np.load(settings.embeddings_dir() / CONFIG / "vectors.npy", mmap_mode="r+")
    vectors[rows] = np.nan
    vectors.flush()
    del vectors


def new_in_203(roles: dict[str, tuple[set[str], set[str]]]) -> set[str]:
    """Proteins with no annotation before 20210408: queries of the eval pair and of no other
    pair, and nobody's reference."""
    by_version = annotated_by_version()
    earlier = set().union(*(by_version[v] for v in by_version if v < 20210408))
    new = by_version[20210408] - earlier
    eval_queries = roles[EVAL_PAIR][0]
    assert new & eval_queries, "the demo data has eval queries new in release 203"
    spoilt = new & eval_queries
    for pair, (queries, refs) in roles.items():
        assert not spoilt & refs, pair
        if pair != EVAL_PAIR:
            assert not spoilt & queries, pair
    return spoilt


def first_annotated_at_20200616(roles: dict[str, tuple[set[str], set[str]]]) -> str:
    """A protein first annotated at 20200616: a query of v20141231-v20200616 and a reference
    of the eval pair, and in neither role anywhere else."""
    by_version = annotated_by_version()
    earlier = set().union(*(by_version[v] for v in by_version if v < 20200616))
    candidates = sorted(
        (by_version[20200616] - earlier) & roles[TRAIN_20200616][0] & roles[EVAL_PAIR][1]
    )
    assert candidates, "the demo data has such a protein"
    protein = candidates[0]
    for pair, (queries, refs) in roles.items():
        if pair not in (TRAIN_20200616, EVAL_PAIR):
            assert protein not in queries | refs, pair
    return protein


def test_one_of_four_children_on_bad_data_writes_a_partial_dataset(
    demo_home: Path, tmp_path: Path
) -> None:
    name = "partial-demo"
    data = payload(name, failure_ratio=0.5)
    spoil(new_in_203(pair_roles(data)))

    with export_process(write_payload(tmp_path, data), tmp_path / "export.log") as export:
        rc = export.wait()
        log = export.tail()
    assert rc == 0, log

    job = only_parent()
    assert job["status"] == "succeeded", job
    assert job["meta"]["failed_children_count"] == 1
    assert job["meta"]["dispatched_total"] == 4
    [message] = job["meta"]["top_error_messages"]
    assert message.startswith(f"{EVAL_PAIR}: ") and "non-finite" in message, message

    manifest = assert_complete_dataset(name, job["id"])
    assert manifest["eval_snapshot_pairs"] == []
    assert manifest["train_snapshot_pairs"] == [
        PAIRS["train_20091231"],
        PAIRS["train_20141231"],
        TRAIN_20200616,
    ]
    assert manifest["row_counts"]["eval"] == 0
    assert manifest["row_counts"]["train"] > 0
    [missing] = manifest["missing_snapshot_pairs"]
    assert missing["snapshot_pair"] == EVAL_PAIR
    assert missing["split"] == "eval"
    assert missing["error"] == message

    events = events_of(job["id"])
    [failed] = named(events, "child.failed")
    assert failed["fields"]["snapshot_pair"] == EVAL_PAIR
    assert failed["fields"]["stage"] == "knn"
    assert failed["fields"]["failed_children_count"] == 1
    assert failed["fields"]["parent_status"] == "running"
    assert named(events, "child.retrying") == [], "bad data is not retried"
    assert of_pair(events, EVAL_PAIR) == ["child.export_knn_batch.start", "child.failed"]
    outcomes = named(events, "export_collect.outcomes")[0]["fields"]
    assert (outcomes["dispatched"], outcomes["succeeded"], outcomes["failed"]) == (4, 3, 1)
    [partial] = named(events, "export_collect.partial")
    assert partial["level"] == "warning"
    assert partial["fields"]["missing"] == [EVAL_PAIR]
    assert named(events, "export_write.done")
    assert named(events, "export_collect.failed") == []


def test_two_of_four_children_on_bad_data_fail_the_export(demo_home: Path, tmp_path: Path) -> None:
    name = "failed-demo"
    data = payload(name, failure_ratio=0.5)
    roles = pair_roles(data)
    spoil(new_in_203(roles) | {first_annotated_at_20200616(roles)})

    with export_process(write_payload(tmp_path, data), tmp_path / "export.log") as export:
        rc = export.wait()
        log = export.tail()
    assert rc == 1, log

    job = only_parent()
    assert job["status"] == "failed", job
    assert job["error_code"] == "children_failed"
    meta = job["meta"]
    assert meta["failed_children_count"] == 2
    top = meta["top_error_messages"]
    assert sorted(m.split(": ")[0] for m in top) == sorted([TRAIN_20200616, EVAL_PAIR]), top
    assert all("non-finite" in m for m in top), top
    assert job["error_message"].startswith("2 of 4 children failed"), job["error_message"]
    assert_no_dataset(name)

    events = events_of(job["id"])
    failed = named(events, "child.failed")
    assert sorted(e["fields"]["snapshot_pair"] for e in failed) == sorted(
        [TRAIN_20200616, EVAL_PAIR]
    )
    # The second failure reaches the ratio and fails the parent at once, once. (The two
    # events may be written in either order: each child reports, then emits.)
    assert sorted(e["fields"]["parent_status"] for e in failed) == ["failed", "running"]
    assert sorted(e["fields"]["failed_children_count"] for e in failed) == [1, 2]
    [collect_failed] = named(events, "export_collect.failed")
    assert collect_failed["level"] == "error"
    assert collect_failed["fields"]["error_code"] == "children_failed"
    assert "2 of 4 children failed" in collect_failed["message"]
    assert named(events, "export_collect.partial") == []
    assert named(events, "export_write.done") == []
    # The other two children finished their work all the same.
    assert len(named(events, "child.pair_features.done")) == 2
