"""The export payload: what a person asks the export to produce.

Strict types, extra fields forbidden, frozen. Errors name the field and the value; the same
descriptions feed the Dagster launchpad and the HTTP API schema.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

SearchBackendName = Literal["numpy", "faiss", "torch"]
SEARCH_BACKENDS: tuple[str, ...] = ("numpy", "faiss", "torch")
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
MAX_K = 1000

FIELD_DESCRIPTIONS: dict[str, str] = {
    "output_name": (
        "Name of the dataset; it becomes the folder PROTEA_HOME/datasets/<output_name>. "
        "Letters, digits, '.', '_' and '-'; must not be taken already."
    ),
    "embedding_config": "Name of the embedding config whose vectors drive the KNN search.",
    "annotation_source": "Annotation source whose snapshot versions are exported (e.g. goa_yeast).",
    "ontology_snapshot": "Name of the GO release every term is read through.",
    "train_versions": "Snapshot versions whose lineage pairs go to train.parquet.",
    "test_versions": "Snapshot versions whose lineage pairs go to eval.parquet.",
    "k": "Number of nearest neighbours per query and aspect.",
    "search_backend": "KNN backend: numpy, faiss or torch (all exact; faiss is the fastest).",
    "failure_ratio": (
        "Share of failed children at which the whole export fails; below it the dataset is "
        "written from the pairs that succeeded."
    ),
    "expand_votes_to_ancestors": "Neighbours also vote for the ancestors of their terms.",
    "annotation_set_id": (
        "Pivot annotation set: the set of (annotation_source, max(train_versions)). "
        "Derived when left out."
    ),
}


class ExportPayload(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    output_name: str = Field(description=FIELD_DESCRIPTIONS["output_name"])
    embedding_config: str = Field(description=FIELD_DESCRIPTIONS["embedding_config"])
    annotation_source: str = Field(description=FIELD_DESCRIPTIONS["annotation_source"])
    ontology_snapshot: str = Field(description=FIELD_DESCRIPTIONS["ontology_snapshot"])
    train_versions: list[int] = Field(description=FIELD_DESCRIPTIONS["train_versions"])
    test_versions: list[int] = Field(
        default_factory=list, description=FIELD_DESCRIPTIONS["test_versions"]
    )
    k: int = Field(default=5, ge=1, le=MAX_K, description=FIELD_DESCRIPTIONS["k"])
    search_backend: SearchBackendName = Field(
        default="faiss", description=FIELD_DESCRIPTIONS["search_backend"]
    )
    failure_ratio: float = Field(
        default=1.0, gt=0.0, le=1.0, description=FIELD_DESCRIPTIONS["failure_ratio"]
    )
    expand_votes_to_ancestors: bool = Field(
        default=False, description=FIELD_DESCRIPTIONS["expand_votes_to_ancestors"]
    )
    annotation_set_id: int | None = Field(
        default=None, description=FIELD_DESCRIPTIONS["annotation_set_id"]
    )

    @field_validator("output_name")
    @classmethod
    def _safe_output_name(cls, value: str) -> str:
        if not SAFE_NAME.fullmatch(value) or value in {".", ".."}:
            raise ValueError(
                "must be one path segment of letters, digits, '.', '_' or '-', "
                "starting with a letter or digit, at most 200 characters"
            )
        return value

    @field_validator("train_versions")
    @classmethod
    def _train_not_empty(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("must name at least one snapshot version")
        return value

    @field_validator("train_versions", "test_versions")
    @classmethod
    def _distinct_versions(cls, value: list[int]) -> list[int]:
        duplicated = sorted(v for v, n in Counter(value).items() if n > 1)
        if duplicated:
            raise ValueError(f"versions listed twice: {duplicated}")
        return value

    @model_validator(mode="after")
    def _splits_disjoint(self) -> ExportPayload:
        overlap = sorted(set(self.train_versions) & set(self.test_versions))
        if overlap:
            raise ValueError(f"train_versions and test_versions overlap: {overlap}")
        return self

    @property
    def versions(self) -> list[tuple[str, int]]:
        """Every requested version with its split, train first, each in the order given."""
        return [("train", v) for v in self.train_versions] + [
            ("eval", v) for v in self.test_versions
        ]


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem: `field: message (got value)`."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "payload"
        value = item.get("input")
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "literal_error" and field == "search_backend":
            message = "unsupported search backend; accepted: " + ", ".join(SEARCH_BACKENDS)
        if item["type"] == "missing" or not item["loc"]:
            lines.append(f"{field}: {message}")
        elif item["type"] == "extra_forbidden":
            accepted = ", ".join(ExportPayload.model_fields)
            lines.append(f"{field}: {message} (got {value!r}); accepted: {accepted}")
        else:
            lines.append(f"{field}: {message} (got {value!r})")
    return "; ".join(lines)


def parse_payload(data: dict[str, Any]) -> ExportPayload:
    """Validate a plain mapping (from YAML, JSON or run config) into a payload."""
    return ExportPayload.model_validate(data)
