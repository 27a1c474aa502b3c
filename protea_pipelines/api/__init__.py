"""The HTTP API: launch exports and follow their parent jobs (FastAPI, served by uvicorn)."""
