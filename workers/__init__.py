"""Celery workers: ingest (CPU) and ml (GPU when present)."""
