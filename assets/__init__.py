"""Dagster definitions of the export (installed as protea_pipelines.assets)."""
