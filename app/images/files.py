"""Stored files as HTTP responses: the bytes (with Range), or a presigned redirect.

Callers check access first; everything here only answers for a key already allowed.
Keys are content-addressed, so the content under one never changes: an ETag from the key
and an immutable cache header are both exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import BinaryIO

from fastapi import Request
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from app.blobs import BlobStore, open_store
from app.config import Settings
from app.errors import NotFound

# Content never changes under an image id: browsers may keep it for good.
IMMUTABLE = {"Cache-Control": "private, max-age=31536000, immutable"}
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_CHUNK = 1 << 20  # streamed from the store a MiB at a time
_UNSATISFIABLE = (-1, -1)


def img_origins(settings: Settings) -> tuple[str, ...]:
    """Origins the browser fetches images from besides our own: the store's, with redirects."""
    if not settings.storage_redirect:
        return ()
    origin = open_store(settings).public_origin()
    return (origin,) if origin else ()


def serve(
    request: Request, settings: Settings, store: BlobStore, key: str, mime: str, what: str
) -> Response:
    """The blob under ``key`` as ``mime``; ``what`` names it in a 404 ("image 12's file")."""
    if settings.storage_redirect:
        seconds = settings.storage_presign_seconds
        url = store.presigned_url(key, mime=mime, seconds=seconds)
        if url is not None:
            # The browser may reuse the redirect while the URL it names is still valid.
            cache = {"Cache-Control": f"private, max-age={seconds // 2}"}
            return RedirectResponse(url, status_code=302, headers=cache)
    local = store.local_path(key)
    if local is not None:
        if not local.is_file():
            raise NotFound(f"The file of {what} is missing from the store.")
        return FileResponse(local, media_type=mime, headers=IMMUTABLE)  # handles Range itself
    return _stream(request, store, key, mime, what)


def _stream(request: Request, store: BlobStore, key: str, mime: str, what: str) -> Response:
    info = store.info(key)
    if info is None:
        raise NotFound(f"The file of {what} is missing from the store.")
    etag = f'"{key.rsplit("/", 1)[-1]}"'
    headers = {**IMMUTABLE, "ETag": etag, "Accept-Ranges": "bytes"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    size = info.size
    wanted = _range(request.headers.get("range"), size)
    if wanted == _UNSATISFIABLE:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(status_code=416, headers=headers)
    if wanted is None:
        headers["Content-Length"] = str(size)
        # Opened now, not in the body: a store gone down answers 503 rather than a cut body.
        source = store.open(key)
        return StreamingResponse(_whole(source), media_type=mime, headers=headers)
    start, end = wanted
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    headers["Content-Length"] = str(end - start + 1)
    # The first part is read now, for the same reason.
    first = store.read_range(key, start, min(end, start + _CHUNK - 1))
    body = _parts(store, key, first, start + len(first), end)
    return StreamingResponse(body, status_code=206, media_type=mime, headers=headers)


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive, _UNSATISFIABLE, or None for the whole file.

    Only one range is served; a header we do not understand (several ranges, bad syntax)
    is ignored and the whole file sent, as RFC 9110 allows.
    """
    if not header:
        return None
    m = _RANGE.fullmatch(header.strip())
    if m is None or (not m[1] and not m[2]):
        return None
    if not m[1]:  # a suffix: the last n bytes
        n = int(m[2])
        return (max(size - n, 0), size - 1) if n > 0 and size > 0 else _UNSATISFIABLE
    start = int(m[1])
    end = min(int(m[2]), size - 1) if m[2] else size - 1
    if m[2] and int(m[2]) < start:
        return None  # syntactically invalid: ignored
    if start >= size:
        return _UNSATISFIABLE
    return start, end


def _whole(source: BinaryIO) -> Iterator[bytes]:
    with source as f:
        while chunk := f.read(_CHUNK):
            yield chunk


def _parts(store: BlobStore, key: str, first: bytes, pos: int, end: int) -> Iterator[bytes]:
    yield first
    while pos <= end:
        chunk = store.read_range(key, pos, min(end, pos + _CHUNK - 1))
        if not chunk:
            return
        yield chunk
        pos += len(chunk)
