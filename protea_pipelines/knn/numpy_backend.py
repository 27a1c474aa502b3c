"""Exact top-n search in plain numpy, for when neither faiss nor torch is wanted.

The (n_q, n_r) score matrix never exists: each worker computes one (block_q, block_r) tile of
scores at a time, a bounded buffer whatever n_r. Selection is where numpy loses time
(`np.argpartition` costs about 8.5 ns per score on one thread, as much as the matmul at dim
320), so only the first tile of a query block is partitioned; later tiles are compared with
each row's current n-th best score and only the few scores above it are merged. Two (or more)
workers run with BLAS limited to one thread each, so one core selects while the other
multiplies; numpy releases the GIL in every call used here.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from protea_pipelines.errors import InputError
from protea_pipelines.knn.base import check_search_inputs, empty_result

DEFAULT_BLOCK_BYTES = 64 * 2**20
_MAX_BLOCK_QUERIES = 256
# Per score of a tile: the float32 score, the bool mask, and the int64 argpartition result
# of the rare dense path.
_BYTES_PER_SCORE = 4 + 1 + 8
_MAX_DEFAULT_WORKERS = 8


@functools.lru_cache(maxsize=1)
def _blas_controller() -> Any:
    # Building a controller scans the loaded libraries, so do it once per process.
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _default_workers() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, _MAX_DEFAULT_WORKERS))


class NumpyBackend:
    """Tiled matmul with threshold-pruned selection, in worker threads.

    `workers`: threads, each holding about `block_bytes` of tile buffers. While a search
    runs, BLAS is limited to one thread for the whole process (threadpoolctl limits are
    process-wide).
    """

    name = "numpy"

    def __init__(self, workers: int | None = None, block_bytes: int = DEFAULT_BLOCK_BYTES):
        if workers is not None and (isinstance(workers, bool) or workers < 1):
            raise InputError("workers", workers, "must be at least 1")
        if block_bytes < 1:
            raise InputError("block_bytes", block_bytes, "must be at least 1")
        self.workers = workers if workers is not None else _default_workers()
        self.block_bytes = int(block_bytes)

    def top_candidates(self, queries: np.ndarray, refs: np.ndarray, n: int) -> np.ndarray:
        width = check_search_inputs(queries, refs, n)
        n_q, n_r = queries.shape[0], refs.shape[0]
        if n_q == 0 or width == 0:
            return empty_result(n_q, width)

        workers = min(self.workers, n_q)
        n_blocks = workers * math.ceil(n_q / (workers * _MAX_BLOCK_QUERIES))
        block_q = math.ceil(n_q / n_blocks)
        block_r = max(1, min(n_r, self.block_bytes // (block_q * _BYTES_PER_SCORE)))
        out = np.empty((n_q, width), dtype=np.int64)
        blocks = iter(range(0, n_q, block_q))
        lock = threading.Lock()

        def work() -> None:
            scores_buf = np.empty(block_q * block_r, dtype=np.float32)
            mask_buf = np.empty(block_q * block_r, dtype=np.bool_)
            while True:
                with lock:
                    start = next(blocks, None)
                if start is None:
                    return
                stop = min(start + block_q, n_q)
                out[start:stop] = _search_block(
                    queries[start:stop], refs, width, block_r, scores_buf, mask_buf
                )

        with _blas_controller().limit(limits=1, user_api="blas"):
            if workers == 1:
                work()
            else:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    for future in [pool.submit(work) for _ in range(workers)]:
                        future.result()
        return out


def _search_block(
    q_block: np.ndarray,
    refs: np.ndarray,
    width: int,
    block_r: int,
    scores_buf: np.ndarray,
    mask_buf: np.ndarray,
) -> np.ndarray:
    """Indices of the `width` best references of each query of one block."""
    m = q_block.shape[0]
    best_val = np.full((m, width), -np.inf, dtype=np.float32)
    best_idx = np.full((m, width), -1, dtype=np.int64)
    threshold = np.full(m, -np.inf, dtype=np.float32)

    for start in range(0, refs.shape[0], block_r):
        stop = min(start + block_r, refs.shape[0])
        cols = stop - start
        scores = scores_buf[: m * cols].reshape(m, cols)
        np.matmul(q_block, refs[start:stop].T, out=scores)
        mask = mask_buf[: m * cols].reshape(m, cols)
        if start == 0:
            # `>=` against a lower bound that at least `width` scores of the tile reach.
            np.greater_equal(scores, _first_threshold(scores, width)[:, None], out=mask)
        else:
            # A score equal to the current n-th best cannot improve the row.
            np.greater(scores, threshold[:, None], out=mask)
        flat = np.flatnonzero(mask)
        if flat.size == 0:
            continue

        if cols > width and flat.size > m * cols // 8:
            # Sorting that many survivors would cost more than partitioning the tile.
            kth = cols - width
            cand_cols = np.argpartition(scores, kth, axis=1)[:, kth:]
            vals = np.take_along_axis(scores, cand_cols, axis=1).ravel()
            rows = np.repeat(np.arange(m), width)
            cand = cand_cols.ravel() + start
        else:
            rows = flat // cols
            cand = flat - rows * cols + start
            vals = scores.ravel()[flat]
        _merge(best_val, best_idx, rows, cand, vals)
        full = best_idx[:, -1] >= 0
        threshold = np.where(full, best_val[:, -1], np.float32(-np.inf))
    return best_idx


def _first_threshold(scores: np.ndarray, width: int) -> np.ndarray:
    """Per row, a score that at least `width` entries of the row reach.

    Taken from a prefix of the tile so it costs a small partition; it is loose, which only
    lets more candidates through to the merge.
    """
    m, cols = scores.shape
    if cols <= width:
        return np.full(m, -np.inf, dtype=np.float32)
    prefix = min(cols, max(16 * width, 4096))
    kth = prefix - width
    return np.partition(scores[:, :prefix], kth, axis=1)[:, kth]


def _merge(
    best_val: np.ndarray,
    best_idx: np.ndarray,
    rows: np.ndarray,
    cand: np.ndarray,
    vals: np.ndarray,
) -> None:
    """Fold candidates (row, index, score) into each touched row's sorted best list."""
    width = best_val.shape[1]
    touched = np.unique(rows)
    local = np.searchsorted(touched, rows)
    n_touched = touched.size

    all_rows = np.concatenate([np.repeat(np.arange(n_touched), width), local])
    all_idx = np.concatenate([best_idx[touched].ravel(), cand])
    all_val = np.concatenate([best_val[touched].ravel(), vals])
    order = np.lexsort((-all_val, all_rows))

    # Every touched row brings its `width` current entries, so each row's first `width`
    # entries after the sort are its new best list.
    sorted_rows = all_rows[order]
    starts = np.searchsorted(sorted_rows, np.arange(n_touched))
    rank = np.arange(order.size) - starts[sorted_rows]
    keep = order[rank < width]
    best_val[touched] = all_val[keep].reshape(n_touched, width)
    best_idx[touched] = all_idx[keep].reshape(n_touched, width)
