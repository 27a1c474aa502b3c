"""KNN stage of a lineage pair: the K nearest reference proteins of every (query, aspect).

The result is a small table (aspect, protein_accession, rank, neighbour_accession, distance)
that the candidate stage turns into rows, and that later exports reuse.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from protea_pipelines.export.ground_truth import ASPECTS
from protea_pipelines.export.pair_inputs import PairInputs
from protea_pipelines.knn import KnnBackend, exact_neighbours

KNN_COLUMNS = ("aspect", "protein_accession", "rank", "neighbour_accession", "distance")


def search_pair_neighbours(inputs: PairInputs, backend: KnnBackend, k: int) -> pd.DataFrame:
    """Run one exact search per aspect; queries and pools are both sorted by accession."""
    frames = []
    vectors = inputs.embeddings.vectors
    index = inputs.embeddings.row_of
    for aspect in ASPECTS:
        queries = inputs.queries(aspect)
        pool = inputs.pools.get(aspect)
        if not queries or pool is None:
            continue
        query_rows = np.fromiter((index[a] for a in queries), dtype=np.int64, count=len(queries))
        pool_rows = np.fromiter(
            (index[a] for a in pool.accessions), dtype=np.int64, count=len(pool.accessions)
        )
        found = exact_neighbours(
            backend,
            np.ascontiguousarray(vectors[query_rows]),
            queries,
            np.ascontiguousarray(vectors[pool_rows]),
            pool.accessions,
            k,
        )
        frames.append(_long_table(aspect, queries, pool.accessions, found.indices, found.distances))
    if not frames:
        return empty_knn_table()
    return pd.concat(frames, ignore_index=True)


def _long_table(
    aspect: str,
    queries: list[str],
    refs: tuple[str, ...],
    indices: np.ndarray,
    distances: np.ndarray,
) -> pd.DataFrame:
    n_queries, width = indices.shape
    valid = indices >= 0
    query_of = np.repeat(np.arange(n_queries), width).reshape(n_queries, width)
    rank_of = np.tile(np.arange(1, width + 1), (n_queries, 1))
    ref_array = np.asarray(refs, dtype=object)
    query_array = np.asarray(queries, dtype=object)
    return pd.DataFrame(
        {
            "aspect": aspect,
            "protein_accession": query_array[query_of[valid]],
            "rank": rank_of[valid].astype(np.int64),
            "neighbour_accession": ref_array[indices[valid]],
            "distance": distances[valid].astype(np.float64),
        }
    )


def empty_knn_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "aspect": pd.Series([], dtype=object),
            "protein_accession": pd.Series([], dtype=object),
            "rank": pd.Series([], dtype=np.int64),
            "neighbour_accession": pd.Series([], dtype=object),
            "distance": pd.Series([], dtype=np.float64),
        }
    )
