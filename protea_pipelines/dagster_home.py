"""The Dagster instance of this PROTEA_HOME: DAGSTER_HOME, with the project's dagster.yaml."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from protea_pipelines import settings

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTANCE_CONFIG = REPO_ROOT / "dagster.yaml"


def ensure_dagster_home() -> Path:
    """Set DAGSTER_HOME (PROTEA_HOME/dagster unless set) and give it a dagster.yaml."""
    home = settings.dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    target = home / "dagster.yaml"
    if not target.exists() and INSTANCE_CONFIG.exists():
        shutil.copyfile(INSTANCE_CONFIG, target)
    return home
