"""Each KNN backend's raw top-n search against a float64 brute force, and their input checks."""

from __future__ import annotations

import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest

from protea_pipelines.errors import InputError
from protea_pipelines.knn import BACKEND_NAMES, KnnBackend, get_backend


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


# (name, options): the defaults, plus small tiles that force the multi-tile merge paths.
BACKENDS = [
    ("numpy", {}),
    ("numpy", {"block_bytes": 200_000}),
    ("numpy", {"block_bytes": 20_000, "workers": 2}),
    ("numpy", {"workers": 1}),
    ("faiss", {}),
    ("torch", {"device": "cpu"}),
    ("torch", {"device": "cpu", "block_bytes": 20_000}),
    pytest.param(
        "torch",
        {"device": "cuda"},
        marks=pytest.mark.skipif(not _cuda_available(), reason="needs a CUDA device"),
    ),
]
BACKEND_IDS = [
    "numpy",
    "numpy-tiles",
    "numpy-tiny-tiles",
    "numpy-1-worker",
    "faiss",
    "torch-cpu",
    "torch-cpu-tiles",
    "torch-cuda",
]

# (n_queries, n_refs, dim, n): includes n > n_refs and a single reference.
SHAPES = [
    (37, 500, 16, 5),
    (120, 2000, 48, 50),
    (300, 1500, 24, 64),
    (1, 700, 32, 1),
    (6, 10, 8, 20),
    (7, 1, 8, 3),
]


def unit_rows(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d))
    return np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)


def assert_top_n(queries: np.ndarray, refs: np.ndarray, found: np.ndarray, n: int) -> None:
    """Rows are n distinct references none of which is beaten by more than float32 rounding;
    where the float64 n-th and (n+1)-th scores are clearly apart, the set is exactly right."""
    width = min(n, refs.shape[0])
    assert found.shape == (queries.shape[0], width)
    assert found.dtype == np.int64
    assert found.min() >= 0 and found.max() < refs.shape[0]
    exact = queries.astype(np.float64) @ refs.astype(np.float64).T
    ranked = np.sort(exact, axis=1)[:, ::-1]
    got = np.take_along_axis(exact, found, axis=1)
    assert (got >= ranked[:, width - 1, None] - 1e-5).all()
    for q, row in enumerate(found):
        assert np.unique(row).size == width
        if width == refs.shape[0] or ranked[q, width - 1] - ranked[q, width] > 1e-4:
            assert set(row.tolist()) == set(np.argsort(-exact[q])[:width].tolist())


@pytest.mark.parametrize(("name", "options"), BACKENDS, ids=BACKEND_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "q{}-r{}-d{}-n{}".format(*s))
def test_top_candidates_match_brute_force(name: str, options: dict, shape: tuple) -> None:
    n_q, n_r, d, n = shape
    rng = np.random.default_rng(n_q * 1000 + n_r)
    queries, refs = unit_rows(rng, n_q, d), unit_rows(rng, n_r, d)

    found = get_backend(name, **options).top_candidates(queries, refs, n)

    assert_top_n(queries, refs, found, n)


@pytest.mark.parametrize(("name", "options"), BACKENDS, ids=BACKEND_IDS)
def test_all_tied_references_give_distinct_indices(name: str, options: dict) -> None:
    rng = np.random.default_rng(3)
    queries = unit_rows(rng, 40, 16)
    refs = np.ascontiguousarray(np.repeat(unit_rows(rng, 1, 16), 300, axis=0))

    found = get_backend(name, **options).top_candidates(queries, refs, 7)

    assert found.shape == (40, 7)
    assert all(np.unique(row).size == 7 for row in found)


@pytest.mark.parametrize(("name", "options"), BACKENDS, ids=BACKEND_IDS)
def test_references_improving_along_the_pool(name: str, options: dict) -> None:
    # Every tile beats the previous one: the numpy pruning lets almost everything through.
    rng = np.random.default_rng(4)
    queries = unit_rows(rng, 50, 12)
    refs = unit_rows(rng, 3000, 12)
    refs = np.ascontiguousarray(refs[np.argsort(refs @ queries.mean(axis=0))])

    found = get_backend(name, **options).top_candidates(queries, refs, 9)

    assert_top_n(queries, refs, found, 9)


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_empty_inputs_give_empty_results(name: str) -> None:
    rng = np.random.default_rng(5)
    backend = get_backend(name)

    assert backend.top_candidates(unit_rows(rng, 0, 8), unit_rows(rng, 30, 8), 4).shape == (0, 4)
    assert backend.top_candidates(unit_rows(rng, 3, 8), unit_rows(rng, 0, 8), 4).shape == (3, 0)


def test_get_backend_names_and_types() -> None:
    assert BACKEND_NAMES == ("numpy", "faiss", "torch")
    for name in BACKEND_NAMES:
        backend = get_backend(name)
        assert backend.name == name
        assert isinstance(backend, KnnBackend)


@pytest.mark.parametrize("bad", ["FAISS", "Numpy", "", "annoy", None])
def test_get_backend_rejects_unknown_names(bad: object) -> None:
    with pytest.raises(InputError) as caught:
        get_backend(bad)  # type: ignore[arg-type]

    assert caught.value.field == "search_backend"
    assert caught.value.value == bad
    assert str(caught.value) == (
        f"search_backend: unsupported search backend (got {bad!r}); accepted: numpy, faiss, torch"
    )


@pytest.mark.parametrize("name", BACKEND_NAMES)
def test_top_candidates_rejects_bad_inputs(name: str) -> None:
    rng = np.random.default_rng(6)
    backend = get_backend(name)
    queries, refs = unit_rows(rng, 4, 8), unit_rows(rng, 20, 8)

    with pytest.raises(InputError, match="query dimension 6 differs from reference dimension 8"):
        backend.top_candidates(np.ascontiguousarray(queries[:, :6]), refs, 3)
    with pytest.raises(InputError, match=r"queries: must be float32 \(got 'float64'\)"):
        backend.top_candidates(queries.astype(np.float64), refs, 3)
    with pytest.raises(InputError, match="refs: must be C-contiguous"):
        backend.top_candidates(queries, np.asfortranarray(refs), 3)
    with pytest.raises(InputError, match=r"n: must be an integer of at least 1 \(got 0\)"):
        backend.top_candidates(queries, refs, 0)


def test_torch_device_option() -> None:
    with pytest.raises(InputError, match=r"device: unsupported torch device \(got 'tpu'\)"):
        get_backend("torch", device="tpu")

    import torch

    backend: Any = get_backend("torch", device="cpu")
    assert backend.resolved_device() == "cpu"
    auto = get_backend("torch").resolved_device()  # type: ignore[attr-defined]
    assert auto == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        rng = np.random.default_rng(7)
        with pytest.raises(InputError, match="CUDA is not available"):
            get_backend("torch", device="cuda").top_candidates(
                unit_rows(rng, 2, 4), unit_rows(rng, 5, 4), 2
            )


def test_read_only_inputs_are_searched_without_warnings() -> None:
    rng = np.random.default_rng(8)
    queries, refs = unit_rows(rng, 5, 8), unit_rows(rng, 50, 8)
    queries.flags.writeable = False
    refs.flags.writeable = False

    for name in BACKEND_NAMES:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            found = get_backend(name).top_candidates(queries, refs, 4)
        assert_top_n(queries, refs, found, 4)


def test_importing_the_package_loads_neither_faiss_nor_torch() -> None:
    code = (
        "import sys, protea_pipelines.knn as knn; knn.get_backend('torch'); "
        "knn.get_backend('faiss'); print('torch' in sys.modules, 'faiss' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert done.stdout.split() == ["False", "False"]


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("numpy", {"workers": 0}, r"workers: must be at least 1 \(got 0\)"),
        ("numpy", {"block_bytes": 0}, r"block_bytes: must be at least 1 \(got 0\)"),
        ("torch", {"block_bytes": -5}, r"block_bytes: must be at least 1 \(got -5\)"),
    ],
)
def test_backend_options_are_checked(name: str, options: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        get_backend(name, **options)


def test_unknown_options_are_a_programming_error() -> None:
    with pytest.raises(TypeError):
        get_backend("faiss", device="cpu")
