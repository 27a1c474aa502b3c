"""The code location as Dagster loads it: a snapshot of its jobs, assets, partitions, sensors,
schedules and resources, the queue each op is routed to, and the launchpad's config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from protea_pipelines.assets.definitions import defs
from protea_pipelines.export.payload import FIELD_DESCRIPTIONS, ExportPayload
from tests.dagster import EXPORT_JOB, REPO_ROOT

QUEUE_TAG = "dagster-celery/queue"
DEMO_PAYLOAD = {
    "output_name": "yeast-demo",
    "embedding_config": "kmer3-320",
    "annotation_source": "goa_yeast",
    "ontology_snapshot": "go-2019-01-27",
    "train_versions": [20091231, 20141231, 20200616],
    "test_versions": [20210408],
    "k": 5,
    "search_backend": "faiss",
    "failure_ratio": 1.0,
    "expand_votes_to_ancestors": False,
}


@pytest.fixture(scope="module")
def repository() -> dg.RepositoryDefinition:
    return defs.get_repository_def()


def test_snapshot_of_the_code_location(repository: dg.RepositoryDefinition) -> None:
    jobs = sorted(name for name in repository.job_names if not name.startswith("__"))
    assert jobs == ["export_research_dataset", "snapshot_knn_backfill"]
    assets = sorted(key.to_user_string() for key in defs.resolve_all_asset_keys())
    assert assets == ["snapshot_knn"]
    assert sorted(s.name for s in repository.sensor_defs) == [
        "export_run_cancel_sensor",
        "export_run_failure_sensor",
        "orphaned_parent_reaper",
        "snapshot_version_sensor",
    ]
    assert sorted(s.name for s in repository.schedule_defs) == ["newest_versions_export"]
    assert sorted(repository.get_top_level_resources()) == ["search"]

    partitions = {
        defs.resolve_assets_def("snapshot_knn").partitions_def,
        defs.resolve_job_def("snapshot_knn_backfill").partitions_def,
    }
    assert len(partitions) == 1
    (snapshot_versions,) = partitions
    assert isinstance(snapshot_versions, dg.DynamicPartitionsDefinition)
    assert snapshot_versions.name == "snapshot_versions"
    # The export itself is not partitioned: one run exports many versions.
    assert defs.resolve_job_def(EXPORT_JOB).partitions_def is None


def test_sensor_and_schedule_settings() -> None:
    sensor = defs.resolve_sensor_def("snapshot_version_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 30
    schedule = defs.resolve_schedule_def("newest_versions_export")
    assert schedule.job_name == EXPORT_JOB
    assert schedule.cron_schedule == "0 4 * * 1"  # configs/schedule.yaml
    assert schedule.execution_timezone == "UTC"
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def test_each_op_is_routed_to_its_queue() -> None:
    job = defs.resolve_job_def(EXPORT_JOB)
    queues = {node.name: node.tags.get(QUEUE_TAG) for node in job.graph.node_defs}
    assert queues == {
        "export_coordinator": "protea.training",
        "knn_batch": "protea.training.knn-batch",
        "pair_features": "protea.training.features",
        "collect_export": "protea.training",
        "write_export": "protea.training.write",
    }
    knn_asset = defs.resolve_assets_def("snapshot_knn")
    assert knn_asset.op.tags.get(QUEUE_TAG) == "protea.training.knn-batch"


def test_export_job_graph_and_executor() -> None:
    job = defs.resolve_job_def(EXPORT_JOB)
    structure = job.graph.dependency_structure
    upstream = {
        node.name: sorted(
            {out.node_name for out in structure.all_upstream_outputs_from_node(node.name)}
        )
        for node in job.graph.nodes
    }
    assert upstream == {
        "export_coordinator": [],
        "knn_batch": ["export_coordinator"],
        "pair_features": ["knn_batch"],
        "collect_export": ["export_coordinator", "pair_features"],
        "write_export": ["collect_export"],
    }
    # knn_batch and pair_features are mapped once per version; collect gathers them all.
    assert sorted(n.name for n in job.graph.nodes if structure.is_dynamic_mapped(n.name)) == [
        "knn_batch",
        "pair_features",
    ]
    assert job.executor_def.name == "protea_multiprocess"
    assert job.tags == {"protea/operation": "export_research_dataset"}
    assert sorted(hook.name for hook in job.hook_defs) == ["end_parent_on_step_failure"]


def test_coordinator_config_fields_all_have_descriptions() -> None:
    job = defs.resolve_job_def(EXPORT_JOB)
    coordinator = job.graph.node_named("export_coordinator").definition
    fields = coordinator.config_schema.config_type.fields  # type: ignore[union-attr]
    # The launchpad's fields are the payload's fields, described as the payload describes them.
    assert sorted(fields) == sorted(ExportPayload.model_fields)
    for name, field in fields.items():
        assert field.description, name
        assert field.description == FIELD_DESCRIPTIONS[name], name
    required = sorted(name for name, field in fields.items() if field.is_required)
    assert required == [
        "annotation_source",
        "embedding_config",
        "ontology_snapshot",
        "output_name",
        "train_versions",
    ]


def test_search_resource_config_is_described() -> None:
    resource = defs.get_repository_def().get_top_level_resources()["search"]
    fields = resource.config_schema.config_type.fields  # type: ignore[union-attr]
    assert sorted(fields) == ["backend", "device"]
    assert all(field.description for field in fields.values())
    assert fields["backend"].default_value == ""
    assert fields["device"].default_value == "auto"


def test_default_config_is_the_demo_payload() -> None:
    job = defs.resolve_job_def(EXPORT_JOB)
    demo_yaml = yaml.safe_load((REPO_ROOT / "configs" / "demo.yaml").read_text())
    assert demo_yaml == DEMO_PAYLOAD
    assert job.run_config == {"ops": {"export_coordinator": {"config": DEMO_PAYLOAD}}}


@pytest.mark.slow
def test_workspace_yaml_loads_with_the_dagster_cli(tmp_path: Path) -> None:
    """What `dagster dev -w workspace.yaml` loads: the same code location, without errors."""
    env = {
        "PATH": f"{REPO_ROOT / '.venv' / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PROTEA_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    (tmp_path / "dagster").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "protea_pipelines" in done.stdout + done.stderr
