"""The snapshot_knn backfill over a range of versions, and an export that reuses its results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from protea_pipelines.backfill import backfill_knn, partitions_in_range
from protea_pipelines.demo import demo_payload
from protea_pipelines.errors import InputError
from tests.dagster import (
    VERSION_KEYS,
    assert_fanout_timeline,
    dagster_instance,
    events_of,
    parent_of_run,
    payload_config,
    run_export,
    set_gate,
)

RANGE = ["goa_yeast.20091231", "goa_yeast.20141231", "goa_yeast.20200616"]
KNN = dg.AssetKey("snapshot_knn")


def _materialized_partitions(instance: dg.DagsterInstance) -> list[str]:
    records = instance.fetch_materializations(KNN, limit=100, ascending=True).records
    return [record.partition_key or "" for record in records]


@pytest.mark.slow
def test_backfill_then_export_reuses_the_results(
    demo_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = backfill_knn("goa_yeast.20091231", "goa_yeast.20200616")
    assert [run.partition for run in runs] == RANGE
    assert all(run.success for run in runs), runs
    assert len({run.run_id for run in runs}) == 3
    assert len(list((demo_home / "knn").glob("*.parquet"))) == 3

    with dagster_instance() as instance:
        assert instance.get_dynamic_partitions("snapshot_versions") == VERSION_KEYS
        backfill_ids = set()
        for run in runs:
            record = instance.get_run_by_id(run.run_id)
            assert record is not None
            assert record.status == dg.DagsterRunStatus.SUCCESS
            assert record.job_name == "snapshot_knn_backfill"
            assert record.tags["dagster/partition"] == run.partition
            backfill_ids.add(record.tags["dagster/backfill"])
        assert len(backfill_ids) == 1
        assert _materialized_partitions(instance) == RANGE
        for run in runs:
            (record,) = instance.fetch_materializations(
                dg.AssetRecordsFilter(KNN, asset_partitions=[run.partition]), limit=10
            ).records
            assert record.run_id == run.run_id
            materialization = record.asset_materialization
            assert materialization is not None
            assert materialization.metadata["reused"].value is False

        # An export of those three versions reuses the three results and computes nothing.
        set_gate(monkeypatch, "1")
        train = [20091231, 20141231, 20200616]
        payload = {**demo_payload("train-only"), "train_versions": train, "test_versions": []}
        events = _export(instance, payload)
        assert_fanout_timeline(events, train)
        assert _knn_ends(events) == dict.fromkeys(train, "child.export_knn_batch.noop")
        # Reused results are not materialized again.
        assert _materialized_partitions(instance) == RANGE
        assert len(list((demo_home / "knn").glob("*.parquet"))) == 3

        # With one more version for eval, only that one is computed.
        payload = {**payload, "output_name": "with-eval", "test_versions": [20210408]}
        events = _export(instance, payload)
        assert_fanout_timeline(events, [*train, 20210408])
        assert _knn_ends(events) == {
            **dict.fromkeys(train, "child.export_knn_batch.noop"),
            20210408: "child.export_knn_batch.done",
        }
        assert _materialized_partitions(instance) == [*RANGE, "goa_yeast.20210408"]
        assert len(list((demo_home / "knn").glob("*.parquet"))) == 4


def _export(instance: dg.DagsterInstance, payload: dict[str, Any]) -> list[dict[str, Any]]:
    result = run_export(instance, payload_config(payload))
    assert result.success
    job = parent_of_run(result.run_id)
    assert job["status"] == "succeeded"
    return events_of(job["id"])


def _knn_ends(events: list[dict[str, Any]]) -> dict[int, str]:
    """How each version's KNN step ended (each version exactly once)."""
    ends = [
        (event["fields"]["version"], event["name"])
        for event in events
        if event["name"] in ("child.export_knn_batch.noop", "child.export_knn_batch.done")
    ]
    assert len({version for version, _ in ends}) == len(ends), ends
    return dict(ends)


def test_backfill_range_must_be_registered_and_ordered(demo_home: Path) -> None:
    with dagster_instance() as instance:
        instance.add_dynamic_partitions("snapshot_versions", VERSION_KEYS)
        assert partitions_in_range(instance, "goa_yeast.20141231", "goa_yeast.20141231") == [
            "goa_yeast.20141231"
        ]
        with pytest.raises(InputError, match="--to") as reversed_range:
            partitions_in_range(instance, "goa_yeast.20200616", "goa_yeast.20091231")
        assert "goa_yeast.20091231" in str(reversed_range.value)
        with pytest.raises(InputError, match="--from") as unknown:
            partitions_in_range(instance, "goa_yeast.19990101", "goa_yeast.20091231")
        assert "not a registered snapshot version" in str(unknown.value)
