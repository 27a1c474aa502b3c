"""The scheduled export of the newest snapshot versions; it skips when nothing new was loaded."""

import os
from pathlib import Path

import dagster as dg
import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from protea_pipelines.demo import REPO_ROOT
from protea_pipelines.export.lineage import SnapshotVersion, loaded_versions
from protea_pipelines.export.payload import SearchBackendName
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.models import Dataset

OUTPUT_TAG = "protea/output_name"


class ScheduleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cron: str
    annotation_source: str
    embedding_config: str
    ontology_snapshot: str
    train_count: int = Field(ge=1)
    test_count: int = Field(ge=0)
    k: int = Field(default=5, ge=1)
    search_backend: SearchBackendName = "faiss"
    output_prefix: str


def schedule_settings() -> ScheduleSettings:
    path = Path(os.environ.get("PROTEA_SCHEDULE_CONFIG", REPO_ROOT / "configs" / "schedule.yaml"))
    return ScheduleSettings.model_validate(yaml.safe_load(path.read_text()))


def choose_versions(
    versions: list[SnapshotVersion], train_count: int, test_count: int
) -> tuple[list[int], list[int]] | None:
    """The newest versions split into (train, test); None when too few are loaded.

    The oldest chosen version needs a predecessor, so train + test + 1 versions must exist.
    """
    if len(versions) < train_count + test_count + 1:
        return None
    chosen = [v.version for v in versions[-(train_count + test_count) :]]
    return chosen[:train_count], chosen[train_count:]


def build_schedule(settings: ScheduleSettings) -> dg.ScheduleDefinition:
    @dg.schedule(
        name="newest_versions_export",
        job_name="export_research_dataset",
        cron_schedule=settings.cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Export the newest snapshot versions of one source (configs/schedule.yaml).",
    )
    def newest_versions_export(
        context: dg.ScheduleEvaluationContext,
    ) -> dg.RunRequest | dg.SkipReason:
        with session_scope() as session:
            versions = loaded_versions(session, settings.annotation_source)
            split = choose_versions(versions, settings.train_count, settings.test_count)
            if split is None:
                return dg.SkipReason(
                    f"{len(versions)} versions of {settings.annotation_source} loaded; "
                    f"{settings.train_count + settings.test_count + 1} needed"
                )
            output_name = f"{settings.output_prefix}-{versions[-1].version}"
            exported = session.scalar(select(Dataset.id).where(Dataset.name == output_name))
        if exported is not None:
            return dg.SkipReason(
                f"nothing new loaded since the export {output_name} "
                f"(newest version {versions[-1].version})"
            )
        running = context.instance.get_run_records(
            dg.RunsFilter(
                tags={OUTPUT_TAG: output_name},
                statuses=[
                    dg.DagsterRunStatus.NOT_STARTED,
                    dg.DagsterRunStatus.QUEUED,
                    dg.DagsterRunStatus.STARTING,
                    dg.DagsterRunStatus.STARTED,
                ],
            ),
            limit=1,
        )
        if running:
            return dg.SkipReason(f"the export {output_name} is still running")
        train, test = split
        payload = {
            "output_name": output_name,
            "embedding_config": settings.embedding_config,
            "annotation_source": settings.annotation_source,
            "ontology_snapshot": settings.ontology_snapshot,
            "train_versions": train,
            "test_versions": test,
            "k": settings.k,
            "search_backend": settings.search_backend,
        }
        return dg.RunRequest(
            run_key=output_name,
            run_config={"ops": {"export_coordinator": {"config": payload}}},
            tags={OUTPUT_TAG: output_name},
        )

    return newest_versions_export
