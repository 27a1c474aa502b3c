"""exact_neighbours: the same neighbours and distances, bit for bit, whichever backend ran."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from protea_pipelines.errors import InputError
from protea_pipelines.knn import Neighbours, exact_neighbours, get_backend, similarity

BACKENDS = [
    ("numpy", {}),
    ("numpy", {"block_bytes": 30_000}),
    ("faiss", {}),
    ("torch", {"device": "cpu"}),
]
BACKEND_IDS = ["numpy", "numpy-small-tiles", "faiss", "torch"]


def accessions(prefix: str, n: int) -> list[str]:
    # A stride coprime with 10**5, so accession order differs from row order.
    return [f"{prefix}{(i * 7919) % 100_000:05d}" for i in range(n)]


def brute_force(queries, query_ids, refs, ref_ids, k) -> Neighbours:
    """Every pair scored with the canonical similarity, then sorted in Python."""
    q_norms, _ = similarity.normalise_rows(queries, "q", query_ids)
    r_norms, _ = similarity.normalise_rows(refs, "r", ref_ids)
    dist = similarity.distances_to_all(similarity.unit_rows(queries, q_norms), refs, r_norms)
    indices = np.full((len(query_ids), k), -1, dtype=np.int64)
    distances = np.full((len(query_ids), k), np.nan)
    counts = np.zeros(len(query_ids), dtype=np.int64)
    for q, qid in enumerate(query_ids):
        others = [j for j, rid in enumerate(ref_ids) if rid != qid]
        best = sorted(others, key=lambda j: (dist[q, j], ref_ids[j]))[:k]
        indices[q, : len(best)] = best
        distances[q, : len(best)] = dist[q, best]
        counts[q] = len(best)
    return Neighbours(indices, distances, counts)


def assert_same(a: Neighbours, b: Neighbours) -> None:
    assert np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.distances, b.distances, equal_nan=True)
    assert np.array_equal(a.counts, b.counts)


@pytest.fixture(scope="module")
def pool() -> dict:
    """ESM-like vectors (shared mean, families, noise; raw, not normalised) with exact
    duplicate references and queries that are, or copy, references."""
    rng = np.random.default_rng(11)
    d, n_ref = 24, 1500
    mean = 3.0 * rng.standard_normal(d)
    centres = rng.standard_normal((40, d))

    def draw(n: int) -> np.ndarray:
        rows = mean + centres[rng.integers(0, 40, n)] + 0.6 * rng.standard_normal((n, d))
        return (rows * rng.uniform(0.5, 4.0, (n, 1))).astype(np.float32)

    refs = draw(n_ref)
    refs[rng.choice(n_ref, 150, replace=False)] = refs[rng.choice(n_ref, 150, replace=False)]
    ref_ids = accessions("P", n_ref)
    own = rng.choice(n_ref, 40, replace=False)
    copies = rng.choice(n_ref, 10, replace=False)
    queries = np.concatenate([draw(150), refs[own], refs[copies] * np.float32(2.0)])
    query_ids = accessions("Q", 150) + [ref_ids[i] for i in own] + accessions("C", 10)
    return {
        "queries": queries,
        "query_ids": query_ids,
        "refs": refs,
        "ref_ids": ref_ids,
        "own": own,
        "copies": copies,
    }


@pytest.mark.parametrize("k", [1, 10, 37])
def test_every_backend_gives_the_brute_force_result(pool: dict, k: int) -> None:
    args = (pool["queries"], pool["query_ids"], pool["refs"], pool["ref_ids"], k)
    expected = brute_force(*args)

    for name, options in BACKENDS:
        assert_same(exact_neighbours(get_backend(name, **options), *args), expected)


def test_self_excluded_and_copies_found(pool: dict) -> None:
    got = exact_neighbours(
        get_backend("faiss"), pool["queries"], pool["query_ids"], pool["refs"], pool["ref_ids"], 5
    )

    for row, ref in enumerate(pool["own"], start=150):
        assert ref not in got.indices[row]
        assert pool["ref_ids"][ref] not in [pool["ref_ids"][j] for j in got.indices[row]]
    for row, ref in enumerate(pool["copies"], start=190):
        # Same direction at twice the length: distance 0 up to rounding, exactly as for the
        # reference's own duplicates, which the tie rule orders by accession.
        assert got.distances[row, 0] < 1e-15
        same = got.indices[row][got.distances[row] == got.distances[row, 0]]
        assert ref in same
        assert [pool["ref_ids"][j] for j in same] == sorted(pool["ref_ids"][j] for j in same)
    assert (np.diff(got.distances, axis=1) >= 0).all()
    assert (got.counts == 5).all()


def test_result_does_not_depend_on_the_query_batch(pool: dict) -> None:
    backend = get_backend("numpy")
    whole = exact_neighbours(
        backend, pool["queries"], pool["query_ids"], pool["refs"], pool["ref_ids"], 8
    )
    pick = np.array([199, 3, 170, 42])
    part = exact_neighbours(
        backend,
        pool["queries"][pick],
        [pool["query_ids"][i] for i in pick],
        pool["refs"],
        pool["ref_ids"],
        8,
    )

    assert np.array_equal(part.indices, whole.indices[pick])
    assert np.array_equal(part.distances, whole.distances[pick])


def tie_case(tied: int) -> tuple:
    """One query with 2 clear nearest references, then `tied` identical references at the
    k-th place, among 300 unrelated ones; tie members' accessions run backwards."""
    rng = np.random.default_rng(tied)
    d = 16
    query = rng.standard_normal(d)
    query /= np.linalg.norm(query)
    other = rng.standard_normal(d)
    other -= (other @ query) * query
    other /= np.linalg.norm(other)
    near = np.stack([query + 0.05 * other, query + 0.1 * other])
    tie = 0.9 * query + np.sqrt(1 - 0.81) * other
    far = rng.standard_normal((300, d))
    far -= np.outer(far @ query, query) * 1.1  # nothing else as close as the tie
    refs = np.concatenate([far[:150], near, np.repeat(tie[None], tied, axis=0), far[150:]])
    ref_ids = [f"F{i:04d}" for i in range(150)] + ["N0", "N1"]
    ref_ids += [f"T{tied - i:04d}" for i in range(tied)] + [f"F{i:04d}" for i in range(150, 300)]
    return query[None].astype(np.float32), ["QUERY"], refs.astype(np.float32), ref_ids


@pytest.mark.parametrize(("tied", "full_scans"), [(40, 0), (300, 1)])
def test_ties_beyond_the_margin_are_broken_by_accession(
    tied: int, full_scans: int, caplog: pytest.LogCaptureFixture
) -> None:
    queries, query_ids, refs, ref_ids = tie_case(tied)
    expected_ids = ["N0", "N1", "T0001", "T0002", "T0003"]
    results = []
    for name, options in BACKENDS:
        with caplog.at_level(logging.DEBUG, logger="protea_pipelines.knn.canonical"):
            caplog.clear()
            got = exact_neighbours(
                get_backend(name, **options), queries, query_ids, refs, ref_ids, 5
            )
        assert [ref_ids[j] for j in got.indices[0]] == expected_ids
        assert got.distances[0, 2] == got.distances[0, 3] == got.distances[0, 4]
        assert got.distances[0, 2] == pytest.approx(0.1, abs=1e-6)
        assert f"1 widened, {full_scans} scanned in full" in caplog.text
        results.append(got)
    for other in results[1:]:
        assert_same(other, results[0])


def test_pool_smaller_than_k_pads() -> None:
    refs = np.array([[1, 0, 0], [0, 2, 0], [1, 1, 0]], dtype=np.float32)
    queries = np.array([[0, 2, 0], [0, 0, 5]], dtype=np.float32)

    got = exact_neighbours(get_backend("numpy"), queries, ["B", "X"], refs, ["A", "B", "C"], 5)

    assert got.counts.tolist() == [2, 3]
    assert got.indices.tolist() == [[2, 0, -1, -1, -1], [0, 1, 2, -1, -1]]
    assert got.distances[0, 0] == pytest.approx(1 - np.sqrt(0.5))
    assert got.distances[0, 1] == 1.0
    assert np.isnan(got.distances[0, 2:]).all()
    # Orthogonal to all three: distance 1 everywhere, so accession order decides.
    assert got.distances[1, :3].tolist() == [1.0, 1.0, 1.0]
    assert list(got.rows()) == [
        (0, [(2, got.distances[0, 0]), (0, 1.0)]),
        (1, [(0, 1.0), (1, 1.0), (2, 1.0)]),
    ]


def test_empty_pool_and_no_queries() -> None:
    none = exact_neighbours(
        get_backend("faiss"),
        np.ones((2, 4), np.float32),
        ["a", "b"],
        np.empty((0, 4), np.float32),
        [],
        3,
    )
    assert none.counts.tolist() == [0, 0]
    assert (none.indices == -1).all()

    empty = exact_neighbours(
        get_backend("faiss"),
        np.empty((0, 4), np.float32),
        [],
        np.ones((2, 4), np.float32),
        ["a", "b"],
        3,
    )
    assert empty.indices.shape == (0, 3)
    assert list(empty.rows()) == []


def test_canonical_similarity_is_the_same_whatever_the_batch() -> None:
    rng = np.random.default_rng(12)
    refs = rng.standard_normal((2000, 320)).astype(np.float32)
    queries = rng.standard_normal((9, 320)).astype(np.float32)
    r_norms, r_unit32 = similarity.normalise_rows(refs, "r", [str(i) for i in range(2000)])
    q_norms, _ = similarity.normalise_rows(queries, "q", [str(i) for i in range(9)])
    unit_q = similarity.unit_rows(queries, q_norms)

    everything = similarity.distances_to_all(unit_q, refs, r_norms)
    cand = rng.integers(0, 2000, (9, 17))
    gathered = similarity.candidate_distances(unit_q, refs, r_norms, cand)
    single = similarity.candidate_distances(unit_q[4:5], refs, r_norms, np.array([[1234]]))
    one_norm, _ = similarity.normalise_rows(refs[1234:1235], "r", ["x"])

    assert np.array_equal(gathered, np.take_along_axis(everything, cand, axis=1))
    assert single[0, 0] == everything[4, 1234]
    assert one_norm[0] == r_norms[1234]
    unit64 = similarity.unit_rows(refs, r_norms)
    assert np.array_equal(r_unit32, unit64.astype(np.float32))
    assert np.abs(everything - (1 - unit_q @ unit64.T)).max() < 1e-12


def valid_inputs() -> dict:
    return {
        "backend": get_backend("numpy"),
        "query_vectors": np.ones((2, 8), np.float32),
        "query_ids": ["q1", "q2"],
        "ref_vectors": np.eye(16, dtype=np.float32)[:5],
        "ref_ids": ["R1", "R2", "R3", "R4", "R5"],
        "k": 3,
    }


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({}, "query_vectors", "query dimension 8 differs from reference dimension 16"),
        ({"k": 0}, "k", "k: must be an integer of at least 1 (got 0)"),
        ({"k": 2.0}, "k", "k: must be an integer of at least 1 (got 2.0)"),
        ({"query_ids": ["q1"]}, "query_ids", "needs one accession per vector row (2 rows)"),
        ({"ref_ids": ["R1", 2, "R3", "R4", "R5"]}, "ref_ids", "accessions must be strings"),
        ({"ref_vectors": np.eye(8, dtype=np.int64)[:5]}, "ref_vectors", "must hold floats"),
        ({"ref_vectors": np.ones(8, np.float32)}, "ref_vectors", "must be a 2-D array"),
    ],
)
def test_bad_inputs_raise_input_error(change: dict, field: str, message: str) -> None:
    inputs = valid_inputs()
    if field != "query_vectors":
        inputs["ref_vectors"] = np.eye(8, dtype=np.float32)[:5]
    inputs.update(change)

    with pytest.raises(InputError) as caught:
        exact_neighbours(**inputs)

    assert caught.value.field == field
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [(np.nan, "non-finite value"), (np.inf, "non-finite value"), (0.0, "zero vector")],
)
def test_unusable_vectors_name_the_accession(value: float, problem: str) -> None:
    inputs = valid_inputs()
    refs = np.eye(8, dtype=np.float32)[:5]
    refs[2] = 0.0
    refs[2, 1] = value
    inputs["ref_vectors"] = refs

    with pytest.raises(InputError) as caught:
        exact_neighbours(**inputs)

    assert caught.value.field == "ref_vectors"
    assert caught.value.value == "R3"
    assert problem in str(caught.value) and "(row 2)" in str(caught.value)
