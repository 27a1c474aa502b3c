"""Exact cosine KNN: interchangeable search backends and the canonical neighbour list.

Backends (`get_backend`) propose candidates by float32 inner product; `exact_neighbours`
turns the proposals into the same neighbours and distances whichever backend ran. Importing
this package imports neither faiss nor torch.
"""

from __future__ import annotations

from typing import Any

from protea_pipelines.errors import InputError
from protea_pipelines.knn.base import KnnBackend
from protea_pipelines.knn.canonical import Neighbours, exact_neighbours
from protea_pipelines.knn.faiss_backend import FaissBackend
from protea_pipelines.knn.numpy_backend import NumpyBackend
from protea_pipelines.knn.torch_backend import TorchBackend

BACKEND_NAMES = ("numpy", "faiss", "torch")

_BACKENDS: dict[str, Any] = {
    "numpy": NumpyBackend,
    "faiss": FaissBackend,
    "torch": TorchBackend,
}


def get_backend(name: str, **options: Any) -> KnnBackend:
    """The backend called `name` (exactly one of BACKEND_NAMES), built with `options`.

    Options: numpy takes `workers` and `block_bytes`; torch takes `device`
    ("auto", "cpu", "cuda") and `block_bytes`; faiss takes none.
    """
    factory = _BACKENDS.get(name) if isinstance(name, str) else None
    if factory is None:
        raise InputError(
            "search_backend", name, "unsupported search backend", accepted=BACKEND_NAMES
        )
    backend: KnnBackend = factory(**options)
    return backend


__all__ = [
    "BACKEND_NAMES",
    "FaissBackend",
    "KnnBackend",
    "Neighbours",
    "NumpyBackend",
    "TorchBackend",
    "exact_neighbours",
    "get_backend",
]
