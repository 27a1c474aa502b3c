"""Run the demo export and summarise the dataset it wrote."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq

from protea_pipelines import settings
from protea_pipelines.demo import demo_payload
from protea_pipelines.errors import ProteaError
from protea_pipelines.export_launch import launch_export


def next_free_name(base: str) -> str:
    """yeast-demo, then yeast-demo-2, -3 ...: a rerun of the demo never overwrites a dataset."""
    root = settings.datasets_dir()
    name, n = base, 1
    while (root / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def run_demo_export() -> str:
    """Export the demo through Dagster, fanned out unless PROTEA_EXPORT_MINIJOBS says otherwise."""
    os.environ.setdefault("PROTEA_EXPORT_MINIJOBS", "1")
    payload = demo_payload()
    payload["output_name"] = next_free_name(payload["output_name"])
    outcome = launch_export(payload)
    if outcome.status != "succeeded" or outcome.dataset_path is None:
        raise ProteaError(f"demo export {outcome.status}: {outcome.error} (job {outcome.job_id})")
    return summarise_dataset(Path(outcome.dataset_path), outcome.job_id)


def summarise_dataset(path: Path, job_id: str) -> str:
    manifest = json.loads((path / "manifest.json").read_text())
    lines = [f"dataset written to {path}", f"parent job {job_id}"]
    for split in ("train", "eval"):
        table = pq.read_table(path / f"{split}.parquet", columns=["snapshot_pair", "label"])
        frame = table.to_pandas()
        lines.append(
            f"{split}.parquet: {len(frame)} rows, "
            f"{int(frame['label'].sum())} positive, {int((frame['label'] == 0).sum())} negative"
        )
        for pair, group in frame.groupby("snapshot_pair", sort=False):
            lines.append(f"  {pair}: {len(group)} rows, {int(group['label'].sum())} positive")
    lines.append(f"schema_sha {manifest['schema_sha']}, backend {manifest['search_backend']}")
    return "\n".join(lines)
