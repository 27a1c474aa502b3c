"""Many writers at once on one parent job: threads of the test process and of spawned worker
processes, released together by one barrier per round.

Every call opens its own session (session_scope) and commits it, the way a child step reports.
Each worker process is started with the spawn method, so it has its own interpreter, its own
SQLAlchemy engine and its own connection pool; it shares nothing with the test process but the
database itself (and the environment that names it).
"""

from __future__ import annotations

import multiprocessing
import threading
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

# One call: (child key, failure message); the message only matters to fail_child.
Call = tuple[str, str]
BARRIER_TIMEOUT_S = 60.0
RESULT_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Outcome:
    """What one call returned (a plain value), or the traceback of what it raised."""

    value: Any = None
    error: str | None = None


def run_action(action: str, job_id: str, call: Call) -> Any:
    """One report on the parent job in its own committed session; returns a plain value."""
    from protea_pipelines.jobs.children import report_child_failure, update_parent_progress
    from protea_pipelines.jobs.parent_job import SUCCEEDED, finish_parent_job
    from protea_pipelines.store.db import session_scope

    child_key, message = call
    with session_scope() as session:
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


def run_together(barrier: Any, action: str, job_id: str, calls: Sequence[Call]) -> list[Outcome]:
    """One thread per call; each waits at the shared barrier, then makes its call."""
    outcomes: list[Outcome] = [Outcome(error="never ran")] * len(calls)

    def one(index: int, call: Call) -> None:
        try:
            barrier.wait(BARRIER_TIMEOUT_S)
            outcomes[index] = Outcome(value=run_action(action, job_id, call))
        except BaseException:
            outcomes[index] = Outcome(error=traceback.format_exc())

    threads = [threading.Thread(target=one, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def _worker(tasks: Any, results: Any, barriers: Sequence[Any]) -> None:
    """A spawned process: open the engine first, then serve rounds until told to stop.

    The engine (and its schema check) is opened before any barrier, so that interpreter start
    and migrations are not what spreads the calls of a round apart.
    """
    from protea_pipelines.store.db import get_engine

    get_engine()
    results.put("ready")
    while (task := tasks.get()) is not None:
        round_index, action, job_id, calls = task
        outcomes = run_together(barriers[round_index], action, job_id, calls)
        results.put([(o.value, o.error) for o in outcomes])


class Crowd:
    """`processes` spawned workers plus threads of the test process, for a planned set of rounds.

    A barrier can reach a spawned process only as a start argument, so every round's barrier
    (one party per call of that round) is made before the workers start.
    """

    def __init__(self, processes: int, calls_per_round: Sequence[int]) -> None:
        context = multiprocessing.get_context("spawn")
        self._barriers = [context.Barrier(n) for n in calls_per_round]
        self._next_round = 0
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
        self, action: str, job_id: str, calls: Sequence[Call], in_test_process: int
    ) -> list[Outcome]:
        """Make `calls` at once: the first `in_test_process` on threads of this process, the
        rest in contiguous shares over the workers. Outcomes come back in the order of calls."""
        barrier = self._barriers[self._next_round]
        assert barrier.parties == len(calls), (barrier.parties, len(calls))
        local, remote = list(calls[:in_test_process]), list(calls[in_test_process:])
        n = len(self._channels)
        bounds = [len(remote) * i // n for i in range(n + 1)]
        shares = [remote[bounds[i] : bounds[i + 1]] for i in range(n)]
        for (tasks, _), share in zip(self._channels, shares, strict=True):
            tasks.put((self._next_round, action, job_id, share))
        self._next_round += 1
        outcomes = run_together(barrier, action, job_id, local)
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


def errors_of(outcomes: Sequence[Outcome]) -> list[str]:
    return [o.error for o in outcomes if o.error is not None]
