"""SQLAlchemy models of the store.

Annotation rows and GO terms live here; embedding vectors do not (they are .npy matrices under
PROTEA_HOME/embeddings, one per embedding config). Parent jobs and their events follow the
columns of the coordinator contract.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class OntologySnapshot(Base):
    """One GO release as loaded from an OBO file."""

    __tablename__ = "ontology_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    data_version: Mapped[str | None] = mapped_column(String(100))
    file_name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    term_count: Mapped[int] = mapped_column(Integer, default=0)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GoTerm(Base):
    __tablename__ = "go_terms"
    __table_args__ = (UniqueConstraint("snapshot_id", "go_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("ontology_snapshots.id", ondelete="CASCADE")
    )
    go_id: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(Text)
    aspect: Mapped[str] = mapped_column(String(1))
    is_obsolete: Mapped[bool] = mapped_column(Boolean, default=False)


class GoTermRelation(Base):
    """An is_a or part_of edge; other relationships are not used for propagation."""

    __tablename__ = "go_term_relations"

    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("ontology_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    child_go_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    parent_go_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    relation: Mapped[str] = mapped_column(String(20), primary_key=True)


class GoAltId(Base):
    __tablename__ = "go_alt_ids"

    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("ontology_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    alt_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    primary_go_id: Mapped[str] = mapped_column(String(20))


class AnnotationSet(Base):
    """One snapshot version of an annotation source: a real release or a date cut of one."""

    __tablename__ = "annotation_sets"
    __table_args__ = (UniqueConstraint("source", "source_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    source_version: Mapped[str] = mapped_column(String(40))
    version_number: Mapped[int] = mapped_column(Integer)
    ontology_snapshot_id: Mapped[int] = mapped_column(ForeignKey("ontology_snapshots.id"))
    file_name: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(Text)
    cutoff_date: Mapped[date | None] = mapped_column(Date)
    provenance: Mapped[str] = mapped_column(Text, default="")
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    loaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Annotation(Base):
    """A GAF statement keyed on (accession, GO term, evidence code, negation)."""

    __tablename__ = "annotations"
    __table_args__ = (
        UniqueConstraint("annotation_set_id", "accession", "go_id", "evidence_code", "is_negated"),
        Index("ix_annotations_set_accession", "annotation_set_id", "accession"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    annotation_set_id: Mapped[int] = mapped_column(
        ForeignKey("annotation_sets.id", ondelete="CASCADE")
    )
    accession: Mapped[str] = mapped_column(String(100))
    go_id: Mapped[str] = mapped_column(String(20))
    qualifier: Mapped[str] = mapped_column(String(100), default="")
    is_negated: Mapped[bool] = mapped_column(Boolean, default=False)
    evidence_code: Mapped[str] = mapped_column(String(10))
    aspect: Mapped[str] = mapped_column(String(1))
    annotation_date: Mapped[date | None] = mapped_column(Date)
    assigned_by: Mapped[str] = mapped_column(String(100), default="")


class ProteinSequence(Base):
    __tablename__ = "protein_sequences"

    accession: Mapped[str] = mapped_column(String(100), primary_key=True)
    sequence: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    source_file: Mapped[str] = mapped_column(Text, default="")


class EmbeddingConfig(Base):
    """A named set of per-protein vectors stored as one .npy matrix plus an accession list."""

    __tablename__ = "embedding_configs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    dim: Mapped[int] = mapped_column(Integer)
    n_vectors: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(Text, default="")
    source_file: Mapped[str] = mapped_column(Text, default="")
    matrix_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LoadReport(Base):
    """What a loader read, kept and skipped (by reason), for every load."""

    __tablename__ = "load_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(Text)
    rows_read: Mapped[int] = mapped_column(Integer)
    rows_kept: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ParentJob(Base):
    """The job row a person follows: one per export, whatever path runs it."""

    __tablename__ = "parent_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    operation: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    progress_current: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error_code: Mapped[str | None] = mapped_column(String(100))
    error_message: Mapped[str | None] = mapped_column(Text)
    dagster_run_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # The output name while the job is live, NULL once it ends: the unique index lets one
    # live export per name exist, whichever process (API, CLI, UI) starts the next one.
    live_output_name: Mapped[str | None] = mapped_column(String(200), unique=True)


class JobChild(Base):
    """One row per child of a parent job that has reported: counted once, whatever retries do."""

    __tablename__ = "job_children"

    job_id: Mapped[str] = mapped_column(
        ForeignKey("parent_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    child_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JobEvent(Base):
    __tablename__ = "job_events"
    __table_args__ = (Index("ix_job_events_job_ts", "job_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("parent_jobs.id", ondelete="CASCADE"))
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    level: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text, default="")
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Dataset(Base):
    """A finished export: where its files are and which parent job made it."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(Text)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    train_rows: Mapped[int] = mapped_column(Integer)
    eval_rows: Mapped[int] = mapped_column(Integer)
    parent_job_id: Mapped[str | None] = mapped_column(ForeignKey("parent_jobs.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
