"""A bounded schemathesis run against the schema the server serves: no answer is a 5xx.

Every operation is driven with positive and negative data (30 examples each), with the bearer
token, over real HTTP; half the positive launch requests carry the demo's real names. Requests
may create job rows; any run worker they start is killed at teardown with the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode

from tests.api import EMBEDDING, ONTOLOGY, SOURCE, TOKEN, ApiServer

MAX_EXAMPLES = 30
BUDGET_S = 60.0


def steer(case: Any, mode: GenerationMode, calls: dict[str, int]) -> None:
    """Every other positive POST gets the demo's names (and a safe output name), so that the
    pre-flight past the name look-ups (versions, k, backend, failure_ratio) is fuzzed too."""
    if mode is not GenerationMode.POSITIVE or case.method != "POST":
        return
    if not isinstance(case.body, dict) or sum(calls.values()) % 2:
        return
    case.body.update(
        output_name=f"fuzz-{sum(calls.values())}",
        embedding_config=EMBEDDING,
        annotation_source=SOURCE,
        ontology_snapshot=ONTOLOGY,
    )


def exerciser(
    api: ApiServer, operation: Any, mode: GenerationMode, calls: dict[str, int], problems: list[str]
) -> Callable[[], None]:
    """A hypothesis test of one operation in one mode: call it, record every 5xx."""
    headers = {"Authorization": f"Bearer {TOKEN}"}

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: Any) -> None:
        steer(case, mode, calls)
        response = case.call(base_url=api.base_url, headers=headers, timeout=30)
        calls[case.operation.label] = calls.get(case.operation.label, 0) + 1
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except AssertionError as failure:
            problems.append(
                f"{case.method} {case.formatted_path} body={case.body!r} query={case.query!r}"
                f" -> {response.status_code}: {response.text[:300]} ({failure})"
            )

    return exercise


@pytest.mark.slow
def test_no_operation_answers_with_a_server_error(api: ApiServer) -> None:
    schema = schemathesis.openapi.from_url(f"{api.base_url}/openapi.json", timeout=10)
    calls: dict[str, int] = {}
    problems: list[str] = []
    started = time.monotonic()

    operations: list[Any] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert sorted(op.label for op in operations) == [
        "GET /v1/datasets/{name}",
        "GET /v1/jobs/{job_id}",
        "GET /v1/jobs/{job_id}/events",
        "POST /v1/datasets",
    ]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            exerciser(api, operation, mode, calls, problems)()

    elapsed = time.monotonic() - started
    assert problems == [], "\n".join(problems) + "\n" + api.log()[-3000:]
    assert set(calls) == {op.label for op in operations}, calls
    assert all(count >= 5 for count in calls.values()), calls
    assert elapsed < BUDGET_S * 2, f"{elapsed:.0f}s"
    assert api.process.poll() is None, "the server died during the run"
