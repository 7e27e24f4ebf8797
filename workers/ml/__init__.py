"""Pure ML over arrays and files: no database, no Celery (checked by import-linter)."""
