"""Snapshot versions of an annotation source and the lineage pair (pred(v), v) of a version."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from protea_pipelines.errors import InputError
from protea_pipelines.store.models import AnnotationSet


@dataclass(frozen=True)
class SnapshotVersion:
    annotation_set_id: int
    source: str
    version: int
    sha256: str


@dataclass(frozen=True)
class LineagePair:
    """A version and its predecessor: the newest loaded version of the same source below it."""

    split: str
    pred: SnapshotVersion
    current: SnapshotVersion

    @property
    def name(self) -> str:
        return f"v{self.pred.version}-v{self.current.version}"

    @property
    def mapping_key(self) -> str:
        """The fan-out key a person reads: train_220, eval_230."""
        return f"{self.split}_{self.current.version}"


def loaded_versions(session: Session, source: str) -> list[SnapshotVersion]:
    """Every loaded version of a source, oldest first."""
    rows = session.execute(
        select(
            AnnotationSet.id,
            AnnotationSet.source,
            AnnotationSet.version_number,
            AnnotationSet.sha256,
        )
        .where(AnnotationSet.source == source)
        .order_by(AnnotationSet.version_number)
    ).all()
    return [SnapshotVersion(row[0], row[1], row[2], row[3]) for row in rows]


def resolve_lineage_pair(
    versions: list[SnapshotVersion], version: int, split: str, field: str
) -> LineagePair:
    """The pair of `version` among `versions` (oldest first); errors name the payload field."""
    by_number = {v.version: v for v in versions}
    current = by_number.get(version)
    if current is None:
        accepted = [v.version for v in versions] or "none loaded for this source"
        raise InputError(field, version, "snapshot version not loaded", accepted=accepted)
    older = [v for v in versions if v.version < version]
    if not older:
        raise InputError(
            field,
            version,
            "snapshot version has no predecessor to diff against (it is the oldest loaded)",
            accepted=[v.version for v in versions if v.version > version] or None,
        )
    return LineagePair(split=split, pred=older[-1], current=current)
