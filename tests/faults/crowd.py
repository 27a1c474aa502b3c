"""Many writers at once on one parent job: threads of the test process and of spawned worker
processes, released together by one barrier per round.

Every call opens its own session (session_scope) on the database URL it is given and commits
it, the way a child step reports. Each worker process is started with the spawn method, so it
has its own interpreter, its own SQLAlchemy engine per URL and its own connection pool; it
shares nothing with the test process but the database itself. The workers live for a whole
test module (spawning them is the slow part); each call names the URL of its test's store.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import re
import threading
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# One call: (child key, failure message); the message only matters to fail_child.
Call = tuple[str, str]
BARRIER_TIMEOUT_S = 60.0
RESULT_TIMEOUT_S = 120.0
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


@dataclass(frozen=True)
class Outcome:
    """What one call returned (a plain value), or the traceback of what it raised."""

    value: Any = None
    error: str | None = None


def run_action(action: str, url: str, job_id: str, call: Call) -> Any:
    """One report on the parent job in its own committed session; returns a plain value."""
    from protea_pipelines.jobs.children import report_child_failure, update_parent_progress
    from protea_pipelines.jobs.parent_job import SUCCEEDED, finish_parent_job
    from protea_pipelines.store.db import get_engine, session_scope

    if action == "open":
        get_engine(url)
        return None
    child_key, message = call
    with session_scope(url) as session:
        if action == "progress":
            return update_parent_progress(session, job_id, child_key)
        if action == "succeed":
            return finish_parent_job(session, job_id, SUCCEEDED)
        if action == "fail_child":
            report = report_child_failure(session, job_id, child_key, message)
            return (
                report.counted,
                report.failed_children_count,
                report.parent_status,
                report.parent_failed_now,
            )
    raise ValueError(f"unknown action {action}")


def run_together(
    barrier: Any, action: str, url: str, job_id: str, calls: Sequence[Call]
) -> list[Outcome]:
    """One thread per call; each waits at the shared barrier, then makes its call."""
    outcomes: list[Outcome] = [Outcome(error="never ran")] * len(calls)

    def one(index: int, call: Call) -> None:
        try:
            barrier.wait(BARRIER_TIMEOUT_S)
            outcomes[index] = Outcome(value=run_action(action, url, job_id, call))
        except BaseException:
            outcomes[index] = Outcome(error=traceback.format_exc())

    threads = [threading.Thread(target=one, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _worker(tasks: Any, results: Any, barriers: Sequence[Any]) -> None:
    """A spawned process: serve rounds until told to stop."""
    from protea_pipelines.store.db import get_engine

    results.put("ready")
    while (task := tasks.get()) is not None:
        round_index, action, url, job_id, calls = task
        if calls and action != "open":
            # The engine and its schema check come before the barrier, so that they are not
            # what spreads the calls of a round apart.
            get_engine(url)
        outcomes = run_together(barriers[round_index], action, url, job_id, calls)
        # Give the connections back: the tests share one PostgreSQL server.
        if calls:
            with contextlib.suppress(Exception):
                get_engine(url).dispose()
        results.put([(o.value, o.error) for o in outcomes])


class Crowd:
    """`processes` spawned workers plus threads of the test process.

    A barrier can reach a spawned process only as a start argument, so every round's barrier
    is made before the workers start: `barriers` maps a round size (calls at once) to how many
    rounds of that size the crowd can run.
    """

    def __init__(self, processes: int, barriers: dict[int, int]) -> None:
        context = multiprocessing.get_context("spawn")
        self._barriers = [context.Barrier(size) for size, n in barriers.items() for _ in range(n)]
        self._used: set[int] = set()
        self.processes = processes
        self._channels = [(context.Queue(), context.Queue()) for _ in range(processes)]
        self._processes = [
            context.Process(target=_worker, args=(tasks, results, self._barriers), daemon=True)
            for tasks, results in self._channels
        ]
        for process in self._processes:
            process.start()
        for _, results in self._channels:
            assert results.get(timeout=RESULT_TIMEOUT_S) == "ready"

    def round(
        self, action: str, url: str, job_id: str, calls: Sequence[Call], in_test_process: int
    ) -> list[Outcome]:
        """Make `calls` at once: the first `in_test_process` on threads of this process, the
        rest in contiguous shares over the workers. Outcomes come back in the order of calls."""
        index = next(
            i
            for i, barrier in enumerate(self._barriers)
            if i not in self._used and barrier.parties == len(calls)
        )
        self._used.add(index)
        local, remote = list(calls[:in_test_process]), list(calls[in_test_process:])
        n = len(self._channels)
        bounds = [len(remote) * i // n for i in range(n + 1)]
        shares = [remote[bounds[i] : bounds[i + 1]] for i in range(n)]
        for (tasks, _), share in zip(self._channels, shares, strict=True):
            tasks.put((index, action, url, job_id, share))
        outcomes = run_together(self._barriers[index], action, url, job_id, local)
        for _, results in self._channels:
            outcomes += [Outcome(v, e) for v, e in results.get(timeout=RESULT_TIMEOUT_S)]
        return outcomes

    def close(self) -> None:
        for tasks, _ in self._channels:
            tasks.put(None)
        for process in self._processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()


def last_line(text: str) -> str:
    """The exception line of a traceback (SQLAlchemy and PostgreSQL add lines after it)."""
    lines = text.strip().splitlines()
    exception = [line for line in lines if EXCEPTION_LINE.match(line)]
    return exception[-1] if exception else lines[-1]


def assert_no_errors(outcomes: Sequence[Outcome]) -> None:
    errors = Counter(last_line(o.error) for o in outcomes if o.error is not None)
    assert not errors, f"{errors.total()} of {len(outcomes)} calls raised: {dict(errors)}"
