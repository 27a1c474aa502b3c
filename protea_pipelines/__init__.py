"""protea-pipelines: export GO-term re-ranking datasets from protein embeddings."""

__version__ = "0.1.0"
