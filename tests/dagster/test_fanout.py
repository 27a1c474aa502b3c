"""The fan-out export on the bundled demo data (PROTEA_EXPORT_MINIJOBS=1, in process): one
child per version, readable mapping keys, the parent job's progress and timeline, the same
events in the Dagster event log, and the snapshot_knn materializations."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from protea_pipelines.demo import demo_payload
from tests.dagster import (
    PARENT_JOB_TAG,
    VERSION_KEYS,
    assert_fanout_timeline,
    dagster_event_names,
    dagster_instance,
    events_of,
    names_of,
    parent_jobs,
    parent_of_run,
    run_export,
    set_gate,
    started_steps,
    the_event,
)

pytestmark = pytest.mark.slow


def test_fanout_export_of_the_demo(demo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    set_gate(monkeypatch, "1")
    payload = demo_payload()
    train, test = payload["train_versions"], payload["test_versions"]
    n = len(train) + len(test)
    assert n == 4

    with dagster_instance() as instance:
        result = run_export(instance)  # the job's default config: the demo payload
        assert result.success
        run_id = result.run_id

        # One child per version, keyed train_<v> / eval_<v>, through both mapped ops.
        expected_keys = [f"train_{v}" for v in train] + [f"eval_{v}" for v in test]
        assert list(result.output_for_node("knn_batch")) == expected_keys
        assert list(result.output_for_node("pair_features")) == expected_keys
        steps = started_steps(instance, run_id)
        assert sorted(s for s in steps if s.startswith("knn_batch[")) == sorted(
            f"knn_batch[{key}]" for key in expected_keys
        )
        assert steps[0] == "export_coordinator"
        assert steps[-2:] == ["collect_export", "write_export"]
        assert len(steps) == 2 * n + 3

        # The parent job: one, tagged on the run, ended succeeded with full progress.
        assert len(parent_jobs()) == 1
        job = parent_of_run(run_id)
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.tags[PARENT_JOB_TAG] == job["id"]
        assert job["status"] == "succeeded"
        assert job["progress_current"] == job["progress_total"] == n
        assert job["meta"]["dispatched_total"] == n
        assert job["error_code"] is None and job["error_message"] is None
        dataset = demo_home / "datasets" / payload["output_name"]
        assert job["meta"]["dataset_path"] == str(dataset)
        assert result.output_for_node("write_export") == str(dataset)
        for name in ("train.parquet", "eval.parquet", "manifest.json"):
            assert (dataset / name).is_file(), name

        # The timeline rows.
        events = events_of(job["id"])
        assert_fanout_timeline(events, train + test)
        names = names_of(events)
        assert names.count("child.export_knn_batch.done") == n  # a fresh home computes all
        assert all(e["level"] == "info" for e in events), [
            e for e in events if e["level"] != "info"
        ]
        dispatching = the_event(events, "export_coordinator.dispatching")["fields"]
        assert dispatching == {
            "output_name": "yeast-demo",
            "coordinator_job_id": job["id"],
            "train_versions": [20091231, 20141231, 20200616],
            "test_versions": [20210408],
            "n_minijobs": 4,
        }
        assert the_event(events, "export_coordinator.start")["fields"] == {"run_id": run_id}
        outcomes = the_event(events, "export_collect.outcomes")["fields"]
        assert outcomes["dispatched"] == outcomes["succeeded"] == n
        assert outcomes["failed"] == 0
        write_done = the_event(events, "export_write.done")["fields"]
        assert write_done["path"] == str(dataset)
        assert write_done["train_rows"] == job["meta"]["train"] > 0
        assert write_done["eval_rows"] == job["meta"]["eval"] > 0

        # The same events, in the same order, in the Dagster event log of the run.
        assert dagster_event_names(instance, run_id) == names

        # snapshot_knn: one materialization per computed version, tagged with its partition.
        assert instance.get_dynamic_partitions("snapshot_versions") == VERSION_KEYS
        computed = [f"goa_yeast.{v}" for v in train + test]
        records = instance.fetch_materializations(dg.AssetKey("snapshot_knn"), limit=100).records
        assert sorted(r.partition_key or "" for r in records) == sorted(computed)
        assert {r.run_id for r in records} == {run_id}
        for key in computed:
            one = instance.fetch_materializations(
                dg.AssetRecordsFilter(dg.AssetKey("snapshot_knn"), asset_partitions=[key]),
                limit=10,
            ).records
            assert len(one) == 1, key
            materialization = one[0].asset_materialization
            assert materialization is not None
            assert materialization.metadata["reused"].value is False
            assert materialization.metadata["n_queries"].value > 0  # type: ignore[operator]
