"""The bundled demo exported end to end, checked against the independent oracle (oracle.py).

One module-scoped set of exports, each in its own fresh copy of the loaded demo home:
faiss twice in one home (the second under another output name), faiss again in a second home
(same output name), numpy and torch in a home each. Every test then reads files only, except
the taken-name tests, which run their own failing export.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from protea_pipelines.demo import demo_payload
from protea_pipelines.export.service import export_in_one_step
from protea_pipelines.ontology import clear_ontology_cache
from protea_pipelines.store.db import dispose_engines, session_scope
from protea_pipelines.store.models import JobChild, JobEvent, ParentJob
from tests.integration import oracle

pytestmark = pytest.mark.slow

TRAIN = [20091231, 20141231, 20200616]
TEST = [20210408]
PAIRS = oracle.lineage_pairs(TRAIN + TEST)
PAIR_NAMES = [f"v{p}-v{v}" for p, v in PAIRS]
TRAIN_PAIRS, EVAL_PAIRS = PAIR_NAMES[:3], PAIR_NAMES[3:]
KEY = ["protein_accession", "aspect", "go_term_id"]
FILES = ("train.parquet", "eval.parquet", "manifest.json")


@dataclass(frozen=True)
class Home:
    path: Path

    def dataset(self, name: str = "yeast-demo") -> Path:
        return self.path / "datasets" / name

    def manifest(self, name: str = "yeast-demo") -> dict[str, Any]:
        return json.loads((self.dataset(name) / "manifest.json").read_text())

    def rows(self, name: str = "yeast-demo") -> pd.DataFrame:
        frames = [pq.read_table(self.dataset(name) / f).to_pandas() for f in FILES[:2]]
        return pd.concat(frames, ignore_index=True)


def _reset() -> None:
    dispose_engines()
    clear_ontology_cache()


def _use_home(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    monkeypatch.setenv("PROTEA_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.delenv("PROTEA_DATABASE_URL", raising=False)
    monkeypatch.delenv("PROTEA_EXPORT_MINIJOBS", raising=False)
    _reset()


@pytest.fixture(scope="module")
def homes(
    demo_home_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Home]]:
    plan = {
        "faiss": ("faiss", ["yeast-demo", "yeast-demo-again"]),
        "rerun": ("faiss", ["yeast-demo"]),
        "numpy": ("numpy", ["yeast-demo"]),
        "torch": ("torch", ["yeast-demo"]),
    }
    made = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        for label, (backend, names) in plan.items():
            home = tmp_path_factory.mktemp(f"demo-{label}") / "home"
            shutil.copytree(demo_home_template, home)
            _use_home(monkeypatch, home)
            for name in names:
                outcome = export_in_one_step({**demo_payload(name), "search_backend": backend})
                assert (outcome.status, outcome.error) == ("succeeded", None), label
            made[label] = Home(home)
        _reset()
    yield made
    _reset()


@pytest.fixture(scope="module")
def expected(homes: dict[str, Home]) -> dict[str, oracle.PairResult]:
    payload = demo_payload()
    assert (payload["train_versions"], payload["test_versions"], payload["k"]) == (TRAIN, TEST, 5)
    return oracle.demo_dataset(
        homes["faiss"].path, PAIRS, payload["k"], payload["embedding_config"], "go-2019-01-27"
    )


def test_oracle_figures_are_pinned(expected: dict[str, oracle.PairResult]) -> None:
    # The oracle's own figures, pinned so that a change in the data or in the oracle shows up
    # here first: (queries per aspect C/F/P, rows, positives, (nk, lk, pk) rows).
    figures = {
        name: (
            tuple(len(result.queries[a]) for a in oracle.ASPECTS),
            len(result.rows),
            int(result.rows["label"].sum()),
            tuple(int((result.rows["category"] == c).sum()) for c in ("nk", "lk", "pk")),
        )
        for name, result in expected.items()
    }
    assert figures == {
        "v20041231-v20091231": ((575, 90, 42), 1658, 570, (1401, 64, 193)),
        "v20091231-v20141231": ((475, 197, 85), 2111, 280, (1497, 234, 380)),
        "v20141231-v20200616": ((1096, 0, 12), 4325, 570, (3099, 111, 1115)),
        "v20200616-v20210408": ((84, 0, 0), 357, 27, (103, 61, 193)),
    }


def test_manifest_pairs_and_counts(
    homes: dict[str, Home], expected: dict[str, oracle.PairResult]
) -> None:
    manifest = homes["faiss"].manifest()
    assert manifest["train_snapshot_pairs"] == TRAIN_PAIRS
    assert manifest["eval_snapshot_pairs"] == EVAL_PAIRS
    assert manifest["missing_snapshot_pairs"] == []
    for split, names in (("train", TRAIN_PAIRS), ("eval", EVAL_PAIRS)):
        rows = pd.concat([expected[n].rows for n in names])
        assert manifest["row_counts"][split] == len(rows)
        positives = int(rows["label"].sum())
        assert manifest["label_counts"][split] == {"0": len(rows) - positives, "1": positives}
    assert (manifest["k"], manifest["search_backend"], manifest["name"]) == (
        5,
        "faiss",
        "yeast-demo",
    )


@pytest.mark.parametrize("pair", PAIR_NAMES)
def test_rows_of_each_pair_equal_the_oracle(
    homes: dict[str, Home], expected: dict[str, oracle.PairResult], pair: str
) -> None:
    split = "train.parquet" if pair in TRAIN_PAIRS else "eval.parquet"
    table = pq.read_table(homes["faiss"].dataset() / split).to_pandas()
    got = table[table["snapshot_pair"] == pair].reset_index(drop=True)
    want = expected[pair].rows
    assert len(got) == len(want)
    assert int(got["label"].sum()) == int(want["label"].sum())
    assert got["category"].value_counts().to_dict() == want["category"].value_counts().to_dict()
    assert set(got[[*KEY, "label"]].itertuples(index=False, name=None)) == set(
        want[[*KEY, "label"]].itertuples(index=False, name=None)
    )
    # Every feature, row by row (both sorted by the key).
    assert list(got.columns) == oracle.COLUMNS
    for column in oracle.COLUMNS:
        if want[column].dtype.kind == "f":
            assert got[column].to_numpy() == pytest.approx(want[column].to_numpy(), abs=1e-9), (
                column
            )
        else:
            assert got[column].tolist() == want[column].tolist(), column


@pytest.mark.parametrize("pair", PAIR_NAMES)
def test_queries_and_neighbours_equal_the_oracle(
    homes: dict[str, Home], expected: dict[str, oracle.PairResult], pair: str
) -> None:
    # The stored KNN result of the pair: one file, since both faiss exports share its key.
    (path,) = (homes["faiss"].path / "knn").glob(f"*-{pair}-*.parquet")
    table = pq.read_table(path).to_pandas()
    want = expected[pair]
    for aspect in oracle.ASPECTS:
        mine = table[table["aspect"] == aspect].sort_values(["protein_accession", "rank"])
        with_neighbours = [q for q in want.queries[aspect] if want.neighbours[aspect].get(q)]
        assert sorted(mine["protein_accession"].unique()) == with_neighbours, aspect
        found = {
            query: list(zip(group["neighbour_accession"], group["distance"], strict=True))
            for query, group in mine.groupby("protein_accession")
        }
        for query in with_neighbours:
            refs = [ref for ref, _ in want.neighbours[aspect][query]]
            assert [ref for ref, _ in found[query]] == refs, (aspect, query)
            assert [d for _, d in found[query]] == pytest.approx(
                [d for _, d in want.neighbours[aspect][query]], abs=1e-9
            )


def test_schema_sha_and_file_hashes(homes: dict[str, Home]) -> None:
    folder = homes["faiss"].dataset()
    manifest = homes["faiss"].manifest()
    for name in FILES[:2]:
        columns = pq.read_schema(folder / name).names
        digest = hashlib.sha256("|".join(sorted(columns)).encode()).hexdigest()[:12]
        assert manifest["schema_sha"] == digest
        assert manifest["columns"] == columns
        entry = manifest["files"][name]
        assert entry["sha256"] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert entry["bytes"] == (folder / name).stat().st_size
        assert entry["rows"] == pq.read_metadata(folder / name).num_rows
    # Exactly the three files, no staging leftovers beside the dataset.
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert sorted(p.name for p in folder.parent.iterdir()) == ["yeast-demo", "yeast-demo-again"]


def test_rows_sorted_by_pair_protein_aspect_term(homes: dict[str, Home]) -> None:
    rows = homes["faiss"].rows()
    order = {name: i for i, name in enumerate(PAIR_NAMES)}
    keys = list(zip(rows["snapshot_pair"].map(order), *(rows[c] for c in KEY), strict=True))
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    assert rows["snapshot_pair"].drop_duplicates().tolist() == PAIR_NAMES


def test_train_and_eval_hold_both_labels(homes: dict[str, Home]) -> None:
    for name in FILES[:2]:
        labels = pq.read_table(homes["faiss"].dataset() / name).column("label").to_pylist()
        assert set(labels) == {0, 1}, name


def test_rerun_in_a_fresh_home_is_byte_identical(homes: dict[str, Home]) -> None:
    for name in FILES:
        first = (homes["faiss"].dataset() / name).read_bytes()
        assert first == (homes["rerun"].dataset() / name).read_bytes(), name


def test_another_output_name_gives_the_same_parquet_bytes(homes: dict[str, Home]) -> None:
    for name in FILES[:2]:
        first = (homes["faiss"].dataset() / name).read_bytes()
        assert first == (homes["faiss"].dataset("yeast-demo-again") / name).read_bytes(), name
    assert homes["faiss"].manifest("yeast-demo-again")["name"] == "yeast-demo-again"


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_every_backend_gives_the_same_parquet_bytes(homes: dict[str, Home], backend: str) -> None:
    assert homes[backend].manifest()["search_backend"] == backend
    for name in FILES[:2]:
        first = (homes["faiss"].dataset() / name).read_bytes()
        assert first == (homes[backend].dataset() / name).read_bytes(), (backend, name)


def _failed_job(job_id: str) -> tuple[ParentJob, list[JobEvent], int]:
    with session_scope() as session:
        job = session.get(ParentJob, job_id)
        events = list(
            session.scalars(select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id))
        )
        children = len(session.scalars(select(JobChild).where(JobChild.job_id == job_id)).all())
        session.expunge_all()
    assert job is not None
    return job, events, children


def _assert_rejected_for_name(job_id: str, name: str) -> None:
    job, events, children = _failed_job(job_id)
    assert (job.status, job.error_code, job.started_at) == ("failed", "invalid_input", None)
    message = (
        f"output_name: a dataset of this name exists already; choose another name (got {name!r})"
    )
    assert job.error_message == message
    assert [(e.name, e.level) for e in events] == [("export_coordinator.failed", "error")]
    assert events[0].message == message
    assert (events[0].fields["field"], events[0].fields["value"]) == ("output_name", name)
    assert children == 0


def test_taken_output_name_fails_before_any_work(
    homes: dict[str, Home], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = homes["faiss"].path
    before = {
        d: sorted(p.relative_to(home) for p in (home / d).rglob("*")) for d in ("datasets", "knn")
    }
    manifest = (homes["faiss"].dataset() / "manifest.json").read_bytes()
    _use_home(monkeypatch, home)
    try:
        outcome = export_in_one_step(demo_payload("yeast-demo"))
        assert outcome.status == "failed"
        assert outcome.dataset_path is None
        _assert_rejected_for_name(outcome.job_id, "yeast-demo")
    finally:
        _reset()
    after = {
        d: sorted(p.relative_to(home) for p in (home / d).rglob("*")) for d in ("datasets", "knn")
    }
    assert after == before
    assert (homes["faiss"].dataset() / "manifest.json").read_bytes() == manifest


def test_name_taken_by_a_bare_folder_fails_too(demo_home: Path) -> None:
    (demo_home / "datasets" / "taken").mkdir(parents=True)
    outcome = export_in_one_step(demo_payload("taken"))
    assert outcome.status == "failed"
    _assert_rejected_for_name(outcome.job_id, "taken")
    assert [p.name for p in (demo_home / "datasets").iterdir()] == ["taken"]
    assert list((demo_home / "datasets" / "taken").iterdir()) == []
    assert not (demo_home / "knn").exists()
