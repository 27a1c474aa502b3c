"""The failure-ratio policy: when do failed children fail the whole export."""

from __future__ import annotations


def export_fails(failed: int, dispatched: int, failure_ratio: float) -> bool:
    """Fail when every child failed, or when the failed share reaches failure_ratio.

    An export that dispatched nothing has produced nothing, so it counts as failed.
    """
    if dispatched <= 0:
        return True
    return failed >= dispatched or failed / dispatched >= failure_ratio
