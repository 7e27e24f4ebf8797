"""A worker's local copies of blobs: real paths for PIL, torch and numpy memmaps.

On ``file://`` a blob already is a file on this machine, and the cache hands out the
store's own path (no copy, no size limit: the data dir is the store). On ``s3://`` a blob
is downloaded once into the cache folder, under its key, and reused until the folder
grows past ``max_bytes``; then the least recently used files go first.

Several task processes share one folder. A download is written in a staging folder
(``.tmp-<pid>-...``) and renamed into place, so a reader sees a whole file or none, and a
process killed mid-download leaves only its staging folder, which the next eviction pass
removes once that process is gone. "Recently used" is the file's mtime: each hand-out
makes it young again (atime is unreliable under ``noatime``/``relatime`` mounts).

A file handed out in a call is never evicted by that call, nor, by default, by any pass
within ``min_age`` seconds of its use: another process may be between being handed the
path and opening it. (An opened file stays readable after an unlink on POSIX, so a
memmap outlives its eviction.) Each process counts what it fetched since its last scan
and scans again once that count passes the limit, or every ``rescan_every`` seconds; so
the folder may briefly hold more than ``max_bytes`` by what other processes fetched
meanwhile, never unboundedly more.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from app.blobs.base import BlobStore, check_key

TMP_PREFIX = ".tmp-"
STALE_TMP_AFTER = 3600.0  # seconds: a temporary file this old is dead whatever its pid says


class BlobCache:
    def __init__(
        self,
        store: BlobStore,
        directory: Path,
        max_bytes: int,
        *,
        min_age: float = 60.0,
        rescan_every: float = 300.0,
    ) -> None:
        self.store = store
        self.directory = directory.resolve()
        self.max_bytes = max_bytes
        self.min_age = min_age
        self.rescan_every = rescan_every
        self._fetched = 0  # bytes this process downloaded since its last scan
        self._scanned_at: float | None = None

    @property
    def is_local(self) -> bool:
        """True on a store whose blobs are files here already (``file://``)."""
        return self.store.local_path("probe") is not None

    def path(self, key: str) -> Path:
        """A local file holding the blob; FileNotFoundError if the store has none."""
        return self.paths([key])[0]

    def paths(self, keys: Sequence[str]) -> list[Path]:
        """Local files for all ``keys``, in order; none of them is evicted by this call."""
        out: list[Path] = []
        for key in keys:
            own = self.store.local_path(key)
            if own is not None:
                if not own.is_file():
                    raise FileNotFoundError(f"no blob {key!r} in {self.store.url}")
                out.append(own)
                continue
            target = self.directory / check_key(key)
            if target.is_file():
                with suppress(OSError):
                    os.utime(target)  # used now: the last to go
            else:
                self._fetched += self._download(key, target)
            out.append(target)
        if len(out) and not self.is_local:
            self._maybe_evict(keep=set(out))
        return out

    def local_dir(self, prefix: str) -> Path:
        """Where to write files that will be published under ``prefix``: the store's own
        folder on ``file://`` (publishing is then a no-op), else a folder in the cache."""
        own = self.store.local_path(prefix)
        return own if own is not None else self.directory / check_key(prefix)

    def publish(self, key: str, path: Path) -> None:
        """Send a file written locally to the store under ``key``; on ``file://`` a file
        written at the key's own path (``local_dir``) is there already."""
        own = self.store.local_path(key)
        if own is not None and own.resolve() == path.resolve():
            return
        self.store.put_file(key, path)

    def publish_folder(self, prefix: str, folder: Path, *, last: str | None = None) -> None:
        """Make the store's ``prefix/`` hold exactly ``folder``'s files. ``last`` (a file
        whose presence says the others are complete, e.g. model.json) is removed first
        and uploaded last, so a reader never takes a half-sent folder for a whole one."""
        if self.store.local_path(prefix) == folder.resolve():
            return
        names = sorted(p.name for p in folder.iterdir() if p.is_file())
        if last is not None and last in names:
            self.store.delete(f"{prefix}/{last}")
            names = [n for n in names if n != last] + [last]
        for name in names:
            self.store.put_file(f"{prefix}/{name}", folder / name)
        for info in list(self.store.list(f"{prefix}/")):
            if info.key.removeprefix(f"{prefix}/") not in names:
                self.store.delete(info.key)  # an earlier attempt's file this one has not

    def staging_dir(self) -> Path:
        """A new folder of this process's own in the cache, for files on their way to the
        store: no eviction touches it while the process lives, the next pass removes it
        once the process is gone. The caller removes it when done."""
        staging = self.directory / f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
        staging.mkdir(parents=True)
        return staging

    def _download(self, key: str, target: Path) -> int:
        # In a staging folder: whatever the store's client leaves there when the process
        # is killed goes with it at the next pass.
        staging = self.staging_dir()
        try:
            tmp = staging / "blob"
            self.store.download(key, tmp)
            size = tmp.stat().st_size
            target.parent.mkdir(parents=True, exist_ok=True)
            # Two processes fetching the same key both rename a whole file into place.
            os.replace(tmp, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return size

    def _maybe_evict(self, keep: set[Path]) -> None:
        now = time.monotonic()
        due = self._scanned_at is None or now - self._scanned_at > self.rescan_every
        if due or self._fetched > self.max_bytes:
            self.evict(keep)

    def evict(self, keep: set[Path] | None = None) -> int:
        """Remove least recently used files until the folder fits; dead processes'
        temporary files go too. Returns the bytes the folder holds afterwards."""
        keep = keep or set()
        self._scanned_at = time.monotonic()
        self._fetched = 0
        files: list[tuple[float, int, Path]] = []
        total = 0
        now = time.time()
        for folder, dirs, names in os.walk(self.directory):
            for name in [d for d in dirs if d.startswith(TMP_PREFIX)]:
                dirs.remove(name)  # a download in progress (or abandoned): not cached yet
                staging = Path(folder) / name
                with suppress(OSError):
                    if _abandoned(name, now - staging.stat().st_mtime):
                        shutil.rmtree(staging, ignore_errors=True)
            for name in names:
                path = Path(folder) / name
                try:
                    st = path.stat()
                except FileNotFoundError:
                    continue  # another process evicted or renamed it just now
                if name.startswith(TMP_PREFIX):
                    if _abandoned(name, now - st.st_mtime):
                        path.unlink(missing_ok=True)
                    continue
                total += st.st_size
                files.append((st.st_mtime, st.st_size, path))
        if total <= self.max_bytes:
            return total
        files.sort()
        for mtime, size, path in files:
            if total <= self.max_bytes:
                break
            if path in keep or now - mtime < self.min_age:
                continue
            path.unlink(missing_ok=True)
            total -= size
        return total


def _abandoned(name: str, age: float) -> bool:
    """A temporary file whose writer died (killed mid-download) or is long overdue."""
    if age > STALE_TMP_AFTER:
        return True
    pid_text = name.removeprefix(TMP_PREFIX).split("-", 1)[0]
    if not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    return False
