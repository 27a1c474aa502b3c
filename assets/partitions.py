"""Snapshot versions as dynamic partitions: one key per loaded annotation set.

Keys read `<source>.<version>` (goa_yeast.20210408) and use only [A-Za-z0-9._-], which the UI,
backfills and path-based IO managers all handle.
"""

from __future__ import annotations

import re

import dagster as dg
from sqlalchemy import select
from sqlalchemy.orm import Session

from protea_pipelines.errors import InputError
from protea_pipelines.store.models import AnnotationSet

snapshot_versions = dg.DynamicPartitionsDefinition(name="snapshot_versions")
KEY_PATTERN = re.compile(r"^(?P<source>[A-Za-z0-9_-][A-Za-z0-9._-]*)\.(?P<version>[0-9]+)$")


def partition_key(source: str, version: int) -> str:
    key = f"{source}.{version}"
    if not KEY_PATTERN.match(key):
        raise InputError(
            "annotation_source", source, "cannot form a partition key", "[A-Za-z0-9._-]"
        )
    return key


def parse_partition_key(key: str) -> tuple[str, int]:
    match = KEY_PATTERN.match(key)
    if match is None:
        raise InputError("partition", key, "not a snapshot version key", "<source>.<version>")
    return match["source"], int(match["version"])


def register_snapshot_partitions(instance: dg.DagsterInstance, session: Session) -> list[str]:
    """Add a partition for every loaded annotation set that has none yet, in version order."""
    missing = unregistered_partition_keys(instance, session)
    if missing:
        instance.add_dynamic_partitions(snapshot_versions.name, missing)  # type: ignore[arg-type]
    return missing


def unregistered_partition_keys(instance: dg.DagsterInstance, session: Session) -> list[str]:
    """Keys of loaded sets not registered yet, ordered by (version, source).

    Ranges follow registration order, so keys are added oldest version first.
    """
    known = set(instance.get_dynamic_partitions(snapshot_versions.name))  # type: ignore[arg-type]
    rows = session.execute(
        select(AnnotationSet.source, AnnotationSet.version_number).order_by(
            AnnotationSet.version_number, AnnotationSet.source
        )
    ).all()
    keys = []
    for source, version in rows:
        key = f"{source}.{version}"
        # A source whose name cannot be a key (loaded before names were checked) must not keep
        # every other source's versions out of the catalogue.
        if KEY_PATTERN.match(key) and key not in known:
            keys.append(key)
    return keys
