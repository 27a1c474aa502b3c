"""The one canonical cosine similarity: stored vectors in float64, normalised, multiplied
elementwise and summed along the vector.

No BLAS here on purpose: a matmul's blocking (and so its rounding) can change with the batch
shape, the library and the CPU, while an elementwise product followed by numpy's pairwise sum
along the last, contiguous axis gives each (query, reference) pair the same bits wherever
and however it is computed.
"""

from __future__ import annotations

import numpy as np

from protea_pipelines.errors import InputError

# Bound on each float64 work array, so memory stays flat whatever the pool size.
WORK_BYTES = 32 * 2**20


def row_norms(vectors: np.ndarray, field: str, ids: list[str]) -> np.ndarray:
    """float64 L2 norm of every row; raises InputError naming the first unusable row."""
    n, d = vectors.shape
    norms = np.empty(n, dtype=np.float64)
    step = max(1, WORK_BYTES // (8 * max(d, 1)))
    for start in range(0, n, step):
        rows = vectors[start : start + step].astype(np.float64)
        norms[start : start + step] = np.sqrt((rows * rows).sum(axis=-1))

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
    return norms


def unit_rows(vectors: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """Rows in float64 divided by their norms (vectors (..., d), norms (...))."""
    return vectors.astype(np.float64) / norms[..., None]


def unit_float32(vectors: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """C-contiguous float32 unit rows: what a backend searches."""
    out = np.empty(vectors.shape, dtype=np.float32)
    step = max(1, WORK_BYTES // (8 * max(vectors.shape[1], 1)))
    for start in range(0, vectors.shape[0], step):
        stop = start + step
        out[start:stop] = unit_rows(vectors[start:stop], norms[start:stop])
    return out


def distances_to(unit_queries: np.ndarray, unit_refs: np.ndarray) -> np.ndarray:
    """1 - similarity, clipped at 0, for each query row against its reference rows.

    unit_queries (g, d) against unit_refs (g, m, d) gives (g, m); against (m, d), every
    query is compared with all m rows. Rounding can put the similarity of a vector with
    itself a hair above 1; the clip keeps distances non-negative.
    """
    if unit_refs.ndim == 2:
        unit_refs = unit_refs[None, :, :]
    sims = (unit_refs * unit_queries[:, None, :]).sum(axis=-1)
    return np.maximum(1.0 - sims, 0.0)


def distances_to_all(
    unit_queries: np.ndarray, ref_vectors: np.ndarray, ref_norms: np.ndarray
) -> np.ndarray:
    """(g, n_r) canonical distances of a few queries to the whole reference set."""
    g, d = unit_queries.shape
    n_r = ref_vectors.shape[0]
    out = np.empty((g, n_r), dtype=np.float64)
    step = max(1, WORK_BYTES // (8 * d * max(g, 1)))
    for start in range(0, n_r, step):
        stop = min(start + step, n_r)
        refs = unit_rows(ref_vectors[start:stop], ref_norms[start:stop])
        out[:, start:stop] = distances_to(unit_queries, refs)
    return out
