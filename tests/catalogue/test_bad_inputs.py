"""The catalogue of bad inputs: every case asserts the exact error a person sees and that
nothing was written for it.

Sections: export payloads (through export_in_one_step and through the Dagster job), GAF lines
and files, OBO files, FASTA files, embedding files, and the `protea-pipelines` command line.

A rejected export must leave: its parent job FAILED (never queued or running) with the message
in error_message, one export_coordinator.failed event with the same message, no dataset row,
nothing under PROTEA_HOME/datasets or PROTEA_HOME/knn. A rejected load must leave no row
(annotation set, annotations, ontology snapshot, terms, sequences, embedding config, load
report) and nothing under PROTEA_HOME/embeddings.

Where the message of a case is not what the code says today, the case states the message it
should say (the catalogue asserts the right behaviour; the defects are listed for the lead).
"""

from __future__ import annotations

import datetime
import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from protea_pipelines import cli, cli_load
from protea_pipelines.demo import demo_payload
from protea_pipelines.errors import InputError, ParseError
from protea_pipelines.export.service import export_in_one_step
from protea_pipelines.jobs.parent_job import list_events
from protea_pipelines.loaders.annotations import load_annotation_set
from protea_pipelines.loaders.embeddings import load_embedding_file
from protea_pipelines.loaders.ontology import load_ontology
from protea_pipelines.loaders.sequences import load_sequences
from protea_pipelines.parsers.gaf import iter_gaf
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.models import (
    Annotation,
    AnnotationSet,
    Dataset,
    EmbeddingConfig,
    GoTerm,
    JobEvent,
    LoadReport,
    OntologySnapshot,
    ParentJob,
    ProteinSequence,
)

ONTOLOGY = "go-2019-01-27"
OUTPUT = "catalogue"
LOADED = "20041231, 20091231, 20141231, 20200616, 20210408"
PAYLOAD_FIELDS = (
    "output_name, embedding_config, annotation_source, ontology_snapshot, train_versions, "
    "test_versions, k, search_backend, failure_ratio, expand_votes_to_ancestors, "
    "annotation_set_id"
)
NAME_RULE = (
    "must be one path segment of letters, digits, '.', '_' or '-', starting with a letter or "
    "digit, at most 200 characters"
)
BACKENDS = "accepted: numpy, faiss, torch"
MISSING = object()
TABLES = (
    ParentJob,
    JobEvent,
    Dataset,
    AnnotationSet,
    Annotation,
    EmbeddingConfig,
    LoadReport,
    OntologySnapshot,
    GoTerm,
    ProteinSequence,
)


# --- what the store and PROTEA_HOME hold ------------------------------------------------------


@dataclass(frozen=True)
class State:
    rows: dict[str, int]
    files: dict[str, list[str]]


def state(home: Path) -> State:
    """Row counts of every table a bad input could touch, and the files under the folders."""
    with session_scope() as session:
        rows = {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in TABLES
        }
    files = {}
    for folder in ("datasets", "embeddings", "knn"):
        root = home / folder
        found = root.rglob("*") if root.exists() else []
        files[folder] = sorted(str(path.relative_to(root)) for path in found)
    return State(rows, files)


def grown(before: State, **added: int) -> State:
    """The state expected after adding rows to some tables, the files unchanged."""
    rows = dict(before.rows)
    for table, count in added.items():
        rows[table] += count
    return State(rows, before.files)


def live_jobs() -> list[str]:
    with session_scope() as session:
        statuses = session.scalars(select(ParentJob.status)).all()
    return [status for status in statuses if status in ("queued", "running")]


# --- export payloads ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PayloadCase:
    id: str
    changes: dict[str, Any]
    message: str


def name_case(case_id: str, name: str) -> PayloadCase:
    return PayloadCase(case_id, {"output_name": name}, f"output_name: {NAME_RULE} (got {name!r})")


PAYLOAD_CASES = [
    # Today the message ends "(got {<the whole payload>})": a missing field has no value.
    PayloadCase("missing-field", {"embedding_config": MISSING}, "embedding_config: Field required"),
    # Today there is no "; accepted: ..." part: the person is not told which fields exist.
    PayloadCase(
        "extra-field",
        {"colour": "red"},
        f"colour: Extra inputs are not permitted (got 'red'); accepted: {PAYLOAD_FIELDS}",
    ),
    PayloadCase("k-string", {"k": "5"}, "k: Input should be a valid integer (got '5')"),
    PayloadCase("k-float", {"k": 5.0}, "k: Input should be a valid integer (got 5.0)"),
    PayloadCase("k-zero", {"k": 0}, "k: Input should be greater than or equal to 1 (got 0)"),
    PayloadCase("k-1001", {"k": 1001}, "k: Input should be less than or equal to 1000 (got 1001)"),
    PayloadCase("k-true", {"k": True}, "k: Input should be a valid integer (got True)"),
    PayloadCase(
        "failure-ratio-zero",
        {"failure_ratio": 0},
        "failure_ratio: Input should be greater than 0 (got 0)",
    ),
    PayloadCase(
        "failure-ratio-1.5",
        {"failure_ratio": 1.5},
        "failure_ratio: Input should be less than or equal to 1 (got 1.5)",
    ),
    PayloadCase(
        "failure-ratio-string",
        {"failure_ratio": "1"},
        "failure_ratio: Input should be a valid number (got '1')",
    ),
    PayloadCase(
        "train-versions-empty",
        {"train_versions": []},
        "train_versions: must name at least one snapshot version (got [])",
    ),
    PayloadCase(
        "train-versions-not-a-list",
        {"train_versions": "20091231"},
        "train_versions: Input should be a valid list (got '20091231')",
    ),
    PayloadCase(
        "train-version-string",
        {"train_versions": ["20091231"]},
        "train_versions.0: Input should be a valid integer (got '20091231')",
    ),
    PayloadCase(
        "version-twice",
        {"train_versions": [20091231, 20091231]},
        "train_versions: versions listed twice: [20091231] (got [20091231, 20091231])",
    ),
    PayloadCase(
        "train-test-overlap",
        {"test_versions": [20200616]},
        "payload: train_versions and test_versions overlap: [20200616]",
    ),
    PayloadCase(
        "backend-FAISS",
        {"search_backend": "FAISS"},
        f"search_backend: unsupported search backend; {BACKENDS} (got 'FAISS')",
    ),
    PayloadCase(
        "backend-annoy",
        {"search_backend": "annoy"},
        f"search_backend: unsupported search backend; {BACKENDS} (got 'annoy')",
    ),
    PayloadCase(
        "unknown-embedding-config",
        {"embedding_config": "esm2-650m"},
        "embedding_config: unknown embedding config (got 'esm2-650m'); accepted: kmer3-320",
    ),
    PayloadCase(
        "unknown-ontology-snapshot",
        {"ontology_snapshot": "go-2099-01-01"},
        f"ontology_snapshot: unknown ontology snapshot (got 'go-2099-01-01'); accepted: {ONTOLOGY}",
    ),
    PayloadCase(
        "unknown-annotation-source",
        {"annotation_source": "goa_human"},
        "annotation_source: no snapshot version loaded for this source (got 'goa_human'); "
        "accepted: goa_yeast",
    ),
    PayloadCase(
        "train-version-not-loaded",
        {"train_versions": [20150101]},
        f"train_versions: snapshot version not loaded (got 20150101); accepted: {LOADED}",
    ),
    PayloadCase(
        "test-version-not-loaded",
        {"test_versions": [20990101]},
        f"test_versions: snapshot version not loaded (got 20990101); accepted: {LOADED}",
    ),
    PayloadCase(
        "oldest-version",
        {"train_versions": [20041231]},
        "train_versions: snapshot version has no predecessor to diff against (it is the oldest "
        "loaded) (got 20041231); accepted: 20091231, 20141231, 20200616, 20210408",
    ),
    PayloadCase(
        "annotation-set-id-not-the-pivot",
        {"annotation_set_id": 1},
        "annotation_set_id: does not match the set of (annotation_source, max(train_versions)) "
        "(got 1); accepted: 4",
    ),
    PayloadCase(
        "annotation-set-id-true",
        {"annotation_set_id": True},
        "annotation_set_id: Input should be a valid integer (got True)",
    ),
    # YAML reads `output_name: 2024-05-01` as a date. Today the parent job row cannot be
    # written (the payload is not JSON) and a StatementError escapes export_in_one_step.
    PayloadCase(
        "output-name-yaml-date",
        {"output_name": datetime.date(2024, 5, 1)},
        "output_name: Input should be a valid string (got datetime.date(2024, 5, 1))",
    ),
    name_case("output-name-dotdot-escape", "../escape"),
    name_case("output-name-slash", "a/b"),
    name_case("output-name-absolute", "/abs"),
    name_case("output-name-dot", "."),
    name_case("output-name-dotdot", ".."),
    name_case("output-name-hidden", ".hidden"),
    name_case("output-name-empty", ""),
    name_case("output-name-300-chars", "x" * 300),
    name_case("output-name-space", "name with space"),
    name_case("output-name-nul", "nul\x00byte"),
    name_case("output-name-unicode", "ünïcode"),
]


def bad_payload(changes: dict[str, Any]) -> dict[str, Any]:
    payload = demo_payload(OUTPUT)
    for key, value in changes.items():
        if value is MISSING:
            payload.pop(key)
        else:
            payload[key] = value
    return payload


def assert_export_rejected(job_id: str, message: str) -> None:
    """The parent job ended FAILED before any work, with exactly one failed event."""
    with session_scope() as session:
        job = session.get(ParentJob, job_id)
        assert job is not None
        assert (job.status, job.error_message) == ("failed", message)
        assert job.started_at is None and job.finished_at is not None
        assert job.progress_total == 0
        events = [(e.level, e.name, e.message) for e in list_events(session, job_id)]
    assert events[-1:] == [("error", "export_coordinator.failed", message)]
    assert [name for _, name, _ in events if name.endswith(".failed")] == [
        "export_coordinator.failed"
    ]


@pytest.mark.parametrize("case", PAYLOAD_CASES, ids=[case.id for case in PAYLOAD_CASES])
def test_export_payload_rejected(demo_home: Path, case: PayloadCase) -> None:
    before = state(demo_home)
    outcome = export_in_one_step(bad_payload(case.changes))
    assert (outcome.status, outcome.dataset_path) == ("failed", None)
    assert_export_rejected(outcome.job_id, case.message)
    assert state(demo_home) == grown(before, parent_jobs=1, job_events=1)
    assert live_jobs() == []
    # What export_in_one_step hands back is the message itself; today a payload error comes
    # back as "payload: <message> (got '')" (and "payload: payload: ..." for the overlap).
    assert outcome.error == case.message


def test_output_name_taken_by_a_dataset_row(demo_home: Path) -> None:
    with session_scope() as session:
        session.add(
            Dataset(
                name=OUTPUT,
                path=str(demo_home / "datasets" / OUTPUT),
                manifest_sha256="0" * 64,
                train_rows=1,
                eval_rows=1,
            )
        )
    before = state(demo_home)
    outcome = export_in_one_step(demo_payload(OUTPUT))
    message = (
        f"output_name: a dataset of this name exists already; choose another name (got {OUTPUT!r})"
    )
    assert_export_rejected(outcome.job_id, message)
    assert outcome.error == message
    assert state(demo_home) == grown(before, parent_jobs=1, job_events=1)


def test_output_name_taken_by_a_folder(demo_home: Path) -> None:
    folder = demo_home / "datasets" / OUTPUT
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("someone else's files\n")
    before = state(demo_home)
    outcome = export_in_one_step(demo_payload(OUTPUT))
    message = (
        f"output_name: a dataset of this name exists already; choose another name (got {OUTPUT!r})"
    )
    assert_export_rejected(outcome.job_id, message)
    assert outcome.error == message
    assert state(demo_home) == grown(before, parent_jobs=1, job_events=1)
    assert (folder / "notes.txt").read_text() == "someone else's files\n"


# --- the same rejections through the Dagster job ---------------------------------------------


@dataclass(frozen=True)
class DagsterCase:
    id: str
    gate: str
    message: str
    run_config: dict[str, Any] = field(default_factory=dict)


DAGSTER_CASES = [
    DagsterCase(
        "gate-2", "2", "PROTEA_EXPORT_MINIJOBS: unknown export mode (got '2'); accepted: 0, 1"
    ),
    DagsterCase(
        "gate-true",
        "true",
        "PROTEA_EXPORT_MINIJOBS: unknown export mode (got 'true'); accepted: 0, 1",
    ),
    DagsterCase(
        "resource-backend-annoy",
        "1",
        f"search_backend: unsupported search backend (got 'annoy'); {BACKENDS}",
        {"resources": {"search": {"config": {"backend": "annoy"}}}},
    ),
    # What the Dagster UI shows as the step's failure; today "payload: k: ... (got 0) (got '')".
    DagsterCase(
        "fanout-k-zero",
        "1",
        "k: Input should be greater than or equal to 1 (got 0)",
        {"ops": {"export_coordinator": {"config": bad_payload({"k": 0})}}},
    ),
    DagsterCase(
        "fanout-oldest-version",
        "1",
        "train_versions: snapshot version has no predecessor to diff against (it is the oldest "
        "loaded) (got 20041231); accepted: 20091231, 20141231, 20200616, 20210408",
        {"ops": {"export_coordinator": {"config": bad_payload({"train_versions": [20041231]})}}},
    ),
]


@pytest.mark.parametrize("case", DAGSTER_CASES, ids=[case.id for case in DAGSTER_CASES])
def test_dagster_export_rejected(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch, case: DagsterCase
) -> None:
    from protea_pipelines.assets.definitions import defs
    from protea_pipelines.dagster_home import ensure_dagster_home

    monkeypatch.setenv("PROTEA_EXPORT_MINIJOBS", case.gate)
    run_config = {"ops": {"export_coordinator": {"config": demo_payload(OUTPUT)}}}
    run_config.update(case.run_config)
    before = state(demo_home)
    ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("export_research_dataset").execute_in_process(
            run_config=run_config, instance=instance, raise_on_error=False
        )
    assert not result.success
    failures = [event for event in result.all_events if event.is_step_failure]
    assert [event.step_key for event in failures] == ["export_coordinator"]
    assert failures[0].step_failure_data.user_failure_data.description == case.message
    with session_scope() as session:
        job_ids = session.scalars(
            select(ParentJob.id).where(ParentJob.dagster_run_id == result.run_id)
        ).all()
        names = [e.name for e in list_events(session, job_ids[0])] if job_ids else []
    assert len(job_ids) == 1
    assert_export_rejected(job_ids[0], case.message)
    assert names == ["export_coordinator.start", "export_coordinator.failed"]
    assert state(demo_home) == grown(before, parent_jobs=1, job_events=2)
    assert live_jobs() == []


# --- GAF ---------------------------------------------------------------------------------------

GAF_HEADER = "!gaf-version: 2.2\n"
GOOD_COLUMNS = (
    "UniProtKB",
    "CAT0001",
    "CAT1",
    "",
    "GO:0005739",
    "PMID:1",
    "IDA",
    "",
    "C",
    "catalogue protein",
    "CAT1",
    "protein",
    "taxon:559292",
    "20060406",
    "SGD",
    "",
    "",
)
GOOD_LINE = "\t".join(GOOD_COLUMNS)


def gaf_line(**columns: str) -> str:
    """The good line with some columns replaced; c4="GO:123" sets column index 4 (GO id)."""
    values = list(GOOD_COLUMNS)
    for key, value in columns.items():
        values[int(key[1:])] = value
    return "\t".join(values)


@dataclass(frozen=True)
class GafLineCase:
    id: str
    line: str
    detail: str


GAF_LINE_CASES = [
    GafLineCase(
        "too-few-columns",
        "\t".join(GOOD_COLUMNS[:10]),
        "wrong column count: found 10, expected 15 to 17 tab-separated",
    ),
    GafLineCase(
        "too-many-columns",
        GOOD_LINE + "\textra\tmore\tmore",
        "wrong column count: found 20, expected 15 to 17 tab-separated",
    ),
    GafLineCase(
        "comma-separated",
        GOOD_LINE.replace("\t", ","),
        "wrong column count: found 1, expected 15 to 17 tab-separated",
    ),
    # Today the details end at the value: nothing says what is accepted.
    GafLineCase(
        "bad-go-id", gaf_line(c4="GO:123"), "bad GO id: 'GO:123'; accepted: GO: and 7 digits"
    ),
    GafLineCase(
        "iso-date", gaf_line(c13="2006-04-06"), "bad date: '2006-04-06'; accepted: YYYYMMDD"
    ),
    GafLineCase(
        "impossible-date", gaf_line(c13="20060231"), "bad date: '20060231'; accepted: YYYYMMDD"
    ),
    GafLineCase("empty-accession", gaf_line(c1=""), "empty accession"),
    GafLineCase("empty-evidence-code", gaf_line(c6=""), "empty evidence code"),
    GafLineCase("unknown-aspect", gaf_line(c8="X"), "unknown aspect: 'X'; accepted: P, F, C"),
]
GAF_LINE_IDS = [case.id for case in GAF_LINE_CASES]


def load_gaf(path: Path, version: int = 90000001) -> tuple[AnnotationSet, LoadReport]:
    with session_scope() as session:
        annotation_set, report = load_annotation_set(
            session, [path], "catalogue", ONTOLOGY, version=version
        )
        session.expunge_all()
    return annotation_set, report


@pytest.mark.parametrize("case", GAF_LINE_CASES, ids=GAF_LINE_IDS)
def test_gaf_bad_line_default_mode(demo_home: Path, tmp_path: Path, case: GafLineCase) -> None:
    """One good line (2) and one bad line (3): the set keeps the good row, the report says why
    line 3 was skipped."""
    path = tmp_path / "bad.gaf"
    path.write_text(GAF_HEADER + GOOD_LINE + "\n" + case.line + "\n", encoding="utf-8")
    before = state(demo_home)
    annotation_set, report = load_gaf(path)
    assert (annotation_set.row_count, report.rows_read, report.rows_kept) == (1, 2, 1)
    assert report.skipped == {"malformed line": 1}
    assert report.notes["malformed lines"] == [f"bad.gaf: malformed line 3: {case.detail}"]
    assert state(demo_home) == grown(before, annotation_sets=1, annotations=1, load_reports=1)


@pytest.mark.parametrize("case", GAF_LINE_CASES, ids=GAF_LINE_IDS)
def test_gaf_bad_line_strict_mode(tmp_path: Path, case: GafLineCase) -> None:
    path = tmp_path / "bad.gaf"
    path.write_text(GAF_HEADER + GOOD_LINE + "\n" + case.line + "\n", encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        list(iter_gaf(path, strict=True))
    assert str(caught.value) == f"{path}:3: {case.detail} (got {case.line[:120]!r})"
    assert (caught.value.path, caught.value.line_number) == (str(path), 3)


def test_gaf_report_lists_the_first_20_malformed_lines(demo_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "many.gaf"
    bad = gaf_line(c8="X")
    path.write_text(GAF_HEADER + GOOD_LINE + "\n" + (bad + "\n") * 25, encoding="utf-8")
    _, report = load_gaf(path)
    assert (report.rows_read, report.rows_kept, report.skipped) == (26, 1, {"malformed line": 25})
    detail = "unknown aspect: 'X'; accepted: P, F, C"
    expected = [f"many.gaf: malformed line {n}: {detail}" for n in range(3, 23)]
    assert report.notes["malformed lines"] == expected


def gzip_truncated(text: str) -> bytes:
    data = gzip.compress(text.encode())
    return data[: len(data) // 2]


PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"
GAF_FILE_CASES: dict[str, tuple[str, bytes]] = {
    "png": ("picture.gaf", PNG_BYTES),
    "csv": ("table.gaf", b"accession,go_id,evidence\nCAT0001,GO:0005739,IDA\n"),
    "empty": ("empty.gaf", b""),
    "header-only": ("header.gaf", GAF_HEADER.encode()),
    "only-bad-lines": ("bad.gaf", (GAF_HEADER + gaf_line(c4="GO:123") + "\n").encode()),
    "truncated-gzip": ("cut.gaf.gz", gzip_truncated(GAF_HEADER + (GOOD_LINE + "\n") * 300)),
}


@pytest.mark.parametrize("case", sorted(GAF_FILE_CASES))
def test_gaf_file_without_usable_rows(demo_home: Path, tmp_path: Path, case: str) -> None:
    """A file that yields no annotation row is refused: an InputError naming the file, no set,
    no rows, no load report. Today the PNG raises UnicodeDecodeError, the truncated gzip
    EOFError, and the other four create an empty annotation set with a load report."""
    name, data = GAF_FILE_CASES[case]
    path = tmp_path / name
    path.write_bytes(data)
    before = state(demo_home)
    with pytest.raises(InputError) as caught:
        load_gaf(path)
    assert str(path) in str(caught.value)
    assert state(demo_home) == before


# --- OBO ---------------------------------------------------------------------------------------

OBO_HEADER = "format-version: 1.2\ndata-version: releases/2019-01-27\n\n"  # lines 1-3
ROOT_TERM = "[Term]\nid: GO:0008150\nname: biological_process\nnamespace: biological_process\n\n"


@dataclass(frozen=True)
class OboCase:
    id: str
    text: str
    problem: str


OBO_LINE_CASES = [
    # Today the text ends with " (got '')": the stanza has no value to show.
    OboCase(
        "term-without-id",
        OBO_HEADER + ROOT_TERM + "[Term]\nname: orphan\nnamespace: biological_process\n",
        "[Term] stanza without id",
    ),
    OboCase(
        "term-without-namespace",
        OBO_HEADER + ROOT_TERM + "[Term]\nid: GO:0000002\nname: y\n",
        "[Term] stanza without namespace",
    ),
    OboCase(
        "bad-namespace",
        OBO_HEADER + ROOT_TERM + "[Term]\nid: GO:0000001\nname: x\nnamespace: biological_proces\n",
        "term GO:0000001 has a namespace other than biological_process, molecular_function, "
        "cellular_component (got 'namespace: biological_proces')",
    ),
]


@pytest.mark.parametrize("case", OBO_LINE_CASES, ids=[case.id for case in OBO_LINE_CASES])
def test_obo_bad_stanza(protea_home: Path, tmp_path: Path, case: OboCase) -> None:
    path = tmp_path / "go.obo"
    path.write_text(case.text, encoding="utf-8")
    before = state(protea_home)
    with pytest.raises(ParseError) as caught, session_scope() as session:
        load_ontology(session, path, "go-catalogue")
    assert str(caught.value) == f"{path}:9: {case.problem}"
    assert state(protea_home) == before


OBO_FILE_CASES: dict[str, tuple[str, bytes]] = {
    "no-terms": ("typedefs.obo", (OBO_HEADER + "[Typedef]\nid: part_of\nname: part of\n").encode()),
    "csv": ("table.obo", b"go_id,name\nGO:0008150,biological_process\n"),
    "empty": ("empty.obo", b""),
    "png": ("picture.obo", PNG_BYTES),
}


@pytest.mark.parametrize("case", sorted(OBO_FILE_CASES))
def test_obo_file_without_terms(protea_home: Path, tmp_path: Path, case: str) -> None:
    """No [Term] stanza: an InputError naming the file and nothing stored. Today the first
    three store an ontology snapshot with 0 terms; the PNG raises UnicodeDecodeError."""
    name, data = OBO_FILE_CASES[case]
    path = tmp_path / name
    path.write_bytes(data)
    before = state(protea_home)
    with pytest.raises(InputError) as caught, session_scope() as session:
        load_ontology(session, path, "go-catalogue")
    assert str(path) in str(caught.value)
    assert state(protea_home) == before


# --- FASTA -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FastaCase:
    id: str
    text: str
    kept: list[str]
    skipped: dict[str, int]
    notes: list[str]


FASTA_CASES = [
    FastaCase(
        "empty-sequence",
        ">sp|CAT0001|A_YEAST no residues\n>sp|CAT0002|B_YEAST ok\nMKV\n",
        ["CAT0002"],
        {"empty sequence": 1},
        ["line 1: empty sequence: CAT0001"],
    ),
    # Today the note ends at the characters: nothing says which ones are accepted.
    FastaCase(
        "bad-characters",
        ">sp|CAT0003|C_YEAST digits\nMKV123-?\n>sp|CAT0004|D_YEAST ok\nMKV\n",
        ["CAT0004"],
        {"characters outside the amino-acid alphabet": 1},
        [
            "line 1: characters outside the amino-acid alphabet: CAT0003 has '-123?'; "
            "accepted: A-Z and *"
        ],
    ),
    FastaCase(
        "duplicate-accession",
        ">sp|CAT0005|E_YEAST\nMKV\n>sp|CAT0005|E_YEAST again\nMKVL\n",
        ["CAT0005"],
        {"duplicate accession": 1},
        ["line 3: duplicate accession: CAT0005 (first at line 1)"],
    ),
    FastaCase(
        "header-without-accession",
        ">\nMKV\n>sp|CAT0006|F_YEAST\nMKV\n",
        ["CAT0006"],
        {"header without accession": 1},
        ["line 1: header without accession"],
    ),
]


@pytest.mark.parametrize("case", FASTA_CASES, ids=[case.id for case in FASTA_CASES])
def test_fasta_bad_record(protea_home: Path, tmp_path: Path, case: FastaCase) -> None:
    path = tmp_path / "proteins.fasta"
    path.write_text(case.text, encoding="utf-8")
    before = state(protea_home)
    with session_scope() as session:
        report = load_sequences(session, path)
        summary = (report.rows_kept, report.skipped, report.notes.get("skipped records"))
    assert summary == (len(case.kept), case.skipped, case.notes)
    with session_scope() as session:
        assert sorted(session.scalars(select(ProteinSequence.accession))) == case.kept
    assert state(protea_home) == grown(before, protein_sequences=len(case.kept), load_reports=1)


FASTA_FILE_CASES: dict[str, bytes] = {
    "empty": b"",
    "not-fasta": b"hello\nworld\n",
    "all-records-bad": b">sp|CAT0007|G_YEAST\n\n>\nMKV\n",
    "png": PNG_BYTES,
}


@pytest.mark.parametrize("case", sorted(FASTA_FILE_CASES))
def test_fasta_file_without_usable_records(protea_home: Path, tmp_path: Path, case: str) -> None:
    """No usable record: an InputError naming the file, no load report. Today the first three
    store a load report with 0 kept; the PNG raises UnicodeDecodeError."""
    path = tmp_path / f"{case}.fasta"
    path.write_bytes(FASTA_FILE_CASES[case])
    before = state(protea_home)
    with pytest.raises(InputError) as caught, session_scope() as session:
        load_sequences(session, path)
    assert str(path) in str(caught.value)
    assert state(protea_home) == before


# --- embedding files ---------------------------------------------------------------------------

SAFE_CONFIG = "letters, digits, '.', '_' and '-', not starting with '.', at most 100 characters"


def write_npy(folder: Path, matrix: Any, accessions: str = "P1\nP2\nP3\n") -> tuple[Path, Path]:
    path = folder / "vectors.npy"
    np.save(path, np.asarray(matrix, dtype=np.float32))
    accession_path = folder / "accessions.txt"
    accession_path.write_text(accessions, encoding="utf-8")
    return path, accession_path


def write_h5(folder: Path, vectors: dict[str, list[float]]) -> tuple[Path, None]:
    path = folder / "per-protein.h5"
    with h5py.File(path, "w") as handle:
        for accession, vector in vectors.items():
            handle[accession] = np.asarray(vector, dtype=np.float32)
    return path, None


def write_bytes(name: str, data: bytes) -> Callable[[Path], tuple[Path, Path | None]]:
    def make(folder: Path) -> tuple[Path, Path | None]:
        path = folder / name
        path.write_bytes(data)
        accessions = folder / "accessions.txt"
        accessions.write_text("P1\n", encoding="utf-8")
        return path, accessions if name.endswith(".npy") else None

    return make


def write_parquet_duplicates(folder: Path) -> tuple[Path, None]:
    path = folder / "vectors.parquet"
    table = pa.table({"accession": ["P1", "P1"], "embedding": [[1.0, 2.0], [3.0, 4.0]]})
    pq.write_table(table, path)
    return path, None


def write_h5_group(folder: Path) -> tuple[Path, None]:
    path = folder / "grouped.h5"
    with h5py.File(path, "w") as handle:
        handle.create_group("P1")
    return path, None


@dataclass(frozen=True)
class EmbeddingCase:
    id: str
    make: Callable[[Path], tuple[Path, Path | None]]
    message: str | None  # {path} is the embedding file; None: an InputError naming the file
    name: str = "catalogue-vectors"
    fmt: str | None = None


EMBEDDING_CASES = [
    EmbeddingCase(
        "nan",
        lambda d: write_npy(d, [[1, 2], [np.nan, 1], [0, 1]]),
        "{path}: NaN or infinite value in row 1 (got 'P2')",
    ),
    EmbeddingCase(
        "inf",
        lambda d: write_h5(d, {"P1": [1, 2], "P2": [np.inf, 1]}),
        "{path}: NaN or infinite value in row 1 (got 'P2')",
    ),
    EmbeddingCase(
        "ragged-h5",
        lambda d: write_h5(d, {"P1": [1, 2, 3], "P2": [1, 2]}),
        "{path}: vector in row 1 has shape (2,), expected (3,) like row 0 (got 'P2')",
    ),
    EmbeddingCase(
        "npy-rows-not-accessions",
        lambda d: write_npy(d, [[1, 2], [3, 4]]),
        "{path}: matrix has 2 rows but there are 3 accessions (got 2)",
    ),
    EmbeddingCase(
        "npy-one-dimensional",
        lambda d: write_npy(d, [1, 2, 3]),
        "{path}: vectors must form a 2-D matrix (n, dim) (got (3,))",
    ),
    EmbeddingCase(
        "duplicate-accession-npy",
        lambda d: write_npy(d, [[1, 2], [3, 4], [5, 6]], "P1\nP2\nP1\n"),
        "{path}: duplicate accession in rows 0 and 2 (got 'P1')",
    ),
    EmbeddingCase(
        "duplicate-accession-parquet",
        write_parquet_duplicates,
        "{path}: duplicate accession in rows 0 and 1 (got 'P1')",
    ),
    EmbeddingCase("empty-h5", lambda d: write_h5(d, {}), "{path}: holds no vectors (got 0)"),
    EmbeddingCase(
        "h5-group-entry", write_h5_group, "{path}: top-level entry is not a dataset (got 'P1')"
    ),
    EmbeddingCase(
        "csv-suffix",
        write_bytes("vectors.csv", b"P1,1,2\n"),
        "{path}: cannot infer the format from the suffix (got '.csv'); accepted: h5, npy, parquet",
    ),
    EmbeddingCase(
        "format-csv",
        write_bytes("vectors.csv", b"P1,1,2\n"),
        "format: unknown embedding file format (got 'csv'); accepted: h5, npy, parquet",
        fmt="csv",
    ),
    EmbeddingCase(
        "npy-without-accessions",
        lambda d: (write_npy(d, [[1, 2], [3, 4], [5, 6]])[0], None),
        "accessions: a .npy matrix needs an accession list file (got None)",
    ),
    # Today: EOFError, ValueError (about pickled data), OSError and ArrowInvalid, none of
    # them naming the file as an InputError would (the CLI shows a traceback for each).
    EmbeddingCase("empty-npy-file", write_bytes("empty.npy", b""), None),
    EmbeddingCase("png-as-npy", write_bytes("picture.npy", PNG_BYTES), None),
    EmbeddingCase("text-as-h5", write_bytes("text.h5", b"not hdf5\n"), None),
    EmbeddingCase("text-as-parquet", write_bytes("text.parquet", b"not parquet\n"), None),
]
for bad_name in ("../x", "a/b", ".hidden", "", "x" * 101, "name with space"):
    EMBEDDING_CASES.append(
        EmbeddingCase(
            f"config-name-{bad_name[:12]!r}",
            lambda d: write_npy(d, [[1, 2], [3, 4], [5, 6]]),
            f"name: not a safe embedding config name (got {bad_name!r}); accepted: {SAFE_CONFIG}",
            name=bad_name,
        )
    )


@pytest.mark.parametrize("case", EMBEDDING_CASES, ids=[case.id for case in EMBEDDING_CASES])
def test_embedding_file_rejected(protea_home: Path, tmp_path: Path, case: EmbeddingCase) -> None:
    folder = tmp_path / "input"
    folder.mkdir()
    path, accessions = case.make(folder)
    before = state(protea_home)
    with pytest.raises(InputError) as caught, session_scope() as session:
        load_embedding_file(session, path, case.name, case.fmt, accessions)
    if case.message is None:
        assert str(path) in str(caught.value)
    else:
        assert str(caught.value) == case.message.format(path=path)
    assert state(protea_home) == before
    assert not (protea_home / "embeddings").exists() or not any(
        (protea_home / "embeddings").iterdir()
    )


def test_embedding_config_name_taken(demo_home: Path, tmp_path: Path) -> None:
    path, accessions = write_npy(tmp_path, [[1, 2], [3, 4], [5, 6]])
    before = state(demo_home)
    stored = (demo_home / "embeddings" / "kmer3-320" / "vectors.npy").read_bytes()
    with pytest.raises(InputError) as caught, session_scope() as session:
        load_embedding_file(session, path, "kmer3-320", None, accessions)
    message = "name: an embedding config with this name already exists (got 'kmer3-320')"
    assert str(caught.value) == message
    assert state(demo_home) == before
    assert (demo_home / "embeddings" / "kmer3-320" / "vectors.npy").read_bytes() == stored


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose consoles do not wrap, so each message is one line."""
    for console in (cli.console, cli_load.console, cli_load.error_console):
        monkeypatch.setattr(console, "_width", 10_000)
    return CliRunner()


def demo_yaml(extra: str = "") -> str:
    text = (Path(__file__).parents[2] / "configs" / "demo.yaml").read_text()
    return text.replace("output_name: yeast-demo", f"output_name: {OUTPUT}") + extra


def assert_clean_exit(result: Any) -> None:
    """Exit code 1 through typer.Exit: no exception escaped, so no traceback was printed."""
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output


CLI_EXPORT_CASES = {
    # The launch path shows the same message as the payload validator. Today Dagster's config
    # check answers first: 'Received unexpected config entry "colour" at path
    # root:ops:export_coordinator:config. Expected: "{ annotation_set_id?: (Int | { env:
    # String })? ...}"', without the value, in Dagster's type grammar.
    "bad-key": (
        demo_yaml("colour: red\n"),
        f"colour: Extra inputs are not permitted (got 'red'); accepted: {PAYLOAD_FIELDS}",
    ),
    # Today: "Missing required config entries [...] at path root:ops:export_coordinator:config.
    # You must provide these values in your run config. Example config for ..."
    "empty": (
        "",
        "output_name: Field required; embedding_config: Field required; annotation_source: "
        "Field required; ontology_snapshot: Field required; train_versions: Field required",
    ),
    # Today: 'Invalid scalar at path root:ops:export_coordinator:config:k. Value "5" of type
    # "<class \'str\'>" is not valid for expected type "Int".'
    "k-string": (
        demo_yaml().replace("k: 5", 'k: "5"'),
        "k: Input should be a valid integer (got '5')",
    ),
}


@pytest.mark.parametrize("case", sorted(CLI_EXPORT_CASES))
def test_cli_export_rejects_payload(
    demo_home: Path, tmp_path: Path, runner: CliRunner, case: str
) -> None:
    text, message = CLI_EXPORT_CASES[case]
    path = tmp_path / "payload.yaml"
    path.write_text(text)
    before = state(demo_home)
    result = runner.invoke(cli.app, ["export", str(path)])
    assert_clean_exit(result)
    lines = result.stdout.splitlines()
    assert lines[1:3] == ["status      failed", "dataset     -"]
    assert lines[3] == f"error       {message}"
    assert live_jobs() == []
    after = state(demo_home)
    assert after.rows["datasets"] == 0 and after.files == before.files


CLI_NOT_A_MAPPING = {
    "list": "- output_name\n- catalogue\n",
    "scalar": "just a sentence\n",
    "broken-yaml": "train_versions: [20091231\n",
    "yaml-date-value": demo_yaml().replace(f"output_name: {OUTPUT}", "output_name: 2024-05-01"),
}


@pytest.mark.parametrize("case", sorted(CLI_NOT_A_MAPPING))
def test_cli_export_unreadable_payload_file(
    demo_home: Path, tmp_path: Path, runner: CliRunner, case: str
) -> None:
    """Exit 1 with one "error:" line naming the file (or the field), no traceback and no
    parent job left queued. Today each of these ends in a traceback (ValueError from
    dict(payload), yaml ParserError, a StatementError on the date)."""
    path = tmp_path / "payload.yaml"
    path.write_text(CLI_NOT_A_MAPPING[case])
    result = runner.invoke(cli.app, ["export", str(path)])
    assert_clean_exit(result)
    errors = [line for line in result.output.splitlines() if line.startswith("error")]
    assert len(errors) == 1, result.output
    assert str(path) in errors[0] or "output_name" in errors[0]
    assert live_jobs() == []
    assert state(demo_home).rows["datasets"] == 0


@pytest.mark.parametrize("command", ["show", "events"])
def test_cli_jobs_unknown_id(protea_home: Path, runner: CliRunner, command: str) -> None:
    result = runner.invoke(cli.app, ["jobs", command, "no-such-id"])
    assert_clean_exit(result)
    assert result.output == "error: no parent job no-such-id\n"


def test_cli_load_embeddings_bad_name(protea_home: Path, tmp_path: Path, runner: CliRunner) -> None:
    path, accessions = write_npy(tmp_path, [[1, 2], [3, 4], [5, 6]])
    args = ["load", "embeddings", str(path), "--name", "../x", "--accessions", str(accessions)]
    result = runner.invoke(cli.app, args)
    assert_clean_exit(result)
    message = f"error: name: not a safe embedding config name (got '../x'); accepted: {SAFE_CONFIG}"
    assert result.stderr == message + "\n"
    assert state(protea_home).rows["embedding_configs"] == 0


def test_cli_load_annotations_png(demo_home: Path, tmp_path: Path, runner: CliRunner) -> None:
    """Today a UnicodeDecodeError traceback; the right answer is one error line naming the file."""
    path = tmp_path / "picture.gaf"
    path.write_bytes(PNG_BYTES)
    before = state(demo_home)
    args = ["load", "annotations", str(path), "--source", "catalogue", "--ontology", ONTOLOGY]
    result = runner.invoke(cli.app, [*args, "--version", "1"])
    assert_clean_exit(result)
    assert result.stderr.startswith("error: ") and str(path) in result.stderr
    assert state(demo_home) == before
