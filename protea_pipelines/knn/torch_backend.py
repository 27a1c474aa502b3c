"""Exact top-n search with torch: chunked score tiles + `torch.topk`, on CUDA when there is one.

On CUDA the references are copied to the device once per call and tiles come from
`torch.mm`. On CPU the tiles come from numpy's matmul (OpenBLAS) writing into a buffer that
torch reads through `torch.from_numpy`, without a copy: on this project's 2-core AMD
machine the search with torch's own CPU sgemm (MKL) ran at about 56 % of the OpenBLAS sgemm
peak, against 83 % with OpenBLAS tiles.
The score buffer is bounded (`block_bytes`), tiling the references too when one block of
queries against all of them would not fit.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from protea_pipelines.errors import InputError
from protea_pipelines.knn.base import check_search_inputs, empty_result

DEVICES = ("auto", "cpu", "cuda")
DEFAULT_BLOCK_BYTES = 128 * 2**20
_MIN_BLOCK_QUERIES = 1024
_MAX_BLOCK_QUERIES = 4096


class TorchBackend:
    """`device`: "auto" (CUDA when available, else CPU), "cpu" or "cuda".

    torch is imported on first use, not here: importing it costs about 200 MB.
    """

    name = "torch"

    def __init__(self, device: str = "auto", block_bytes: int = DEFAULT_BLOCK_BYTES):
        if device not in DEVICES:
            raise InputError("device", device, "unsupported torch device", accepted=DEVICES)
        if block_bytes < 1:
            raise InputError("block_bytes", block_bytes, "must be at least 1")
        self.device = device
        self.block_bytes = int(block_bytes)

    def resolved_device(self) -> str:
        """The device searches run on; raises InputError when "cuda" is asked but absent."""
        import torch

        if self.device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if self.device == "cuda" and not torch.cuda.is_available():
            raise InputError("device", self.device, "CUDA is not available", accepted="cpu, auto")
        return self.device

    def top_candidates(self, queries: np.ndarray, refs: np.ndarray, n: int) -> np.ndarray:
        width = check_search_inputs(queries, refs, n)
        n_q, n_r = queries.shape[0], refs.shape[0]
        if n_q == 0 or width == 0:
            return empty_result(n_q, width)

        import torch

        device = torch.device(self.resolved_device())
        block_q, block_r = _plan(n_q, n_r, width, self.block_bytes)
        tile = (
            _cpu_tiles(queries, refs, block_q * block_r)
            if device.type == "cpu"
            else (_cuda_tiles(torch, queries, refs, block_q * block_r, device))
        )
        out = torch.empty((n_q, width), dtype=torch.int64, device=device)
        with _full_fp32_matmul(torch, device):
            for q0 in range(0, n_q, block_q):
                q1 = min(q0 + block_q, n_q)
                out[q0:q1] = _search_block(torch, tile, q0, q1, n_r, width, block_r)
        return np.ascontiguousarray(out.cpu().numpy(), dtype=np.int64)


Tiles = Callable[[int, int, int, int], Any]


def _cpu_tiles(queries: np.ndarray, refs: np.ndarray, size: int) -> Tiles:
    """Score tiles from OpenBLAS, in a numpy buffer that torch shares."""
    import torch

    buffer = np.empty(size, dtype=np.float32)
    shared = torch.from_numpy(buffer)

    def tile(q0: int, q1: int, r0: int, r1: int) -> Any:
        scores = buffer[: (q1 - q0) * (r1 - r0)].reshape(q1 - q0, r1 - r0)
        np.matmul(queries[q0:q1], refs[r0:r1].T, out=scores)
        return shared[: scores.size].view(q1 - q0, r1 - r0)

    return tile


def _cuda_tiles(torch: Any, queries: np.ndarray, refs: np.ndarray, size: int, device: Any) -> Tiles:
    """Score tiles from `torch.mm` on the device."""
    q_all = _as_tensor(queries).to(device)
    r_all = _as_tensor(refs).to(device)
    buffer = torch.empty(size, dtype=torch.float32, device=device)

    def tile(q0: int, q1: int, r0: int, r1: int) -> Any:
        scores = buffer[: (q1 - q0) * (r1 - r0)].view(q1 - q0, r1 - r0)
        torch.mm(q_all[q0:q1], r_all[r0:r1].T, out=scores)
        return scores

    return tile


def _plan(n_q: int, n_r: int, width: int, block_bytes: int) -> tuple[int, int]:
    """(queries, references) per tile so that the float32 score tile fits in block_bytes.

    All references in one tile when that still leaves a block of 1024 queries (BLAS runs
    below peak on thin blocks); otherwise 1024 queries against tiles of references,
    at least `width` wide so that each tile can fill a row.
    """
    fits = block_bytes // (4 * n_r)
    if fits >= min(n_q, _MIN_BLOCK_QUERIES):
        return max(1, min(n_q, fits, _MAX_BLOCK_QUERIES)), n_r
    block_q = max(1, min(n_q, _MIN_BLOCK_QUERIES))
    return block_q, min(n_r, max(width, block_bytes // (4 * block_q)))


def _search_block(
    torch: Any, tile: Tiles, q0: int, q1: int, n_r: int, width: int, block_r: int
) -> Any:
    """Indices of the `width` best references of each query in rows q0:q1."""
    best_val = best_idx = None
    for r0 in range(0, n_r, block_r):
        r1 = min(r0 + block_r, n_r)
        vals, idx = torch.topk(tile(q0, q1, r0, r1), min(width, r1 - r0), dim=1, sorted=False)
        idx += r0
        if best_val is None:
            best_val, best_idx = vals, idx
            continue
        # Fold this tile's best into the running best of each row.
        vals = torch.cat([best_val, vals], dim=1)
        idx = torch.cat([best_idx, idx], dim=1)
        best_val, pos = torch.topk(vals, width, dim=1, sorted=False)
        best_idx = torch.gather(idx, 1, pos)
    return best_idx


def _as_tensor(array: np.ndarray) -> Any:
    import torch

    with warnings.catch_warnings():
        # Read-only arrays (memory maps, h5py reads) warn that torch could write to them;
        # nothing here writes to the inputs.
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(array)


class _full_fp32_matmul:
    """Disable TF32 for the search on CUDA: its 10-bit mantissa would lose true neighbours.

    The setting is process-wide; the previous value is restored afterwards.
    """

    def __init__(self, torch: Any, device: Any) -> None:
        self.matmul = torch.backends.cuda.matmul if device.type == "cuda" else None
        self.saved = False

    def __enter__(self) -> None:
        if self.matmul is not None:
            self.saved = self.matmul.allow_tf32
            self.matmul.allow_tf32 = False

    def __exit__(self, *exc: object) -> None:
        if self.matmul is not None:
            self.matmul.allow_tf32 = self.saved
