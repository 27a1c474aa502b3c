"""Loaders against a temporary store: ontology, annotation sets, sequences, embeddings, CLI."""

from __future__ import annotations

import gzip
import hashlib
import importlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from protea_pipelines.cli_load import load_app
from protea_pipelines.errors import InputError
from protea_pipelines.loaders import ontology
from protea_pipelines.loaders.annotations import load_annotation_set
from protea_pipelines.loaders.embeddings import load_embedding_file
from protea_pipelines.loaders.ontology import load_ontology
from protea_pipelines.loaders.sequences import load_sequences
from protea_pipelines.store import db, embedding_store
from protea_pipelines.store.embedding_store import load_embeddings, save_embeddings
from protea_pipelines.store.models import (
    Annotation,
    AnnotationSet,
    EmbeddingConfig,
    GoAltId,
    GoTerm,
    GoTermRelation,
    LoadReport,
    OntologySnapshot,
    ProteinSequence,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
# Imported by name: `from protea_pipelines.loaders import annotations` would find the package's
# `from __future__ import annotations` instead of the module.
annotation_loader = importlib.import_module("protea_pipelines.loaders.annotations")
OBO = FIXTURES / "go_2019_excerpt.obo"
YEAST_198 = FIXTURES / "yeast_htp_198_head.gaf"
YEAST_203 = FIXTURES / "yeast_htp_203_head.gaf"
YEAST_NOT_203 = FIXTURES / "yeast_exp_not_203.gaf"
WORM_2014 = FIXTURES / "worm_2014_head.gaf.gz"
WORM_2014_REMAP = FIXTURES / "worm_2014_remap.gaf"
FASTA = FIXTURES / "yeast_5.fasta"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty PROTEA_HOME with its own SQLite store."""
    monkeypatch.setenv("PROTEA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("PROTEA_DATABASE_URL", raising=False)
    db.dispose_engines()
    yield tmp_path / "home"
    db.dispose_engines()


@pytest.fixture
def session(home: Path) -> Iterator[Session]:
    with db.session_scope() as session:
        yield session


@pytest.fixture
def go(session: Session) -> str:
    load_ontology(session, OBO, "go-2019-01-27")
    return "go-2019-01-27"


def stored(session: Session, set_id: int) -> dict[tuple[str, str, str, bool], Annotation]:
    rows = session.scalars(select(Annotation).where(Annotation.annotation_set_id == set_id))
    return {(r.accession, r.go_id, r.evidence_code, r.is_negated): r for r in rows}


def test_ontology_snapshot(session: Session) -> None:
    snapshot, report = load_ontology(session, OBO, "go-2019-01-27")
    assert snapshot.data_version == "releases/2019-01-27"
    assert snapshot.file_name == "go_2019_excerpt.obo"
    assert snapshot.sha256 == hashlib.sha256(OBO.read_bytes()).hexdigest()
    assert snapshot.term_count == 665
    count = select(func.count()).select_from
    assert session.scalar(count(GoTerm)) == 665
    assert session.scalar(select(func.count()).where(GoTerm.is_obsolete)) == 4
    relations = session.execute(
        select(GoTermRelation.relation, func.count()).group_by(GoTermRelation.relation)
    ).all()
    assert dict(relations) == {"is_a": 988, "part_of": 82}
    assert session.scalar(count(GoAltId)) == 227
    alt = session.scalar(select(GoAltId.primary_go_id).where(GoAltId.alt_id == "GO:0032855"))
    assert alt == "GO:0043547"
    assert (report.kind, report.rows_read, report.rows_kept, report.skipped) == (
        "ontology",
        665,
        665,
        {},
    )
    assert report.notes["obsolete terms"] == 4
    with pytest.raises(InputError, match="an ontology snapshot with this name already exists"):
        load_ontology(session, OBO, "go-2019-01-27")


def test_obsolete_terms_and_alt_ids_of_worm_2014_against_go_2019(session: Session, go: str) -> None:
    annotation_set, report = load_annotation_set(
        session, [WORM_2014_REMAP], "worm", go, version=2014
    )
    # 17 rows: 4 with obsolete terms (lines 12, 13, 21, 22), 8 with alt ids (lines 14, 15, 19,
    # 20, 23-26); A0FLQ8 repeats one key 3 times, C4ALD5 4 times after remapping, G5EDL0 twice.
    assert (report.rows_read, report.rows_kept) == (17, 7)
    assert report.skipped == {"duplicate key merged": 6, "obsolete term": 4}
    assert report.notes["alt ids remapped"] == 8
    assert report.notes["GAF aspect differs from ontology"] == 0
    assert report.notes["gaf versions"] == {"worm_2014_remap.gaf": "2.0"}
    rows = stored(session, annotation_set.id)
    assert sorted(rows) == [
        ("A0A061ACS9", "GO:0005096", "IEA", False),
        ("A0A061ACS9", "GO:0043547", "IEA", False),
        ("A0FLQ8", "GO:0006990", "IMP", False),
        ("A3QMD7", "GO:0006325", "IEA", False),
        ("A5PEX5", "GO:0008104", "IMP", False),
        ("C4ALD5", "GO:0043547", "IDA", False),
        ("G5EDL0", "GO:0000977", "IDA", False),
    ]
    # Earliest date of the merged rows; first qualifier seen ("" before "contributes_to").
    assert rows[("A0FLQ8", "GO:0006990", "IMP", False)].annotation_date == date(2013, 10, 15)
    merged = rows[("G5EDL0", "GO:0000977", "IDA", False)]
    assert (merged.qualifier, merged.annotation_date) == ("", date(2012, 7, 24))
    assert rows[("A0A061ACS9", "GO:0005096", "IEA", False)].aspect == "F"
    assert annotation_set.row_count == 7
    assert (annotation_set.source_version, annotation_set.version_number) == ("2014", 2014)


def test_release_from_two_files(session: Session, go: str) -> None:
    annotation_set, report = load_annotation_set(
        session, [YEAST_203, YEAST_NOT_203], "goa", go, version=203, release_label="GOA 203"
    )
    # 40 HTP rows with 34 distinct keys, 38 NOT rows of which P39986 NOT|enables GO:0140358 uses
    # a term newer than the ontology.
    assert (report.rows_read, report.rows_kept) == (78, 71)
    assert report.skipped == {"duplicate key merged": 6, "unknown term": 1}
    assert report.notes["NOT statements kept as negatives"] == 37
    assert report.notes["gaf versions"] == {
        "yeast_htp_203_head.gaf": "2.2",
        "yeast_exp_not_203.gaf": "2.2",
    }
    assert annotation_set.file_name == "yeast_htp_203_head.gaf,yeast_exp_not_203.gaf"
    assert annotation_set.sha256 == ",".join(
        hashlib.sha256(path.read_bytes()).hexdigest() for path in (YEAST_203, YEAST_NOT_203)
    )
    assert annotation_set.provenance == (
        "goa release GOA 203 from yeast_htp_203_head.gaf, yeast_exp_not_203.gaf"
    )
    assert annotation_set.cutoff_date is None
    negative = stored(session, annotation_set.id)[("P32944", "GO:0031569", "IMP", True)]
    assert negative.qualifier == "NOT|involved_in"
    saved = session.scalar(select(LoadReport).where(LoadReport.target == "goa:203"))
    assert saved is not None and saved.skipped == report.skipped
    with pytest.raises(InputError, match=r"annotation set \(goa, 203\) already exists"):
        load_annotation_set(session, [YEAST_203], "goa", go, version=203)


def test_date_cut_keeps_rows_on_or_before_cutoff(session: Session, go: str) -> None:
    cutoff = date(2006, 12, 31)
    annotation_set, report = load_annotation_set(
        session, [YEAST_198], "goa", go, cutoff_date=cutoff, release_label="GOA 198"
    )
    # 24 of the 40 rows are dated 2006-12-31 or earlier; they hold 22 distinct keys.
    assert (report.rows_read, report.rows_kept) == (40, 22)
    assert report.skipped == {"after cutoff date": 16, "duplicate key merged": 2}
    assert (annotation_set.source_version, annotation_set.version_number) == ("20061231", 20061231)
    assert annotation_set.cutoff_date == cutoff
    assert annotation_set.provenance == "cut of GOA 198 at annotation date <= 2006-12-31"
    dates = [row.annotation_date for row in stored(session, annotation_set.id).values()]
    assert max(d for d in dates if d is not None) == date(2006, 12, 12)
    # 14 rows, all distinct keys, are dated 2003-12-31 or earlier.
    unlabelled, _ = load_annotation_set(
        session, [YEAST_198], "goa", go, cutoff_date=date(2003, 12, 31)
    )
    assert unlabelled.provenance == "cut of yeast_htp_198_head.gaf at annotation date <= 2003-12-31"
    assert unlabelled.row_count == 14


def test_version_rules(session: Session, go: str) -> None:
    with pytest.raises(InputError) as caught:
        load_annotation_set(session, [YEAST_198], "goa", go, version=198, cutoff_date=date.today())
    assert str(caught.value).startswith("version: a date cut is versioned by its cutoff date")
    with pytest.raises(InputError, match="give a release version or a cutoff date"):
        load_annotation_set(session, [YEAST_198], "goa", go)
    with pytest.raises(InputError, match="not a valid source name"):
        load_annotation_set(session, [YEAST_198], "goa/../x", go, version=1)
    with pytest.raises(InputError, match="no ontology snapshot with this name"):
        load_annotation_set(session, [YEAST_198], "goa", "go-missing", version=1)


def test_malformed_lines_and_aspect_disagreement(session: Session, go: str, tmp_path: Path) -> None:
    lines = YEAST_203.read_text().splitlines()
    bad_id = lines[4].replace("GO:0005737", "GO:5737")
    other_aspect = lines[5].replace("\tC\t", "\tF\t")
    path = tmp_path / "damaged.gaf.gz"
    body = [*lines[:4], bad_id, other_aspect, "\t".join(lines[6].split("\t")[:10])]
    path.write_bytes(gzip.compress(("\n".join(body) + "\n").encode()))
    annotation_set, report = load_annotation_set(session, [path], "damaged", go, version=1)
    assert (report.rows_read, report.rows_kept) == (4, 2)
    assert report.skipped == {"malformed line": 2}
    assert report.notes["malformed lines"] == [
        "damaged.gaf.gz: malformed line 5: bad GO id: 'GO:5737'; accepted: GO: and 7 digits",
        "damaged.gaf.gz: malformed line 7: wrong column count: found 10, "
        "expected 15 to 17 tab-separated",
    ]
    assert report.notes["GAF aspect differs from ontology"] == 1
    aspects = {row.go_id: row.aspect for row in stored(session, annotation_set.id).values()}
    assert aspects == {"GO:0030687": "C", "GO:0005634": "C"}


def test_worm_2014_head_gzipped(session: Session, go: str) -> None:
    _, report = load_annotation_set(session, [WORM_2014], "worm", go, version=2014)
    # Line 46 uses GO:0006200, obsolete in 2019; lines 24/25 and 40/41 repeat a key.
    assert (report.rows_read, report.rows_kept) == (40, 37)
    assert report.skipped == {"duplicate key merged": 2, "obsolete term": 1}


def test_sequences_insert_once(session: Session, tmp_path: Path) -> None:
    report = load_sequences(session, FASTA)
    assert (report.rows_read, report.rows_kept, report.skipped) == (5, 5, {})
    assert session.scalar(select(func.count()).select_from(ProteinSequence)) == 5
    again = load_sequences(session, FASTA)
    assert (again.rows_kept, again.skipped) == (0, {"already stored": 5})
    changed = tmp_path / "changed.fasta"
    changed.write_text(">sp|A5Z2X5|YP010_YEAST changed\nMKV\n>sp|P00001|NEW new\nMA\nX\n")
    third = load_sequences(session, changed)
    assert (third.rows_read, third.rows_kept) == (2, 1)
    assert third.skipped == {"sequence differs from stored": 1}
    assert third.notes["sequences differing from stored"] == ["A5Z2X5"]
    new = session.get(ProteinSequence, "P00001")
    assert new is not None and (new.sequence, new.source_file) == ("MAX", "changed.fasta")


def test_embedding_store_round_trip(session: Session, home: Path) -> None:
    matrix = np.arange(12, dtype=np.float64).reshape(3, 4) / 7
    config = save_embeddings(session, "esm-small_v1.0", ["P1", "P2", "P3"], matrix, model="m")
    expected = matrix.astype(np.float32)
    assert (config.dim, config.n_vectors, config.model) == (4, 3, "m")
    assert config.matrix_sha256 == hashlib.sha256(expected.tobytes()).hexdigest()
    loaded = load_embeddings("esm-small_v1.0")
    assert loaded.accessions == ("P1", "P2", "P3")
    assert isinstance(loaded.vectors, np.memmap)
    assert np.array_equal(loaded.vectors, expected)
    assert loaded.row_of == {"P1": 0, "P2": 1, "P3": 2}
    directory = home / "embeddings" / "esm-small_v1.0"
    assert sorted(path.name for path in directory.iterdir()) == ["accessions.txt", "vectors.npy"]
    with pytest.raises(InputError, match="an embedding config with this name already exists"):
        save_embeddings(session, "esm-small_v1.0", ["P1"], matrix[:1])


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "..", "x y"])
def test_embedding_names_must_be_one_safe_segment(session: Session, name: str) -> None:
    with pytest.raises(InputError, match="not a safe embedding config name"):
        save_embeddings(session, name, ["P1"], np.ones((1, 2)))


def test_failed_save_leaves_nothing(session: Session, home: Path) -> None:
    with pytest.raises(InputError, match="NaN or infinite value in row 0"):
        save_embeddings(session, "nan", ["P1"], np.array([[np.nan, 1.0]]))
    # An accession that cannot be written as UTF-8 fails after vectors.npy is written.
    with pytest.raises(UnicodeEncodeError):
        save_embeddings(session, "half", ["P1", "bad\udc80"], np.ones((2, 2)))
    assert list((home / "embeddings").iterdir()) == []
    assert session.scalar(select(func.count()).select_from(EmbeddingConfig)) == 0


def test_load_embedding_file_h5(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "per-protein.h5"
    with h5py.File(path, "w") as handle:
        handle.create_dataset("Q12754", data=np.array([3.0, 4.0], dtype=np.float32))
        handle.create_dataset("P38903", data=np.array([1.0, 0.0], dtype=np.float32))
    config, report = load_embedding_file(session, path, "prott5", model="ProtT5-XL")
    assert (config.dim, config.n_vectors, config.source_file) == (2, 2, "per-protein.h5")
    assert (report.kind, report.rows_read, report.rows_kept) == ("embeddings", 2, 2)
    assert load_embeddings("prott5").row_of == {"P38903": 0, "Q12754": 1}


def test_cli_prints_report_and_exits_1_on_input_error(home: Path) -> None:
    app = typer.Typer()
    app.add_typer(load_app, name="load")
    runner = CliRunner()
    result = runner.invoke(app, ["load", "ontology", str(OBO), "--name", "go"])
    assert result.exit_code == 0, result.output
    assert "665" in result.output
    args = ["load", "annotations", str(YEAST_198), "--source", "goa", "--ontology", "go"]
    result = runner.invoke(app, [*args, "--cutoff-date", "2006-12-31"])
    assert result.exit_code == 0, result.output
    assert "after cutoff date" in result.output
    result = runner.invoke(app, [*args, "--version", "5", "--cutoff-date", "2006-12-31"])
    assert result.exit_code == 1
    assert "version: a date cut is versioned by its cutoff date" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, [*args, "--cutoff-date", "31/12/2006"])
    assert result.exit_code == 1
    assert "--cutoff-date: not a date (got '31/12/2006'); accepted: YYYY-MM-DD" in result.output


def row_counts(session: Session) -> dict[str, int]:
    models = (AnnotationSet, Annotation, LoadReport, OntologySnapshot, GoTerm, ProteinSequence)
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in models
    }


def test_gaf_files_without_a_usable_row_store_nothing(
    session: Session, go: str, tmp_path: Path
) -> None:
    header = tmp_path / "header.gaf"
    header.write_text("!gaf-version: 2.2\n")
    table = tmp_path / "table.gaf"
    table.write_text("accession,go_id\nP1,GO:0005739\n")
    before = row_counts(session)
    with pytest.raises(InputError) as caught:
        load_annotation_set(session, [header], "empty", go, version=1)
    assert str(caught.value) == (
        f"{header}: holds no annotation row (got 0); "
        "accepted: GAF 2.0 to 2.2: tab-separated annotation lines, plain or gzipped"
    )
    with pytest.raises(InputError) as caught:
        load_annotation_set(session, [header, table], "empty", go, version=1)
    assert str(caught.value) == (
        f"{header}, {table}: holds no usable annotation row: 2 data lines read, skipped: "
        "malformed line 2; first: table.gaf: malformed line 1: wrong column count: found 1, "
        "expected 15 to 17 tab-separated (got 0)"
    )
    # A date cut before every row would be just as empty a predecessor.
    with pytest.raises(InputError, match=r"skipped: after cutoff date 40 \(got 0\)$"):
        load_annotation_set(session, [YEAST_198], "goa", go, cutoff_date=date(1990, 1, 1))
    assert row_counts(session) == before


@pytest.mark.parametrize(
    "text", ["", "go_id,name\nGO:0008150,x\n", "format-version: 1.2\n\n[Typedef]\nid: part_of\n"]
)
def test_obo_without_terms_stores_no_snapshot(session: Session, tmp_path: Path, text: str) -> None:
    path = tmp_path / "go.obo"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_ontology(session, path, "go-empty")
    assert str(caught.value) == (
        f"{path}: holds no [Term] stanza (got 0); "
        "accepted: an OBO 1.2 file of [Term] stanzas, such as go-basic.obo, plain or gzipped"
    )
    assert row_counts(session)["ontology_snapshots"] == 0
    assert row_counts(session)["load_reports"] == 0


def test_fasta_without_a_usable_record_stores_nothing(session: Session, tmp_path: Path) -> None:
    empty = tmp_path / "empty.fasta"
    empty.write_text("hello\nworld\n")
    with pytest.raises(InputError) as caught:
        load_sequences(session, empty)
    assert str(caught.value) == (
        f"{empty}: holds no FASTA record (got 0); "
        "accepted: FASTA: a '>' header line with the accession, then the sequence lines"
    )
    bad = tmp_path / "bad.fasta"
    bad.write_text(">sp|P1|A_YEAST\n\n>\nMKV\n")
    with pytest.raises(InputError) as caught:
        load_sequences(session, bad)
    assert str(caught.value) == (
        f"{bad}: holds no usable FASTA record: 2 records read, skipped: empty sequence 1, "
        "header without accession 1; first: line 1: empty sequence: P1 (got 0)"
    )
    assert (row_counts(session)["protein_sequences"], row_counts(session)["load_reports"]) == (0, 0)


def test_cli_error_with_markup_in_the_value_is_printed_as_written(
    home: Path, tmp_path: Path
) -> None:
    app = typer.Typer()
    app.add_typer(load_app, name="load")
    accessions = tmp_path / "accessions.txt"
    accessions.write_text("P1\n")
    np.save(tmp_path / "vectors.npy", np.ones((1, 2), dtype=np.float32))
    args = ["load", "embeddings", str(tmp_path / "vectors.npy"), "--name", "[/x]"]
    result = CliRunner().invoke(app, [*args, "--accessions", str(accessions)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("error: name: not a safe embedding config name (got '[/x]')")


def test_embedding_load_losing_a_race_keeps_the_winners_directory(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loser passes the name check before the winner commits; it must fail on the name,
    as the check would have, and leave the winner's files alone."""
    winner = np.array([[1.0, 2.0]])
    original = embedding_store.validate_embeddings

    def race(*args: object) -> np.ndarray:
        # The other load runs to its commit between the loser's check and its claim.
        monkeypatch.setattr(embedding_store, "validate_embeddings", original)
        with db.session_scope() as other:
            save_embeddings(other, "dup", ["W1"], winner)
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(embedding_store, "validate_embeddings", race)
    message = "an embedding config with this name already exists"
    with pytest.raises(InputError, match=message), db.session_scope() as session:
        save_embeddings(session, "dup", ["L1", "L2"], np.ones((2, 2)))
    stored = load_embeddings("dup")
    assert stored.accessions == ("W1",)
    assert np.array_equal(stored.vectors, winner.astype(np.float32))
    assert sorted(path.name for path in (home / "embeddings").iterdir()) == ["dup"]


def test_embedding_directory_without_a_row_is_replaced(session: Session, home: Path) -> None:
    """Left by a load whose transaction rolled back after its files were moved in place."""
    orphan = home / "embeddings" / "left"
    orphan.mkdir(parents=True)
    (orphan / "accessions.txt").write_text("OLD\n")
    save_embeddings(session, "left", ["NEW"], np.ones((1, 2)))
    assert load_embeddings("left").accessions == ("NEW",)
    assert sorted(path.name for path in (home / "embeddings").iterdir()) == ["left"]


def test_annotation_load_losing_a_race_is_an_input_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.session_scope() as session:
        load_ontology(session, OBO, "go")
    original = annotation_loader._read_rows

    def race(*args: Any) -> Any:
        monkeypatch.setattr(annotation_loader, "_read_rows", original)
        with db.session_scope() as other:
            load_annotation_set(other, [YEAST_198], "goa", "go", 198)
        return original(*args)

    monkeypatch.setattr(annotation_loader, "_read_rows", race)
    with (
        pytest.raises(InputError, match=r"annotation set \(goa, 198\) already exists"),
        db.session_scope() as session,
    ):
        load_annotation_set(session, [YEAST_198], "goa", "go", 198)
    with db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(AnnotationSet)) == 1


def test_ontology_load_losing_a_race_is_an_input_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = ontology.read_obo_header

    def race(path: Path) -> Any:
        monkeypatch.setattr(ontology, "read_obo_header", original)
        with db.session_scope() as other:
            load_ontology(other, OBO, "go")
        return original(path)

    monkeypatch.setattr(ontology, "read_obo_header", race)
    message = "an ontology snapshot with this name already exists"
    with pytest.raises(InputError, match=message), db.session_scope() as session:
        load_ontology(session, OBO, "go")


@pytest.mark.parametrize("source", [".goa", "-goa", "", "g" * 101, "go a"])
def test_source_names_partition_keys_cannot_hold_are_refused(
    session: Session, go: str, source: str
) -> None:
    with pytest.raises(InputError, match="source: not a valid source name") as caught:
        load_annotation_set(session, [YEAST_198], source, go, 198)
    assert "starting with a letter, digit or '_'" in str(caught.value.accepted)


def test_source_of_100_characters_starting_with_underscore_is_kept(
    session: Session, go: str
) -> None:
    annotation_set, _ = load_annotation_set(session, [YEAST_198], "_" + "g" * 99, go, 198)
    assert annotation_set.source == "_" + "g" * 99


@pytest.mark.parametrize("version", [0, 2**31])
def test_versions_outside_a_postgresql_integer_are_refused(
    session: Session, go: str, version: int
) -> None:
    with pytest.raises(InputError, match="version: a release version must be") as caught:
        load_annotation_set(session, [YEAST_198], "goa", go, version)
    assert caught.value.accepted == "1 to 2147483647"


def test_fasta_records_postgresql_cannot_store_are_skipped(
    session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "limits.fasta"
    path.write_text(f">{'A' * 100}\nMKV\n>{'B' * 101}\nMKV\n>P1 bad\x00name\nMKV\n")
    report = load_sequences(session, path)
    assert report.rows_kept == 1
    assert report.skipped == {"NUL byte in header": 1, "accession too long": 1}
    assert session.scalar(select(ProteinSequence.accession)) == "A" * 100
