"""The K nearest references of each query, the same bits whichever backend searched.

A backend proposes the k + 1 + margin best references by float32 inner product (the one
extra for the query itself, which may be in the pool). Each proposal is then re-scored with
the canonical float64 similarity (`protea_pipelines.knn.similarity`), the query's own
accession is dropped, and the rest is ordered by (distance, accession) and cut at k.

A proposal can only miss a true neighbour that ties, or nearly ties, with the proposal's
worst candidate. So when that worst candidate is within TIE_TOLERANCE of the k-th kept
distance, the query is searched again with a wider proposal, and if that is still not
conclusive, re-scored against the whole pool.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from protea_pipelines.errors import InputError
from protea_pipelines.knn import similarity
from protea_pipelines.knn.base import KnnBackend

logger = logging.getLogger(__name__)

# Far above float32 rounding of a unit-vector dot product (about 1e-7 at dim 1280), far
# below the distance gaps between real neighbours.
TIE_TOLERANCE = 1e-5
WIDEN_FACTOR = 8
WIDEN_ROUNDS = 1
# Queries re-scored against the whole pool at once.
_FULL_SCAN_GROUP = 64


def candidate_margin(k: int) -> int:
    """Extra proposals beyond k + 1, so that near-ties at the k-th place rarely need more."""
    return max(8, k // 4)


@dataclass(frozen=True, eq=False)
class Neighbours:
    """Neighbours of each query, nearest first, ties broken by reference accession.

    indices (n_q, k) int64 into the references, -1 padded; distances (n_q, k) float64
    (1 - cosine similarity), NaN padded; counts (n_q,) int64 valid entries per row.
    """

    indices: np.ndarray
    distances: np.ndarray
    counts: np.ndarray

    def rows(self) -> Iterator[tuple[int, list[tuple[int, float]]]]:
        """(query index, [(reference index, distance), ...]) for every query, in order."""
        for q in range(self.indices.shape[0]):
            c = int(self.counts[q])
            pairs = zip(self.indices[q, :c].tolist(), self.distances[q, :c].tolist(), strict=True)
            yield q, list(pairs)


@dataclass(frozen=True)
class _Pool:
    """Validated inputs with what every step needs: norms, tie ranks and identity codes."""

    queries: np.ndarray
    refs: np.ndarray
    query_norms: np.ndarray
    ref_norms: np.ndarray
    unit_queries: np.ndarray
    unit_refs: np.ndarray
    ref_rank: np.ndarray
    query_code: np.ndarray
    ref_code: np.ndarray
    k: int


def exact_neighbours(
    backend: KnnBackend,
    query_vectors: np.ndarray,
    query_ids: Sequence[str],
    ref_vectors: np.ndarray,
    ref_ids: Sequence[str],
    k: int,
) -> Neighbours:
    """The k nearest references of every query by cosine distance, excluding its own accession.

    Vectors are the stored (raw, not normalised) embeddings, one row per accession. A pool
    with fewer than k other accessions gives fewer neighbours.
    """
    pool = _prepare(query_vectors, query_ids, ref_vectors, ref_ids, k)
    n_q, n_r = pool.queries.shape[0], pool.refs.shape[0]
    out = Neighbours(
        indices=np.full((n_q, k), -1, dtype=np.int64),
        distances=np.full((n_q, k), np.nan, dtype=np.float64),
        counts=np.zeros(n_q, dtype=np.int64),
    )
    if n_q == 0 or n_r == 0:
        return out

    unit_q, unit_r = pool.unit_queries, pool.unit_refs
    pending = np.arange(n_q)
    width = k + 1 + candidate_margin(k)
    widened = 0
    for round_ in range(1 + WIDEN_ROUNDS):
        if pending.size == 0:
            break
        if round_ > 0:
            widened += pending.size
        batch = unit_q if pending.size == n_q else unit_q[pending]
        proposal = backend.top_candidates(batch, unit_r, width)
        _check_proposal(backend, proposal, pending.size, min(width, n_r), n_r)
        pending = _rerank(pool, pending, proposal, out)
        width *= WIDEN_FACTOR

    for start in range(0, pending.size, _FULL_SCAN_GROUP):
        _full_scan(pool, pending[start : start + _FULL_SCAN_GROUP], out)
    logger.debug(
        "neighbours of %d queries in %d references: %d widened, %d scanned in full",
        n_q,
        n_r,
        widened,
        pending.size,
    )
    return out


def _prepare(
    query_vectors: np.ndarray,
    query_ids: Sequence[str],
    ref_vectors: np.ndarray,
    ref_ids: Sequence[str],
    k: int,
) -> _Pool:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise InputError("k", k, "must be an integer of at least 1")
    queries = _as_matrix(query_vectors, "query_vectors")
    refs = _as_matrix(ref_vectors, "ref_vectors")
    if queries.shape[1] != refs.shape[1]:
        raise InputError(
            "query_vectors",
            queries.shape,
            f"query dimension {queries.shape[1]} differs from reference dimension {refs.shape[1]}",
        )
    q_ids = _as_ids(query_ids, queries.shape[0], "query_ids")
    r_ids = _as_ids(ref_ids, refs.shape[0], "ref_ids")

    codes: dict[str, int] = {}
    ref_code = np.fromiter((codes.setdefault(a, len(codes)) for a in r_ids), np.int64, len(r_ids))
    query_code = np.fromiter((codes.get(a, -1) for a in q_ids), np.int64, len(q_ids))
    ref_rank = np.empty(len(r_ids), dtype=np.int64)
    if r_ids:
        ref_rank[np.argsort(np.asarray(r_ids, dtype=str), kind="stable")] = np.arange(len(r_ids))
    query_norms, unit_queries = similarity.normalise_rows(queries, "query_vectors", q_ids)
    ref_norms, unit_refs = similarity.normalise_rows(refs, "ref_vectors", r_ids)
    return _Pool(
        queries=queries,
        refs=refs,
        query_norms=query_norms,
        ref_norms=ref_norms,
        unit_queries=unit_queries,
        unit_refs=unit_refs,
        ref_rank=ref_rank,
        query_code=query_code,
        ref_code=ref_code,
        k=int(k),
    )


def _as_matrix(vectors: np.ndarray, field: str) -> np.ndarray:
    array = np.asarray(vectors)
    if array.ndim != 2:
        raise InputError(field, array.shape, "must be a 2-D array (one row per accession)")
    if array.dtype.kind != "f":
        raise InputError(field, str(array.dtype), "must hold floats", accepted="float32, float64")
    return array


def _as_ids(ids: Sequence[str], n: int, field: str) -> list[str]:
    values = list(ids)
    if len(values) != n:
        raise InputError(field, len(values), f"needs one accession per vector row ({n} rows)")
    for value in values:
        if not isinstance(value, str):
            raise InputError(field, value, "accessions must be strings")
    return values


def _check_proposal(
    backend: KnnBackend, proposal: np.ndarray, n_q: int, width: int, n_r: int
) -> None:
    # A backend that breaks its contract would silently change the dataset; fail instead.
    ok = (
        isinstance(proposal, np.ndarray)
        and proposal.shape == (n_q, width)
        and proposal.dtype == np.int64
        and (proposal.size == 0 or (proposal.min() >= 0 and proposal.max() < n_r))
    )
    if not ok:
        raise RuntimeError(
            f"search backend {backend.name!r} returned an invalid proposal "
            f"(expected int64 indices of shape {(n_q, width)} below {n_r})"
        )


def _rerank(pool: _Pool, rows: np.ndarray, proposal: np.ndarray, out: Neighbours) -> np.ndarray:
    """Re-score proposals and store the conclusive rows; return the query rows that are not."""
    k = pool.k
    n_r, d = pool.refs.shape
    width = proposal.shape[1]
    complete = width == n_r
    step = max(1, similarity.WORK_BYTES // (8 * d * width))
    unresolved = []
    for start in range(0, rows.size, step):
        q = rows[start : start + step]
        cand = proposal[start : start + step]
        unit_q = similarity.unit_rows(pool.queries[q], pool.query_norms[q])
        dist = similarity.candidate_distances(unit_q, pool.refs, pool.ref_norms, cand)

        worst = dist.max(axis=1)
        dist[pool.ref_code[cand] == pool.query_code[q][:, None]] = np.inf
        order = np.lexsort((pool.ref_rank[cand], dist), axis=1)[:, :k]
        best_dist = np.take_along_axis(dist, order, axis=1)
        best_idx = np.take_along_axis(cand, order, axis=1)
        if complete:
            done = np.ones(q.size, dtype=bool)
        elif best_dist.shape[1] < k:
            done = np.zeros(q.size, dtype=bool)
        else:
            # Anything not proposed scores at most the worst proposal in float32, so it can
            # only belong in the top k if the worst proposal nearly ties the k-th.
            done = worst > best_dist[:, k - 1] + TIE_TOLERANCE
        _store(out, q[done], best_idx[done], best_dist[done])
        unresolved.append(q[~done])
    return np.concatenate(unresolved) if unresolved else rows[:0]


def _full_scan(pool: _Pool, rows: np.ndarray, out: Neighbours) -> None:
    """Re-score a few queries against every reference, the same canonical way."""
    k = pool.k
    unit_q = similarity.unit_rows(pool.queries[rows], pool.query_norms[rows])
    dist = similarity.distances_to_all(unit_q, pool.refs, pool.ref_norms)
    dist[pool.ref_code[None, :] == pool.query_code[rows][:, None]] = np.inf
    for i, row in enumerate(dist):
        kept = min(k, int(np.isfinite(row).sum()))
        if kept == 0:
            _store(out, rows[i : i + 1], np.empty((1, 0), np.int64), np.empty((1, 0)))
            continue
        kth = np.partition(row, kept - 1)[kept - 1]
        near = np.flatnonzero(row <= kth)
        near = near[np.lexsort((pool.ref_rank[near], row[near]))[:kept]]
        _store(out, rows[i : i + 1], near[None, :], row[near][None, :])


def _store(out: Neighbours, q: np.ndarray, idx: np.ndarray, dist: np.ndarray) -> None:
    """Write rows sorted nearest first; infinite distances are excluded entries (self)."""
    if q.size == 0:
        return
    valid = np.isfinite(dist)
    width = idx.shape[1]
    out.indices[q, :width] = np.where(valid, idx, -1)
    out.distances[q, :width] = np.where(valid, dist, np.nan)
    out.counts[q] = valid.sum(axis=1)
