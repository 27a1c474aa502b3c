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
from sqlalchemy import select

from protea_pipelines import settings
from protea_pipelines.jobs.parent_job import (
    create_parent_job,
    job_as_dict,
    set_parent_meta,
    start_parent_job,
)
from protea_pipelines.store.db import session_scope
from protea_pipelines.store.models import JobChild, ParentJob
from tests.faults.crowd import Call, Crowd, assert_no_errors, last_line

N = 50
IN_TEST_PROCESS = 25  # the other 25 calls of a round come from the spawned workers
WORKERS = 5
MESSAGES = [f"v{i}-v{i + 1}: embedding row {i} has a non-finite value" for i in range(5)]


@pytest.fixture(scope="module")
def crowd() -> Iterator[Crowd]:
    """The workers, for the whole module; every call names its test's database URL."""
    workers = Crowd(WORKERS, {N: 20, WORKERS: 2})
    try:
        yield workers
    finally:
        workers.close()


def new_running_parent(total: int = N, failure_ratio: float = 1.0) -> str:
    """A parent the coordinator has dispatched `total` children for."""
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
        rows = session.scalars(select(JobChild).where(JobChild.job_id == job_id)).all()
        return {row.child_key: row.state for row in rows}


def calls(prefix: str, n: int = N) -> list[Call]:
    """n distinct children, their messages drawn in turn from five texts."""
    return [(f"{prefix}_{i:02d}", MESSAGES[i % len(MESSAGES)]) for i in range(n)]


def test_progress_counts_each_child_once(store: str, crowd: Crowd) -> None:
    url = settings.database_url()
    job_id = new_running_parent()
    children = calls("train")

    outcomes = crowd.round("progress", url, job_id, children, IN_TEST_PROCESS)
    assert_no_errors(outcomes)
    job = parent(job_id)
    assert job["progress_current"] == N
    assert job["status"] == "running"
    # Each call read the count right after its own increment, under the row's write lock:
    # every value from 1 to 50 exactly once.
    assert sorted(o.value for o in outcomes) == list(range(1, N + 1))
    assert child_rows(job_id) == {key: "done" for key, _ in children}

    # The same 50 children again, all at once (retried or re-executed steps): nothing more.
    again = crowd.round("progress", url, job_id, children, IN_TEST_PROCESS)
    assert_no_errors(again)
    assert [o.value for o in again] == [N] * N
    assert parent(job_id)["progress_current"] == N


def test_succeeded_transition_is_won_once(store: str, crowd: Crowd) -> None:
    url = settings.database_url()
    job_id = new_running_parent()
    assert_no_errors(crowd.round("progress", url, job_id, calls("train"), IN_TEST_PROCESS))

    attempts = crowd.round("succeed", url, job_id, calls("finisher"), IN_TEST_PROCESS)
    assert_no_errors(attempts)
    assert sorted(o.value for o in attempts) == [False] * (N - 1) + [True]
    job = parent(job_id)
    assert job["status"] == "succeeded"
    assert job["finished_at"] is not None
    assert job["progress_current"] == N


def test_failures_are_counted_once_and_fail_the_parent_once(store: str, crowd: Crowd) -> None:
    url = settings.database_url()
    job_id = new_running_parent(failure_ratio=1.0)
    children = calls("eval")

    outcomes = crowd.round("fail_child", url, job_id, children, IN_TEST_PROCESS)
    assert_no_errors(outcomes)
    reports = [o.value for o in outcomes]
    assert all(report[0] for report in reports), "every distinct child is counted"
    # Every count from 1 to 50 was handed out once: no two failures read the same count.
    assert sorted(report[1] for report in reports) == list(range(1, N + 1))
    assert [report for report in reports if report[3]] == [(True, N, "failed", True)]

    job = parent(job_id)
    assert job["status"] == "failed"
    assert job["error_code"] == "children_failed"
    assert job["error_message"].startswith(f"{N} of {N} children failed: ")
    meta = job["meta"]
    assert meta["failed_children_count"] == N
    assert meta["dispatched_total"] == N
    top = meta["top_error_messages"]
    assert len(top) == 3 and len(set(top)) == 3, top
    assert set(top) <= set(MESSAGES)
    assert child_rows(job_id) == {key: "failed" for key, _ in children}

    # After FAILED, 50 more failures at once change nothing.
    late = crowd.round("fail_child", url, job_id, calls("late"), IN_TEST_PROCESS)
    assert_no_errors(late)
    assert {o.value for o in late} == {(False, N, "failed", False)}
    after = parent(job_id)
    assert after["meta"] == meta
    assert after["status"] == "failed"
    assert after["finished_at"] == job["finished_at"]
    assert after["error_message"] == job["error_message"]


def test_the_same_failed_child_counts_once(store: str, crowd: Crowd) -> None:
    url = settings.database_url()
    job_id = new_running_parent(failure_ratio=1.0)
    # One child reporting 50 times at once (its retries racing), with differing messages.
    same = [("eval_20210408", MESSAGES[i % len(MESSAGES)]) for i in range(N)]

    outcomes = crowd.round("fail_child", url, job_id, same, IN_TEST_PROCESS)
    assert_no_errors(outcomes)
    counted = [o.value for o in outcomes if o.value[0]]
    assert counted == [(True, 1, "running", False)]
    assert sorted(o.value for o in outcomes)[:-1] == [(False, 1, "running", False)] * (N - 1)
    job = parent(job_id)
    assert job["status"] == "running"
    assert job["meta"]["failed_children_count"] == 1
    assert len(job["meta"]["top_error_messages"]) == 1
    assert child_rows(job_id) == {"eval_20210408": "failed"}


def test_fresh_store_opened_by_many_processes_at_once(store: str, crowd: Crowd) -> None:
    """The step processes of the first export on a new home (or a new PostgreSQL schema) open
    the store together, and each brings the schema to head on first use: none may fail."""
    url = settings.database_url()
    outcomes = crowd.round("open", url, "", [("", "")] * WORKERS, 0)
    errors = [last_line(o.error) for o in outcomes if o.error is not None]
    assert errors == [], f"{len(errors)} of {WORKERS} processes could not open the store"
    # The schema they left is complete.
    job_id = new_running_parent()
    assert parent(job_id)["status"] == "running"
