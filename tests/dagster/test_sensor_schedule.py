"""The snapshot version sensor and the newest-versions schedule, evaluated against a real
instance and the demo store."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy import delete, func, select

from protea_pipelines.assets.definitions import defs
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.models import AnnotationSet
from tests.dagster import (
    VERSION_KEYS,
    dagster_instance,
    events_of,
    names_of,
    parent_of_run,
    run_export,
    set_gate,
)

SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]+$")
SCHEDULED_NAME = "scheduled-goa_yeast-20210408"
SCHEDULED_PAYLOAD = {
    "output_name": SCHEDULED_NAME,
    "embedding_config": "kmer3-320",
    "annotation_source": "goa_yeast",
    "ontology_snapshot": "go-2019-01-27",
    "train_versions": [20141231, 20200616],
    "test_versions": [20210408],
    "k": 5,
    "search_backend": "faiss",
}
TICK = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)  # a Monday, 04:00: the cron's tick


def _sensor() -> dg.SensorDefinition:
    return defs.resolve_sensor_def("snapshot_version_sensor")


def _schedule() -> dg.ScheduleDefinition:
    return defs.resolve_schedule_def("newest_versions_export")


def _newest_set_id() -> int:
    with session_scope() as session:
        return int(session.scalar(select(func.max(AnnotationSet.id))) or 0)


def test_sensor_registers_the_versions_in_version_order(demo_home: Path) -> None:
    with dagster_instance() as instance:
        assert instance.get_dynamic_partitions("snapshot_versions") == []
        result = _sensor()(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SensorResult)
        assert not result.run_requests
        (request,) = result.dynamic_partitions_requests or []
        assert isinstance(request, dg.AddDynamicPartitionsRequest)
        assert request.partitions_def_name == "snapshot_versions"
        assert list(request.partition_keys) == VERSION_KEYS
        assert all(SAFE_KEY.match(key) for key in request.partition_keys)
        assert result.cursor == str(_newest_set_id())
        # The sensor only asks: nothing is registered until the request is applied.
        assert instance.get_dynamic_partitions("snapshot_versions") == []

        again = _sensor()(dg.build_sensor_context(instance=instance, cursor=result.cursor))
        assert isinstance(again, dg.SkipReason)
        assert result.cursor in (again.skip_message or "")

        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        assert instance.get_dynamic_partitions("snapshot_versions") == VERSION_KEYS
        partitions = defs.resolve_assets_def("snapshot_knn").partitions_def
        assert partitions is not None
        with dg.partition_loading_context(dynamic_partitions_store=instance):
            keys = partitions.get_partition_keys_in_range(
                dg.PartitionKeyRange("goa_yeast.20091231", "goa_yeast.20200616")
            )
        assert keys == ["goa_yeast.20091231", "goa_yeast.20141231", "goa_yeast.20200616"]

        # With every key registered, a stale cursor yields no request, only a new cursor.
        settled = _sensor()(dg.build_sensor_context(instance=instance, cursor="1"))
        assert isinstance(settled, dg.SensorResult)
        assert not settled.dynamic_partitions_requests
        assert settled.cursor == result.cursor


def test_sensor_adds_only_the_unregistered_versions(demo_home: Path) -> None:
    with dagster_instance() as instance:
        instance.add_dynamic_partitions("snapshot_versions", ["goa_yeast.20141231"])
        result = _sensor()(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SensorResult)
        (request,) = result.dynamic_partitions_requests or []
        assert list(request.partition_keys) == [
            key for key in VERSION_KEYS if key != "goa_yeast.20141231"
        ]


def test_sensor_on_an_empty_store_registers_nothing(protea_home: Path) -> None:
    with dagster_instance() as instance:
        result = _sensor()(dg.build_sensor_context(instance=instance))
        assert isinstance(result, dg.SensorResult)
        assert not result.dynamic_partitions_requests
        assert result.cursor == "0"


@pytest.mark.slow
def test_schedule_requests_the_newest_versions_then_skips_once_exported(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with dagster_instance() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK)
        request = _schedule()(context)
        assert isinstance(request, dg.RunRequest)
        assert request.run_key == SCHEDULED_NAME
        assert request.tags == {"protea/output_name": SCHEDULED_NAME}
        assert request.run_config == {"ops": {"export_coordinator": {"config": SCHEDULED_PAYLOAD}}}

        # The request is a valid run of the job: run it as the daemon would.
        set_gate(monkeypatch, "1")
        result = run_export(instance, dict(request.run_config))
        assert result.success
        job = parent_of_run(result.run_id)
        assert job["status"] == "succeeded"
        assert "export_write.done" in names_of(events_of(job["id"]))
        assert (demo_home / "datasets" / SCHEDULED_NAME / "manifest.json").is_file()

        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK)
        skipped = _schedule()(context)
        assert isinstance(skipped, dg.SkipReason)
        message = skipped.skip_message or ""
        assert "nothing new loaded" in message
        assert SCHEDULED_NAME in message


def test_schedule_skips_with_too_few_versions(demo_home: Path) -> None:
    with session_scope() as session:
        session.execute(delete(AnnotationSet).where(AnnotationSet.version_number > 20141231))
    with dagster_instance() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK)
        skipped = _schedule()(context)
    assert isinstance(skipped, dg.SkipReason)
    message = skipped.skip_message or ""
    assert "3 versions of goa_yeast loaded" in message
    assert "4 needed" in message


def test_schedule_skips_on_an_empty_store(protea_home: Path) -> None:
    with dagster_instance() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK)
        skipped = _schedule()(context)
    assert isinstance(skipped, dg.SkipReason)
    assert "0 versions of goa_yeast loaded" in (skipped.skip_message or "")
