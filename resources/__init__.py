"""Dagster resources of the export (installed as protea_pipelines.resources)."""
