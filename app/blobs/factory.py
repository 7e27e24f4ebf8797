"""Build the store the settings name."""

from __future__ import annotations

from pathlib import Path

from app.blobs.base import BlobStore
from app.blobs.local import FileStore
from app.config import Settings


def open_store(settings: Settings) -> BlobStore:
    url = settings.storage_url
    if url.startswith("file://"):
        # Bare `file://` is the data dir itself: installs from before object storage keep
        # their files where they are.
        rest = url.removeprefix("file://")
        return FileStore(Path(rest) if rest else settings.data_dir)
    if url.startswith("s3://"):
        from app.blobs.s3 import S3Store  # boto3 loads only when a bucket is in use

        return S3Store.from_settings(settings)
    raise ValueError(f"CURATOR_STORAGE_URL must start with file:// or s3://, not {url!r}")
