"""`s3://bucket/prefix`: blobs in any S3-compatible store, through boto3 (issue 15).

Placeholder: the storage helper fills this in.
"""

from __future__ import annotations

from app.config import Settings


class S3Store:
    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        raise NotImplementedError("s3:// storage is being built (issue 15)")
