"""Pre-flight of an export: resolve every name in the payload, or fail before any work starts.

Whatever would make every child fail for sure is checked here, so a doomed export fails in
seconds with the reason, instead of after the fan-out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from protea_pipelines import settings
from protea_pipelines.errors import InputError
from protea_pipelines.export.lineage import LineagePair, loaded_versions, resolve_lineage_pair
from protea_pipelines.export.payload import SEARCH_BACKENDS, ExportPayload
from protea_pipelines.store.models import AnnotationSet, Dataset, EmbeddingConfig, OntologySnapshot

NamedRow = TypeVar("NamedRow", OntologySnapshot, EmbeddingConfig)


@dataclass(frozen=True)
class PairSettings:
    """What a pair's neighbours and candidates depend on, besides the pair itself."""

    annotation_source: str
    embedding_config: str
    embedding_matrix_sha256: str
    ontology_snapshot_id: int
    k: int
    search_backend: str
    expand_votes_to_ancestors: bool


@dataclass(frozen=True)
class ExportPlan:
    """A validated payload with every id resolved: what each child and the writer need."""

    payload: ExportPayload
    embedding_config_id: int
    embedding_matrix_sha256: str
    ontology_snapshot_id: int
    annotation_set_id: int
    search_backend: str
    pairs: tuple[LineagePair, ...]

    @property
    def settings(self) -> PairSettings:
        return PairSettings(
            annotation_source=self.payload.annotation_source,
            embedding_config=self.payload.embedding_config,
            embedding_matrix_sha256=self.embedding_matrix_sha256,
            ontology_snapshot_id=self.ontology_snapshot_id,
            k=self.payload.k,
            search_backend=self.search_backend,
            expand_votes_to_ancestors=self.payload.expand_votes_to_ancestors,
        )

    @property
    def train_pairs(self) -> tuple[LineagePair, ...]:
        return tuple(p for p in self.pairs if p.split == "train")

    @property
    def eval_pairs(self) -> tuple[LineagePair, ...]:
        return tuple(p for p in self.pairs if p.split == "eval")


def derive_pivot_annotation_set(session: Session, source: str, train_versions: list[int]) -> int:
    """The annotation set of (source, max(train_versions)): the export's pivot."""
    version = str(max(train_versions))
    set_id = session.scalar(
        select(AnnotationSet.id).where(
            AnnotationSet.source == source, AnnotationSet.source_version == version
        )
    )
    if set_id is None:
        raise InputError(
            "annotation_set_id",
            f"{source}/{version}",
            f"no annotation set with source {source!r} and source_version {version!r}",
        )
    return set_id


def plan_export(
    session: Session, payload: ExportPayload, search_backend: str | None = None
) -> ExportPlan:
    """Resolve the payload against the store; raise InputError naming the first bad field.

    search_backend overrides the payload's choice (the Dagster resource of a run can switch it);
    it is checked here so that an unknown backend fails before any child starts.
    """
    backend = search_backend or payload.search_backend
    if backend not in SEARCH_BACKENDS:
        raise InputError(
            "search_backend", backend, "unsupported search backend", accepted=SEARCH_BACKENDS
        )
    ontology_id = _ontology_snapshot_id(session, payload.ontology_snapshot)
    embedding = _embedding_config(session, payload.embedding_config)
    _check_output_name_free(session, payload.output_name)

    versions = loaded_versions(session, payload.annotation_source)
    if not versions:
        known = session.scalars(select(AnnotationSet.source).distinct()).all()
        raise InputError(
            "annotation_source",
            payload.annotation_source,
            "no snapshot version loaded for this source",
            accepted=sorted(known) or "none loaded",
        )
    pairs = tuple(
        resolve_lineage_pair(versions, version, split, split_field(split))
        for split, version in payload.versions
    )
    _check_test_after_train(payload)
    _check_loaded_through(session, pairs, ontology_id, payload.ontology_snapshot)

    pivot = derive_pivot_annotation_set(session, payload.annotation_source, payload.train_versions)
    if payload.annotation_set_id is not None and payload.annotation_set_id != pivot:
        raise InputError(
            "annotation_set_id",
            payload.annotation_set_id,
            "does not match the set of (annotation_source, max(train_versions))",
            accepted=[pivot],
        )
    return ExportPlan(
        payload=payload,
        embedding_config_id=embedding.id,
        embedding_matrix_sha256=embedding.matrix_sha256,
        ontology_snapshot_id=ontology_id,
        annotation_set_id=pivot,
        search_backend=backend,
        pairs=pairs,
    )


def split_field(split: str) -> str:
    return "train_versions" if split == "train" else "test_versions"


def _named(session: Session, model: type[NamedRow], name: str, field: str, kind: str) -> NamedRow:
    """The row of that name, or an InputError listing the names that exist."""
    row = session.scalar(select(model).where(model.name == name))
    if row is None:
        names = session.scalars(select(model.name).order_by(model.name))
        raise InputError(field, name, f"unknown {kind}", accepted=list(names) or "none")
    return row


def _ontology_snapshot_id(session: Session, name: str) -> int:
    return _named(session, OntologySnapshot, name, "ontology_snapshot", "ontology snapshot").id


def _embedding_config(session: Session, name: str) -> EmbeddingConfig:
    return _named(session, EmbeddingConfig, name, "embedding_config", "embedding config")


def _check_output_name_free(session: Session, name: str) -> None:
    taken = session.scalar(select(Dataset.id).where(Dataset.name == name)) is not None
    if taken or (settings.datasets_dir() / name).exists():
        raise InputError(
            "output_name", name, "a dataset of this name exists already; choose another name"
        )


def plan_single_pair(
    session: Session,
    source: str,
    version: int,
    embedding_config: str,
    ontology_snapshot: str,
    k: int,
    search_backend: str,
) -> tuple[PairSettings, LineagePair]:
    """Resolve one version's pair and settings, as a KNN backfill of that version needs."""
    if search_backend not in SEARCH_BACKENDS:
        raise InputError(
            "search_backend", search_backend, "unsupported search backend", SEARCH_BACKENDS
        )
    embedding = _embedding_config(session, embedding_config)
    ontology_id = _ontology_snapshot_id(session, ontology_snapshot)
    pair = resolve_lineage_pair(loaded_versions(session, source), version, "train", "partition")
    settings = PairSettings(
        annotation_source=source,
        embedding_config=embedding_config,
        embedding_matrix_sha256=embedding.matrix_sha256,
        ontology_snapshot_id=ontology_id,
        k=k,
        search_backend=search_backend,
        expand_votes_to_ancestors=False,
    )
    return settings, pair


def _check_test_after_train(payload: ExportPayload) -> None:
    """A test version older than a train version would leak its ground truth into training
    features: the newer train pair's neighbours vote with the annotations of that version."""
    if payload.test_versions and min(payload.test_versions) <= max(payload.train_versions):
        raise InputError(
            "test_versions",
            min(payload.test_versions),
            f"must be newer than every train version (newest train version "
            f"{max(payload.train_versions)})",
        )


def _check_loaded_through(
    session: Session, pairs: tuple[LineagePair, ...], ontology_id: int, ontology_name: str
) -> None:
    """Terms unknown to the ontology a set was loaded through were dropped at load time; read
    through another ontology, such a set would silently miss them."""
    set_ids = {p.pred.annotation_set_id for p in pairs} | {
        p.current.annotation_set_id for p in pairs
    }
    other = session.execute(
        select(AnnotationSet.source_version, OntologySnapshot.name)
        .join(OntologySnapshot, OntologySnapshot.id == AnnotationSet.ontology_snapshot_id)
        .where(AnnotationSet.id.in_(set_ids), AnnotationSet.ontology_snapshot_id != ontology_id)
        .order_by(AnnotationSet.version_number)
    ).first()
    if other is not None:
        version, loaded_through = other
        raise InputError(
            "ontology_snapshot",
            ontology_name,
            f"version {version} was loaded through {loaded_through}: export through it, or "
            "load the versions again through this ontology",
            accepted=[loaded_through],
        )
