"""The bundled demo: load the real yeast data under PROTEA_HOME and describe the result.

Versions of the demo source are dates (YYYYMMDD): date cuts of release 198 are named by their
cutoff, and the two real releases by their release date, so that one source orders them all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from protea_pipelines.featurize import featurize_sequences
from protea_pipelines.loaders.annotations import load_annotation_set
from protea_pipelines.loaders.ontology import load_ontology
from protea_pipelines.loaders.sequences import load_sequences
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.models import (
    AnnotationSet,
    EmbeddingConfig,
    OntologySnapshot,
    ProteinSequence,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = REPO_ROOT / "data" / "real"
YEAST = DATA / "yeast_goa198_203"
DEMO_PAYLOAD = REPO_ROOT / "configs" / "demo.yaml"
SOURCE = "goa_yeast"
ONTOLOGY = "go-2019-01-27"
EMBEDDING = "kmer3-320"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoRelease:
    files: tuple[str, ...]
    label: str
    version: int | None = None
    cutoff: date | None = None


RELEASE_198 = ("goa_yeast_559292.HTP.release198.gaf", "goa_yeast_559292.EXP_NOT.release198.gaf")
RELEASE_203 = ("goa_yeast_559292.HTP.release203.gaf", "goa_yeast_559292.EXP_NOT.release203.gaf")
LABEL_198 = "UniProt-GOA release 198 (2020-06-16), yeast HTP and NOT rows"
LABEL_203 = "UniProt-GOA release 203 (2021-04-08), yeast HTP and NOT rows"
DEMO_RELEASES = (
    DemoRelease(RELEASE_198, LABEL_198, cutoff=date(2004, 12, 31)),
    DemoRelease(RELEASE_198, LABEL_198, cutoff=date(2009, 12, 31)),
    DemoRelease(RELEASE_198, LABEL_198, cutoff=date(2014, 12, 31)),
    DemoRelease(RELEASE_198, LABEL_198, version=20200616),
    DemoRelease(RELEASE_203, LABEL_203, version=20210408),
)


def demo_payload(output_name: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = yaml.safe_load(DEMO_PAYLOAD.read_text())
    if output_name:
        payload["output_name"] = output_name
    return payload


def load_demo_data() -> list[str]:
    """Load what is not loaded yet; returns one line per thing loaded."""
    done: list[str] = []
    with session_scope() as session:
        if not session.scalar(select(OntologySnapshot.id).where(OntologySnapshot.name == ONTOLOGY)):
            obo = DATA / "ontology" / "go.obo.release-2019-01-27.gz"
            _, report = load_ontology(session, obo, ONTOLOGY)
            done.append(f"ontology {ONTOLOGY}: {report.rows_kept} terms")
    with session_scope() as session:
        if not session.scalar(select(ProteinSequence.accession).limit(1)):
            report = load_sequences(session, YEAST / "UP000002311_559292.annotated_subset.fasta")
            done.append(f"sequences: {report.rows_kept}")
    with session_scope() as session:
        if not session.scalar(select(EmbeddingConfig.id).where(EmbeddingConfig.name == EMBEDDING)):
            config, _ = featurize_sequences(session, EMBEDDING, dim=320, kmer=3)
            done.append(f"embedding config {EMBEDDING}: {config.n_vectors} x {config.dim}")
    for release in DEMO_RELEASES:
        version = release.version or int(f"{release.cutoff:%Y%m%d}")
        with session_scope() as session:
            exists = session.scalar(
                select(AnnotationSet.id).where(
                    AnnotationSet.source == SOURCE, AnnotationSet.source_version == str(version)
                )
            )
            if exists:
                continue
            annotation_set, report = load_annotation_set(
                session,
                [YEAST / name for name in release.files],
                SOURCE,
                ONTOLOGY,
                version=release.version,
                cutoff_date=release.cutoff,
                release_label=release.label,
            )
            done.append(f"{SOURCE} {annotation_set.source_version}: {report.rows_kept} statements")
    return done
