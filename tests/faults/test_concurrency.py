"""Counting on the parent job under concurrency (issue 4, A), on SQLite and on PostgreSQL.

Fifty reports land at once, half from threads of the test process and half from threads of
five spawned processes with their own engines. Progress counts each child exactly once, the
SUCCEEDED transition is won exactly once, and failures lose no count, keep at most three
distinct messages and fail the parent exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from protea_pipelines.jobs.parent_job import (
    create_parent_job,
    job_as_dict,
    set_parent_meta,
    start_parent_job,
)
from protea_pipelines.store.db import get_engine, session_scope
from protea_pipelines.store.models import JobChild, ParentJob
from tests.faults.crowd import Call, Crowd, assert_no_errors, last_line

N = 50
IN_TEST_PROCESS = 25  # the other 25 calls come from the spawned workers
WORKERS = 5
MESSAGES = [f"pair v{i}: embedding row {i} has a non-finite value" for i in range(5)]


def new_running_parent(total: int = N, failure_ratio: float = 1.0) -> str:
    with session_scope() as session:
        job_id = create_parent_job(session, "fault_test", {"failure_ratio": failure_ratio})
        assert start_parent_job(session, job_id, progress_total=total)
        set_parent_meta(session, job_id, dispatched_total=total)
    return job_id


def parent(job_id: str) -> dict[str, Any]:
    with session_scope() as session:
        job = session.get(ParentJob, job_id)
        assert job is not None
        return job_as_dict(job)


def child_rows(job_id: str) -> dict[str, str]:
    with session_scope() as session:
        rows = session.query(JobChild).filter(JobChild.job_id == job_id).all()
        return {row.child_key: row.state for row in rows}


def keys(prefix: str, n: int = N) -> list[Call]:
    return [(f"{prefix}_{i:02d}", MESSAGES[i % len(MESSAGES)]) for i in range(n)]


@pytest.fixture
def crowd(store: str) -> Iterator[Crowd]:
    """Workers spawned after `store` has pointed the environment at this test's database,
    for two rounds of 50 calls. The schema is created here first: the workers are to race on
    the parent job, not on the migrations (test_fresh_store_opened_at_once covers those)."""
    get_engine()
    workers = Crowd(WORKERS, (N, N))
    try:
        assert workers.open_errors == []
        yield workers
    finally:
        workers.close()


def test_progress_counts_each_child_once(crowd: Crowd) -> None:
    job_id = new_running_parent()
    calls = keys("train")

    outcomes = crowd.round("progress", job_id, calls, IN_TEST_PROCESS)
    assert_no_errors(outcomes)
    job = parent(job_id)
    assert job["progress_current"] == N
    assert job["status"] == "running"
    # Each call saw the count after its own increment: every value from 1 to 50 once, on
    # SQLite (writers serialised) as on PostgreSQL (the increment is one UPDATE).
    assert sorted(o.value for o in outcomes) == list(range(1, N + 1))
    assert child_rows(job_id) == {key: "done" for key, _ in calls}

    # The same 50 children again, all at once (a retried or re-executed child): nothing more.
    again = crowd.round("progress", job_id, calls, IN_TEST_PROCESS)
    assert_no_errors(again)
    assert [o.value for o in again] == [N] * N
    assert parent(job_id)["progress_current"] == N


def test_succeeded_transition_is_won_once(crowd: Crowd) -> None:
    job_id = new_running_parent()
    outcomes = crowd.round("progress", job_id, keys("train"), IN_TEST_PROCESS)
    assert_no_errors(outcomes)

    attempts = crowd.round("succeed", job_id, keys("finisher"), IN_TEST_PROCESS)
    assert_no_errors(attempts)
    assert sorted(o.value for o in attempts) == [False] * (N - 1) + [True]
    job = parent(job_id)
    assert job["status"] == "succeeded"
    assert job["finished_at"] is not None
    assert job["progress_current"] == N


def test_failures_are_counted_once_and_fail_the_parent_once(crowd: Crowd) -> None:
    job_id = new_running_parent(failure_ratio=1.0)
    calls = keys("eval")

    outcomes = crowd.round("fail_child", job_id, calls, IN_TEST_PROCESS)
    assert_no_errors(outcomes)
    reports = [o.value for o in outcomes]
    assert all(counted for counted, _, _, _ in reports)
    # Every count from 1 to 50 was handed out once: no two failures read the same count.
    assert sorted(count for _, count, _, _ in reports) == list(range(1, N + 1))
    failed_now = [report for report in reports if report[3]]
    assert failed_now == [(True, N, "failed", True)]

    job = parent(job_id)
    assert job["status"] == "failed"
    assert job["error_code"] == "children_failed"
    meta = job["meta"]
    assert meta["failed_children_count"] == N
    assert meta["dispatched_total"] == N
    top = meta["top_error_messages"]
    assert len(top) == 3 and len(set(top)) == 3, top
    assert set(top) <= set(MESSAGES)
    assert job["error_message"].startswith(f"{N} of {N} children failed: ")
    assert child_rows(job_id) == {key: "failed" for key, _ in calls}

    # After FAILED: more failures, new children or the same ones, change nothing.
    again = crowd.round("fail_child", job_id, keys("late"), IN_TEST_PROCESS)
    assert_no_errors(again)
    assert {o.value for o in again} == {(False, N, "failed", False)}
    after = parent(job_id)
    assert after["meta"] == meta
    assert after["status"] == "failed"
    assert after["finished_at"] == job["finished_at"]
    assert after["error_message"] == job["error_message"]


def test_the_same_failed_child_counts_once(crowd: Crowd) -> None:
    job_id = new_running_parent(total=N, failure_ratio=1.0)
    # One child reporting 50 times at once (retries racing), with differing messages.
    same = [("eval_20210408", MESSAGES[i % len(MESSAGES)]) for i in range(N)]
    outcomes = crowd.round("fail_child", job_id, same, IN_TEST_PROCESS)
    assert_no_errors(outcomes)
    counted = [o for o in outcomes if o.value[0]]
    assert len(counted) == 1
    winner = counted[0].value
    assert winner == (True, 1, "running", False)
    assert {o.value for o in outcomes if o is not counted[0]} == {(False, 1, "running", False)}
    job = parent(job_id)
    assert job["status"] == "running"
    assert job["meta"]["failed_children_count"] == 1
    assert len(job["meta"]["top_error_messages"]) == 1
    assert child_rows(job_id) == {"eval_20210408": "failed"}


def test_fresh_store_opened_by_many_processes_at_once(store: str) -> None:
    """Step processes of a first export on a new home (or a new PostgreSQL schema) all open
    the store together; each brings the schema to head on first use, and none may fail."""
    workers = Crowd(WORKERS, ())
    try:
        errors = [last_line(error) for error in workers.open_errors]
        assert errors == [], f"{len(errors)} of {WORKERS} processes could not open the store"
    finally:
        workers.close()
    # And the schema they left is usable.
    job_id = new_running_parent()
    assert parent(job_id)["status"] == "running"
