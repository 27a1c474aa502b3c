"""The export payload: strict, closed, frozen, and every rejection names the field and value.

The expected texts are those describe_validation_error gives, since that line is what the
parent job, the Dagster launchpad and the HTTP API show to the person who sent the payload.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from protea_pipelines.export.payload import (
    ExportPayload,
    describe_validation_error,
    parse_payload,
)

BASE: dict[str, Any] = {
    "output_name": "yeast-demo",
    "embedding_config": "kmer3-320",
    "annotation_source": "goa_yeast",
    "ontology_snapshot": "go-2019-01-27",
    "train_versions": [20091231, 20141231],
    "test_versions": [20210408],
}
NAME_RULE = (
    "must be one path segment of letters, digits, '.', '_' or '-', starting with a letter or "
    "digit, at most 200 characters"
)


def rejection(**changes: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        parse_payload({**BASE, **changes})
    return describe_validation_error(caught.value)


def test_defaults_and_versions_order() -> None:
    payload = parse_payload(BASE)
    assert (payload.k, payload.search_backend, payload.failure_ratio) == (5, "faiss", 1.0)
    assert payload.expand_votes_to_ancestors is False
    assert payload.annotation_set_id is None
    assert payload.versions == [("train", 20091231), ("train", 20141231), ("eval", 20210408)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"k": "5"}, "k: Input should be a valid integer (got '5')"),
        ({"k": 5.0}, "k: Input should be a valid integer (got 5.0)"),
        ({"k": True}, "k: Input should be a valid integer (got True)"),
        ({"train_versions": ["20091231"]}, "train_versions.0: Input should be a valid integer"),
        (
            {"expand_votes_to_ancestors": "yes"},
            "expand_votes_to_ancestors: Input should be a valid boolean (got 'yes')",
        ),
    ],
    ids=["k-str", "k-float", "k-bool", "version-str", "expand-str"],
)
def test_strict_types(changes: dict[str, Any], message: str) -> None:
    assert rejection(**changes).startswith(message)


def test_extra_fields_are_forbidden() -> None:
    # The message lists the fields that exist, so a typo is easy to spot.
    assert rejection(search_backnd="numpy") == (
        "search_backnd: Extra inputs are not permitted (got 'numpy'); accepted: output_name, "
        "embedding_config, annotation_source, ontology_snapshot, train_versions, test_versions, "
        "k, search_backend, failure_ratio, expand_votes_to_ancestors, annotation_set_id"
    )


def test_frozen() -> None:
    payload = parse_payload(BASE)
    with pytest.raises(ValidationError) as caught:
        payload.k = 3  # type: ignore[misc]
    assert describe_validation_error(caught.value) == "k: Instance is frozen (got 3)"
    assert payload.k == 5


@pytest.mark.parametrize("backend", ["FAISS", "Numpy", "torch ", "annoy"])
def test_unsupported_search_backend_case_sensitive(backend: str) -> None:
    assert rejection(search_backend=backend) == (
        f"search_backend: unsupported search backend; accepted: numpy, faiss, torch "
        f"(got {backend!r})"
    )


@pytest.mark.parametrize("backend", ["numpy", "faiss", "torch"])
def test_supported_search_backends(backend: str) -> None:
    assert parse_payload({**BASE, "search_backend": backend}).search_backend == backend


@pytest.mark.parametrize(
    ("k", "message"),
    [
        (0, "k: Input should be greater than or equal to 1 (got 0)"),
        (-3, "k: Input should be greater than or equal to 1 (got -3)"),
        (1001, "k: Input should be less than or equal to 1000 (got 1001)"),
    ],
)
def test_k_range(k: int, message: str) -> None:
    assert rejection(k=k) == message


@pytest.mark.parametrize("k", [1, 1000])
def test_k_bounds_accepted(k: int) -> None:
    assert parse_payload({**BASE, "k": k}).k == k


def test_duplicated_versions() -> None:
    assert rejection(train_versions=[20091231, 20141231, 20091231]) == (
        "train_versions: versions listed twice: [20091231] (got [20091231, 20141231, 20091231])"
    )
    assert rejection(test_versions=[20210408, 20210408]) == (
        "test_versions: versions listed twice: [20210408] (got [20210408, 20210408])"
    )


def test_empty_train_versions() -> None:
    assert rejection(train_versions=[]) == (
        "train_versions: must name at least one snapshot version (got [])"
    )


def test_overlapping_train_and_test() -> None:
    # A model-level check: the line names both fields and the shared version.
    assert rejection(test_versions=[20141231, 20210408]) == (
        "payload: train_versions and test_versions overlap: [20141231]"
    )


@pytest.mark.parametrize("name", ["../x", "a/b", ".", "..", "", "x" * 300, ".hidden", "a b"])
def test_unsafe_output_names(name: str) -> None:
    assert rejection(output_name=name) == f"output_name: {NAME_RULE} (got {name!r})"


@pytest.mark.parametrize("name", ["a", "yeast-demo_2.v1", "x" * 200])
def test_safe_output_names(name: str) -> None:
    assert ExportPayload.model_validate({**BASE, "output_name": name}).output_name == name


def test_several_problems_one_line_each() -> None:
    text = rejection(k="5", search_backend="FAISS")
    assert text == (
        "k: Input should be a valid integer (got '5'); "
        "search_backend: unsupported search backend; accepted: numpy, faiss, torch (got 'FAISS')"
    )


@pytest.mark.parametrize(
    ("ratio", "message"),
    [
        (0.0, "failure_ratio: Input should be greater than 0 (got 0.0)"),
        (1.5, "failure_ratio: Input should be less than or equal to 1 (got 1.5)"),
    ],
)
def test_failure_ratio_range(ratio: float, message: str) -> None:
    assert rejection(failure_ratio=ratio) == message
