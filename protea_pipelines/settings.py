"""Where the project keeps its state: PROTEA_HOME, the database URL and DAGSTER_HOME.

Everything is read from the environment at call time, so tests and the Dagster code server can
point a process at another home without re-importing modules.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = ".protea"


def protea_home() -> Path:
    """The root of the embedded store; `.protea` in the working directory unless set."""
    return Path(os.environ.get("PROTEA_HOME", DEFAULT_HOME)).expanduser().resolve()


def database_url() -> str:
    """PROTEA_DATABASE_URL when set, else a SQLite file under PROTEA_HOME."""
    url = os.environ.get("PROTEA_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{protea_home() / 'protea.db'}"


def embeddings_dir() -> Path:
    return protea_home() / "embeddings"


def datasets_dir() -> Path:
    return protea_home() / "datasets"


def knn_results_dir() -> Path:
    """Per-version KNN results, reused by later exports with the same inputs."""
    return protea_home() / "knn"


def dagster_home() -> Path:
    """DAGSTER_HOME when set, else `dagster/` inside PROTEA_HOME."""
    value = os.environ.get("DAGSTER_HOME")
    return Path(value).resolve() if value else protea_home() / "dagster"
