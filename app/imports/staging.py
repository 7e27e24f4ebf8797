"""A background import's staged files, kept in the blob store under ``staging/<batch id>/``.

The web stages the upload and any worker plans and imports it: with an s3:// store the
two share no disk, so the staged files live where the images do. On the default file://
store the keys are today's paths (``<data dir>/staging/<id>/...``) and the upload is
written straight into place, as before.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

from app.blobs import BlobStore, StoreUnavailable

log = logging.getLogger(__name__)


def key(batch_id: int, name: str = "") -> str:
    return f"staging/{batch_id}/{name}" if name else f"staging/{batch_id}"


def stage(store: BlobStore, batch_id: int, name: str, source: BinaryIO) -> None:
    """Copy a stream (an upload, read by chunks) under the batch's staging."""
    k = key(batch_id, name)
    local = store.local_path(k)
    if local is not None:
        local.parent.mkdir(parents=True, exist_ok=True)
        with local.open("wb") as out:
            shutil.copyfileobj(source, out, 2**20)
        return
    with tempfile.NamedTemporaryFile(prefix="curator-stage-") as tmp:
        shutil.copyfileobj(source, tmp, 2**20)
        tmp.flush()
        store.put_file(k, Path(tmp.name))


@contextmanager
def opened(store: BlobStore, batch_id: int, name: str) -> Iterator[BinaryIO]:
    """A staged file, seekable (zips need it): the file itself, or a local copy of it."""
    k = key(batch_id, name)
    local = store.local_path(k)
    if local is not None:
        with local.open("rb") as f:
            yield f
        return
    with tempfile.TemporaryDirectory(prefix="curator-stage-") as folder:
        copy = Path(folder) / "staged"
        store.download(k, copy)
        with copy.open("rb") as f:
            yield f


def clear(store: BlobStore, batch_id: int) -> None:
    """Remove the batch's staging; a store that is down leaves it for `curator gc`."""
    local = store.local_path(key(batch_id))
    if local is not None:
        shutil.rmtree(local, ignore_errors=True)
        return
    with suppress(StoreUnavailable):
        for blob in list(store.list(key(batch_id) + "/")):
            store.delete(blob.key)
        return
    log.warning("import %s: staged files left in %s (the store is down)", batch_id, store.url)
