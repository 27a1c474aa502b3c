"""The KNN search backend as a Dagster resource, so a run can switch it from the launchpad.

The heavy libraries (faiss, torch) are imported when a step builds the backend, not when the
code location loads: every step process imports this module.
"""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from protea_pipelines.knn import KnnBackend, get_backend


class SearchBackendResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    backend: str = Field(
        default="",
        description=(
            "numpy, faiss or torch; empty uses the payload's search_backend. Checked by the "
            "coordinator's pre-flight, so an unknown name fails before any child starts."
        ),
    )
    device: str = Field(
        default="auto",
        description="torch only: auto (CUDA when present), cpu or cuda.",
    )

    def effective_name(self, payload_backend: str) -> str:
        return self.backend or payload_backend

    def build(self, name: str) -> KnnBackend:
        if name == "torch":
            return get_backend(name, device=self.device)
        return get_backend(name)
