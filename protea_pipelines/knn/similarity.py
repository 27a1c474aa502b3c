"""The one canonical cosine similarity: stored vectors in float64, normalised, multiplied
elementwise and summed along the vector.

No BLAS here on purpose: a matmul's blocking (and so its rounding) can change with the batch
shape, the library and the CPU, while an elementwise product followed by numpy's pairwise sum
along the last, contiguous axis gives each (query, reference) pair the same bits wherever
and however it is computed. Work arrays are kept to a few MB and reused: at this size the
passes stay in cache, and large temporaries would cost more in page faults than in arithmetic.
"""

from __future__ import annotations

import numpy as np

from protea_pipelines.errors import InputError

WORK_BYTES = 4 * 2**20


def normalise_rows(
    vectors: np.ndarray, field: str, ids: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(float64 L2 norms, C-contiguous float32 unit rows) in one pass over `vectors`.

    Raises InputError naming the first row that has no direction (zero, NaN, infinite).
    """
    n, d = vectors.shape
    norms = np.empty(n, dtype=np.float64)
    unit32 = np.empty((n, d), dtype=np.float32)
    step = _rows_per_block(d)
    rows_buf = np.empty(step * d, dtype=np.float64)
    squares_buf = np.empty(step * d, dtype=np.float64)
    for start in range(0, n, step):
        stop = min(start + step, n)
        rows = rows_buf[: (stop - start) * d].reshape(stop - start, d)
        squares = squares_buf[: rows.size].reshape(rows.shape)
        np.copyto(rows, vectors[start:stop])
        np.multiply(rows, rows, out=squares)
        block_norms = np.sqrt(squares.sum(axis=-1))
        norms[start:stop] = block_norms
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(rows, block_norms[:, None], out=rows)
        unit32[start:stop] = rows

    bad = ~np.isfinite(norms) | (norms == 0.0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        if not np.isfinite(vectors[first]).all():
            problem = "vector has a non-finite value"
        elif norms[first] == 0.0:
            problem = "zero vector has no direction (cannot be L2-normalised)"
        else:
            problem = "vector norm overflows float64"
        raise InputError(field, ids[first], f"{problem} (row {first})")
    return norms, unit32


def unit_rows(vectors: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """Rows in float64 divided by their norms (vectors (..., d), norms (...)); a new array."""
    out = vectors.astype(np.float64)
    np.divide(out, norms[..., None], out=out)
    return out


def candidate_distances(
    unit_queries: np.ndarray, refs: np.ndarray, ref_norms: np.ndarray, cand: np.ndarray
) -> np.ndarray:
    """(g, m) distances of each query row (g, d) to its own candidates cand (g, m)."""
    block = unit_rows(refs[cand], ref_norms[cand])
    np.multiply(block, unit_queries[:, None, :], out=block)
    return _distances(block.sum(axis=-1))


def distances_to_all(
    unit_queries: np.ndarray, refs: np.ndarray, ref_norms: np.ndarray
) -> np.ndarray:
    """(g, n_r) distances of a few query rows (g, d) to every reference."""
    g, d = unit_queries.shape
    n_r = refs.shape[0]
    out = np.empty((g, n_r), dtype=np.float64)
    step = max(1, _rows_per_block(d) // max(g, 1))
    product_buf = np.empty(g * step * d, dtype=np.float64)
    for start in range(0, n_r, step):
        stop = min(start + step, n_r)
        block = unit_rows(refs[start:stop], ref_norms[start:stop])
        product = product_buf[: g * block.size].reshape(g, stop - start, d)
        np.multiply(block[None, :, :], unit_queries[:, None, :], out=product)
        out[:, start:stop] = product.sum(axis=-1)
    return _distances(out)


def _distances(sims: np.ndarray) -> np.ndarray:
    # 1 - similarity, clipped at 0: rounding can put a vector's similarity with itself (or a
    # copy) a hair above 1.
    np.subtract(1.0, sims, out=sims)
    return np.maximum(sims, 0.0, out=sims)


def _rows_per_block(d: int) -> int:
    return max(1, WORK_BYTES // (8 * max(d, 1)))
