"""The coordinator's run config: the export payload's fields, with the payload's descriptions.

Dagster checks types and unknown keys at launch. search_backend is a plain string on purpose:
the coordinator's pre-flight rejects an unknown backend with an event on the parent job's
timeline, which a launch-time error would never write.
"""

from typing import Any

import dagster as dg
from pydantic import Field

from protea_pipelines.export.payload import FIELD_DESCRIPTIONS as D


class ExportConfig(dg.Config):
    output_name: str = Field(description=D["output_name"])
    embedding_config: str = Field(description=D["embedding_config"])
    annotation_source: str = Field(description=D["annotation_source"])
    ontology_snapshot: str = Field(description=D["ontology_snapshot"])
    train_versions: list[int] = Field(description=D["train_versions"])
    test_versions: list[int] = Field(default=[], description=D["test_versions"])
    k: int = Field(default=5, description=D["k"])
    search_backend: str = Field(default="faiss", description=D["search_backend"])
    failure_ratio: float = Field(default=1.0, description=D["failure_ratio"])
    expand_votes_to_ancestors: bool = Field(
        default=False, description=D["expand_votes_to_ancestors"]
    )
    annotation_set_id: int | None = Field(default=None, description=D["annotation_set_id"])

    def payload_data(self) -> dict[str, Any]:
        """The fields as a plain mapping, for the strict payload model to validate."""
        data = self.model_dump()
        if data.get("annotation_set_id") is None:
            data.pop("annotation_set_id", None)
        return data
