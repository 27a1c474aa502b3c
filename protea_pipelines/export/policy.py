"""The failure-ratio policy: when do failed children fail the whole export."""

from __future__ import annotations

from protea_pipelines.jobs.timeline import Timeline


def export_fails(failed: int, dispatched: int, failure_ratio: float) -> bool:
    """Fail when every child failed, or when the failed share reaches failure_ratio.

    An export that dispatched nothing has produced nothing, so it counts as failed.
    """
    if dispatched <= 0:
        return True
    return failed >= dispatched or failed / dispatched >= failure_ratio


def failure_reason(
    missing: list[dict[str, str]], dispatched: int, failure_ratio: float
) -> str | None:
    """Why the export fails by the policy (with the first three errors), or None when it holds."""
    if not export_fails(len(missing), dispatched, failure_ratio):
        return None
    errors = "; ".join(item["error"] for item in missing[:3])
    return (
        f"{len(missing)} of {dispatched} children failed (failure_ratio {failure_ratio}): {errors}"
    )


def warn_partial(timeline: Timeline, event: str, missing: list[dict[str, str]]) -> None:
    """Say, before the write, which pairs the dataset will be without."""
    timeline.emit(
        event,
        f"writing without {len(missing)} failed pair(s)",
        level="warning",
        missing=[item["snapshot_pair"] for item in missing],
    )
