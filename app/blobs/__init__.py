"""Where files live: the data dir (`file://`, the default) or an S3-compatible bucket.

Every file Curator keeps outside the database (originals, thumbnails, display renditions,
embedding shards, exported models, maps, saliency maps, backups) is a *blob* named by a
key: a relative POSIX path such as ``images/ab/cd/<sha256>`` or ``models/12/model.onnx``.
The database holds only keys. On ``file://`` a key is a path under the data dir, so an
install from before object storage reads the same files at the same places.

`open_store(settings)` is the one way in; callers never branch on the scheme. Workers
that need a real path (PIL, torch, numpy memmaps) go through `app.blobs.cache`.
"""

from __future__ import annotations

from app.blobs.base import BlobInfo, BlobStore, StoreUnavailable, check_key
from app.blobs.factory import open_store

__all__ = ["BlobInfo", "BlobStore", "StoreUnavailable", "check_key", "open_store"]
