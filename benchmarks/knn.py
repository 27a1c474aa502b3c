"""Benchmark of the exact KNN backends against this machine's own sgemm peak.

Prints one JSON line per (backend, dim, n_query, k) case, each run in its own subprocess so
peak RSS is per case, then a summary table on stderr saying which bars pass:
at dim 1280 faiss >= 90 %, torch >= 80 %, numpy >= 60 % of sgemm; at dim 320 faiss >= 80 %;
every search within 512 MB over its loaded data. One extra "canonical" line times
`exact_neighbours` (search plus float64 re-rank) for one case.

    .venv/bin/python benchmarks/knn.py [--quick] [--cases 'faiss/*,numpy/d320/*'] [--output F]
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

BACKENDS = ("numpy", "faiss", "torch")
DIMS = (1280, 320)
KS = (5, 50)


@dataclass(frozen=True)
class Sizes:
    n_ref: int
    n_queries: tuple[int, ...]
    families: int


FULL = Sizes(n_ref=100_000, n_queries=(1_000, 10_000), families=2_000)
QUICK = Sizes(n_ref=5_000, n_queries=(100, 500), families=200)
CANONICAL_CASE = {"backend": "faiss", "dim": 1280, "n_query": 1_000, "k": 50}
# (dim, backend) -> minimum % of sgemm; the memory bar applies to every raw case.
BARS = {(1280, "faiss"): 90.0, (1280, "torch"): 80.0, (1280, "numpy"): 60.0, (320, "faiss"): 80.0}
EXTRA_RSS_BAR_MB = 512.0
TIE_TOLERANCE = 1e-5
CHECKED_QUERIES = 64


# ---------------------------------------------------------------- synthetic data


def make_embeddings(
    rng: np.random.Generator, centres: np.ndarray, scale: np.ndarray, mean: np.ndarray, n: int
) -> np.ndarray:
    """ESM-like rows: common mean + a family centre + anisotropic noise, L2-normalised.

    The mean carries 90 % of the energy, so unrelated pairs have cosine about 0.9 and members
    of one family about 0.96, as mean-pooled ESM2 embeddings do.
    """
    out = np.empty((n, mean.size), dtype=np.float32)
    step = 8192
    for start in range(0, n, step):
        m = min(step, n - start)
        family = rng.integers(0, centres.shape[0], m)
        noise = rng.standard_normal((m, mean.size), dtype=np.float32) * scale
        rows = mean + centres[family] + np.float32(np.sqrt(0.34)) * noise
        out[start : start + m] = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return out


def generate(dim: int, n_ref: int, n_query: int, families: int, path: str) -> None:
    rng = np.random.default_rng(20240 + dim)
    scale = np.exp(0.5 * rng.standard_normal(dim)).astype(np.float32)
    scale /= np.linalg.norm(scale)
    mean = rng.standard_normal(dim).astype(np.float32)
    mean *= 3.0 / np.linalg.norm(mean)
    centres = np.float32(np.sqrt(0.66)) * rng.standard_normal((families, dim), np.float32) * scale
    refs = make_embeddings(rng, centres, scale, mean, n_ref)
    # 0.5 % exact duplicate rows, so exact ties exist as they do between identical sequences.
    n_dup = n_ref // 200
    refs[rng.choice(n_ref, n_dup, replace=False)] = refs[rng.choice(n_ref, n_dup, replace=False)]
    queries = make_embeddings(rng, centres, scale, mean, n_query)
    np.save(Path(path) / f"refs_{dim}.npy", refs)
    np.save(Path(path) / f"queries_{dim}.npy", queries)


# ---------------------------------------------------------------- measurements


def proc_status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def reset_peak_rss() -> None:
    # "5" resets VmHWM to the current RSS (Linux >= 4.0).
    Path("/proc/self/clear_refs").write_text("5")


def busy_jiffies() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields[:8]) - idle, sum(fields[:8])


def wait_for_quiet(limit_s: float = 60.0) -> None:
    """Wait (at most limit_s) for a half second in which the machine is nearly idle: the
    machine is shared, and a run next to someone else's job measures the job, not us."""
    deadline = time.monotonic() + limit_s
    ticks = os.sysconf("SC_CLK_TCK")
    while time.monotonic() < deadline:
        busy0, _ = busy_jiffies()
        time.sleep(0.5)
        busy1, _ = busy_jiffies()
        if (busy1 - busy0) / ticks / (0.5 * (os.cpu_count() or 1)) < 0.10:
            return


def timed(fn: Any) -> tuple[float, float]:
    """(seconds, share of the machine's CPU used by other processes meanwhile)."""
    wait_for_quiet()
    ticks = os.sysconf("SC_CLK_TCK")
    busy0, _ = busy_jiffies()
    own0 = sum(os.times()[:2])
    t0 = time.perf_counter()
    fn()
    seconds = time.perf_counter() - t0
    busy1, _ = busy_jiffies()
    own = sum(os.times()[:2]) - own0
    foreign = ((busy1 - busy0) / ticks - own) / (seconds * (os.cpu_count() or 1))
    return seconds, max(0.0, foreign)


def best_of(fn: Any) -> tuple[float, list[float], float]:
    """Best time over a few runs: 3 under 6 s, 2 under 20 s, else 1.

    A run of at least half a second during which other processes took 10 % of the CPU is
    repeated, at most twice per case (shorter runs are below the jiffy resolution).
    """
    runs: list[tuple[float, float]] = []
    retries = 0
    wanted = 1
    while len(runs) - retries < wanted:
        seconds, foreign = timed(fn)
        runs.append((seconds, foreign))
        if len(runs) == 1:
            wanted = 3 if seconds < 6 else 2 if seconds < 20 else 1
        if foreign >= 0.10 and seconds >= 0.5 and retries < 2:
            retries += 1
    best = min(runs)
    return best[0], [round(r[0], 4) for r in runs], best[1]


def sgemm_gflops() -> float:
    a = np.random.default_rng(0).standard_normal((4096, 4096), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((4096, 4096), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    best = min(timed(lambda: np.matmul(a, b, out=out))[0] for _ in range(3))
    return 2 * 4096**3 / best / 1e9


def tie_ok(queries: np.ndarray, refs: np.ndarray, found: np.ndarray, k: int) -> float:
    """Share of checked queries whose k results are distinct and all within tolerance of
    the float64 k-th best score."""
    step = max(1, queries.shape[0] // CHECKED_QUERIES)
    rows = np.arange(0, queries.shape[0], step)[:CHECKED_QUERIES]
    exact = queries[rows].astype(np.float64) @ refs.astype(np.float64).T
    kth = -np.partition(-exact, k - 1, axis=1)[:, k - 1]
    got = np.take_along_axis(exact, found[rows], axis=1)
    distinct = np.array([np.unique(r).size == k for r in found[rows]])
    return float(np.mean(distinct & (got >= kth[:, None] - TIE_TOLERANCE).all(axis=1)))


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    from protea_pipelines.knn import exact_neighbours, get_backend

    backend = get_backend(spec["backend"])
    device = "cpu"
    # Import the library before loading, so its own memory is not counted as search memory.
    if spec["backend"] == "torch":
        device = backend.resolved_device()
    elif spec["backend"] == "faiss":
        import faiss  # noqa: F401

    data = Path(spec["data_dir"])
    refs = np.load(data / f"refs_{spec['dim']}.npy")[: spec["n_ref"]]
    queries = np.ascontiguousarray(np.load(data / f"queries_{spec['dim']}.npy")[: spec["n_query"]])
    k = spec["k"]
    rss_loaded = proc_status_mb("VmRSS")
    reset_peak_rss()

    backend.top_candidates(queries[:256], refs, k)
    result: dict[str, Any] = {}
    if spec["mode"] == "canonical":
        ids_q = [f"Q{i:07d}" for i in range(queries.shape[0])]
        ids_r = [f"R{i:07d}" for i in range(refs.shape[0])]
        seconds, runs, foreign = best_of(
            lambda: exact_neighbours(backend, queries, ids_q, refs, ids_r, k)
        )
        raw, _, _ = best_of(lambda: backend.top_candidates(queries, refs, k + 1 + max(8, k // 4)))
        result |= {"search_seconds": round(raw, 4), "rerank_seconds": round(seconds - raw, 4)}
    else:
        found: list[np.ndarray] = []

        def search() -> None:
            found[:] = [backend.top_candidates(queries, refs, k)]

        seconds, runs, foreign = best_of(search)
    peak = proc_status_mb("VmHWM")
    if spec["mode"] == "raw":
        result["tie_ok"] = tie_ok(queries, refs, found[0], k)

    flop = 2.0 * spec["n_query"] * spec["n_ref"] * spec["dim"]
    return {
        "backend": spec["backend"],
        "mode": spec["mode"],
        "device": device,
        "dim": spec["dim"],
        "n_ref": spec["n_ref"],
        "n_query": spec["n_query"],
        "k": k,
        "seconds": round(seconds, 4),
        "runs": runs,
        "foreign_cpu": round(foreign, 3),
        "gflops": round(flop / seconds / 1e9, 1),
        "rss_loaded_mb": round(rss_loaded, 1),
        "peak_rss_mb": round(peak, 1),
        "extra_rss_mb": round(peak - rss_loaded, 1),
        **result,
    }


# ---------------------------------------------------------------- driver


def in_subprocess(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip().splitlines()[-1]


def case_specs(quick: bool, data_dir: str) -> list[dict[str, Any]]:
    sizes = QUICK if quick else FULL
    specs = []
    for backend in BACKENDS:
        for dim in DIMS:
            for n_query in sizes.n_queries:
                for k in KS:
                    specs.append(
                        {
                            "mode": "raw",
                            "backend": backend,
                            "dim": dim,
                            "k": k,
                            "n_query": n_query,
                            "n_ref": sizes.n_ref,
                        }
                    )
    canonical = dict(CANONICAL_CASE, mode="canonical", n_ref=sizes.n_ref)
    canonical["n_query"] = min(canonical["n_query"], max(sizes.n_queries))
    specs.append(canonical)
    for spec in specs:
        spec["data_dir"] = data_dir
    return specs


def case_id(spec: dict[str, Any]) -> str:
    prefix = "canonical/" if spec["mode"] == "canonical" else ""
    return f"{prefix}{spec['backend']}/d{spec['dim']}/q{spec['n_query']}/k{spec['k']}"


def bar_verdict(line: dict[str, Any], quick: bool) -> tuple[str, bool]:
    if quick or line["mode"] != "raw":
        return "-", True
    need = BARS.get((line["dim"], line["backend"]))
    ok_speed = need is None or line["pct_of_sgemm"] >= need
    ok_mem = line["extra_rss_mb"] <= EXTRA_RSS_BAR_MB
    text = (f">={need:.0f}% " if need else "") + f"<={EXTRA_RSS_BAR_MB:.0f}MB"
    return f"{text} {'PASS' if ok_speed and ok_mem else 'FAIL'}", ok_speed and ok_mem


def summary(lines: list[dict[str, Any]], quick: bool, sgemm: list[float]) -> bool:
    err = sys.stderr
    print(
        f"\nsgemm 4096^3 best of 3: start {sgemm[0]:.1f}, end {sgemm[1]:.1f} GFLOP/s "
        f"(the higher is 100 %)",
        file=err,
    )
    head = f"{'case':30} {'seconds':>8} {'GFLOP/s':>8} {'%sgemm':>7} {'extraMB':>8} {'tie_ok':>6}"
    print(head + "  bar", file=err)
    all_ok = True
    for line in lines:
        verdict, ok = bar_verdict(line, quick)
        all_ok &= ok
        tie = f"{line['tie_ok']:.3f}" if "tie_ok" in line else "-"
        print(
            f"{case_id(line):30} {line['seconds']:8.3f} {line['gflops']:8.1f} "
            f"{line['pct_of_sgemm']:6.1f}% {line['extra_rss_mb']:8.1f} {tie:>6}  {verdict}",
            file=err,
        )
        if line["mode"] == "canonical":
            print(
                f"{'':30} search {line['search_seconds']:.3f} s + float64 re-rank "
                f"{line['rerank_seconds']:.3f} s",
                file=err,
            )
    if not quick:
        print(f"bars: {'ALL PASS' if all_ok else 'SOME FAIL'}", file=err)
    return all_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--cases",
        default="*",
        help="comma-separated glob patterns on ids like faiss/d1280/q1000/k5",
    )
    parser.add_argument("--output", type=Path, help="also write the JSON lines to this file")
    parser.add_argument("--data-dir", type=Path, help="reuse or keep the generated data here")
    parser.add_argument("--_case", help=argparse.SUPPRESS)
    parser.add_argument("--_generate", help=argparse.SUPPRESS)
    parser.add_argument("--_sgemm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._case:
        print(json.dumps(run_case(json.loads(args._case))))
        return 0
    if args._generate:
        generate(**json.loads(args._generate))
        print("{}")
        return 0
    if args._sgemm:
        print(json.dumps(sgemm_gflops()))
        return 0

    with tempfile.TemporaryDirectory(prefix="knn-bench-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        data_dir.mkdir(parents=True, exist_ok=True)
        patterns = [p.strip() for p in args.cases.split(",") if p.strip()]
        specs = [
            s
            for s in case_specs(args.quick, str(data_dir))
            if any(fnmatch.fnmatch(case_id(s), p) for p in patterns)
        ]
        sizes = QUICK if args.quick else FULL
        for dim in sorted({s["dim"] for s in specs}):
            if not (data_dir / f"refs_{dim}.npy").exists():
                in_subprocess(
                    "--_generate",
                    json.dumps(
                        {
                            "dim": dim,
                            "n_ref": sizes.n_ref,
                            "families": sizes.families,
                            "n_query": max(sizes.n_queries),
                            "path": str(data_dir),
                        }
                    ),
                )

        sgemm = [float(in_subprocess("--_sgemm"))]
        raw_lines = []
        for spec in specs:
            raw_lines.append(json.loads(in_subprocess("--_case", json.dumps(spec))))
            print(f"done {case_id(spec)}: {raw_lines[-1]['seconds']:.3f} s", file=sys.stderr)
        sgemm.append(float(in_subprocess("--_sgemm")))
        peak = max(sgemm)
        lines = []
        out = args.output.open("w") if args.output else None
        for line in raw_lines:
            line["sgemm_gflops"] = round(peak, 1)
            line["pct_of_sgemm"] = round(100.0 * line["gflops"] / peak, 1)
            lines.append(line)
            text = json.dumps(line)
            print(text, flush=True)
            if out:
                out.write(text + "\n")
        if out:
            out.close()
    return 0 if summary(lines, args.quick, sgemm) else 1


if __name__ == "__main__":
    sys.exit(main())
