"""What every exact KNN backend promises, and the input checks they share.

A backend proposes the nearest references of each query by float32 inner product; the final
neighbours and their distances are decided in `protea_pipelines.knn.canonical`, so backends
only need to be exact up to float32 rounding and fast.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from protea_pipelines.errors import InputError


@runtime_checkable
class KnnBackend(Protocol):
    """An exact top-n search by inner product over L2-normalised float32 vectors."""

    name: str

    def top_candidates(self, queries: np.ndarray, refs: np.ndarray, n: int) -> np.ndarray:
        """Return int64 indices (n_q, min(n, n_r)) of the n largest inner products per query.

        `queries` (n_q, d) and `refs` (n_r, d) are L2-normalised, float32 and C-contiguous.
        The order within a row is unspecified.
        """
        ...


def check_search_inputs(queries: np.ndarray, refs: np.ndarray, n: int) -> int:
    """Validate what a backend receives and return the row width, min(n, n_r)."""
    for field, array in (("queries", queries), ("refs", refs)):
        if not isinstance(array, np.ndarray) or array.ndim != 2:
            raise InputError(
                field, getattr(array, "shape", type(array).__name__), "must be a 2-D numpy array"
            )
        if array.dtype != np.float32:
            raise InputError(field, str(array.dtype), "must be float32", accepted="float32")
        if not array.flags.c_contiguous:
            raise InputError(field, array.strides, "must be C-contiguous")
    if queries.shape[1] != refs.shape[1]:
        raise InputError(
            "queries",
            queries.shape,
            f"query dimension {queries.shape[1]} differs from reference dimension {refs.shape[1]}",
        )
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InputError("n", n, "must be an integer of at least 1")
    return min(int(n), refs.shape[0])


def empty_result(n_queries: int, width: int) -> np.ndarray:
    """The result of a search with nothing to return for some dimension."""
    return np.empty((n_queries, width), dtype=np.int64)
