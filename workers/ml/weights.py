"""Pretrained weight files: found in the machine's caches or downloaded once, checked by hash.

- torchvision files are named ``<name>-<sha256 prefix>.pth``; the prefix is checked on
  download and on every load from the cache (torch hub's own checkpoints folder, so a
  file torchvision downloaded before is reused).
- Hugging Face files (timm's weights) are checked against the sha256 the hub declares
  for them (``X-Linked-Etag``, the LFS object id). The Hugging Face cache names its
  blobs by that sha256, and our own cache puts its prefix in the file name, so both can
  be checked again later without a network.

Nothing is fetched unless the caller allows it; a ``mirror`` replaces the origin of
every URL (a company mirror, or a test server on the loopback).
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import torch

DOWNLOAD_TIMEOUT = 60.0  # seconds without a byte before a weight download gives up
HF_ORIGIN = "https://huggingface.co"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1 << 20


class WeightsUnavailable(RuntimeError):
    """A backbone's pretrained weights are not on this machine and could not be fetched."""


@dataclass(frozen=True)
class Fetch:
    """What a load may do to find weights that are not cached."""

    allow_download: bool = False
    mirror: str | None = None  # replaces scheme://host of the download URLs
    timeout: float = DOWNLOAD_TIMEOUT
    cache_dir: Path | None = None  # default: torch hub's checkpoints folder

    def folder(self) -> Path:
        return self.cache_dir or Path(torch.hub.get_dir()) / "checkpoints"

    def url(self, url: str) -> str:
        if not self.mirror:
            return url
        parts = urlsplit(url)
        return self.mirror.rstrip("/") + parts.path


def unavailable(name: str, where: str, reason: str) -> WeightsUnavailable:
    return WeightsUnavailable(
        f"weights cannot be fetched: the pretrained weights of backbone {name!r} are not "
        f"available: looked for {where}; {reason}. Use the offline default "
        "'efficientnet_lite0', or run the worker where it can download them (with weight "
        "downloads allowed: CURATOR_ALLOW_WEIGHT_DOWNLOAD=true)."
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def torchvision_file(name: str, url: str, fetch: Fetch) -> Path:
    """The checked local copy of a torchvision weight file (``name-<sha256 prefix>.pth``)."""
    cached = fetch.folder() / Path(urlsplit(url).path).name
    prefix = _hash_prefix(cached)
    if cached.is_file():
        if not sha256_of(cached).startswith(prefix):
            raise unavailable(
                name, str(cached), f"the cached file's sha256 does not start with {prefix}; "
                "it is damaged: delete it to download it again"
            )  # fmt: skip
        return cached
    if not fetch.allow_download:
        raise unavailable(
            name, str(cached), "they are not on this machine and downloads are turned off"
        )
    source = fetch.url(url)
    try:
        _download(source, cached, lambda digest: digest.startswith(prefix), fetch.timeout)
    except Exception as exc:  # any network or file error means the same thing to the user
        raise unavailable(
            name, f"{cached} and {source}", f"this machine could not download them ({exc})"
        ) from exc
    return cached


def _hash_prefix(path: Path) -> str:
    found = re.search(r"-([a-f0-9]{6,})$", path.stem)
    if found is None:  # never trust a file we cannot check
        raise ValueError(f"{path.name} carries no sha256 prefix in its name")
    return found.group(1)


def hf_file(name: str, repo: str, filename: str, fetch: Fetch) -> Path:
    """The checked local copy of ``filename`` in the Hugging Face repo ``repo``."""
    cached = _hf_cache_hit(repo, filename)
    if cached is not None:
        return cached
    folder = fetch.folder() / "hf" / repo.replace("/", "--")
    stem, suffix = Path(filename).stem, Path(filename).suffix
    for candidate in sorted(folder.glob(f"{stem}-*{suffix}")):
        if sha256_of(candidate).startswith(_hash_prefix(candidate)):
            return candidate
    from huggingface_hub import constants

    where = f"{repo}/{filename} in the Hugging Face cache {constants.HF_HUB_CACHE} and {folder}"
    if not fetch.allow_download:
        raise unavailable(name, where, "they are not on this machine and downloads are turned off")
    source = fetch.url(f"{HF_ORIGIN}/{repo}/resolve/main/{filename}")
    try:
        expected = _declared_sha256(source, fetch.timeout)
        target = folder / f"{stem}-{expected[:16]}{suffix}"
        _download(source, target, lambda digest: digest == expected, fetch.timeout)
    except Exception as exc:
        raise unavailable(
            name, f"{where} and {source}", f"this machine could not download them ({exc})"
        ) from exc
    return target


def _hf_cache_hit(repo: str, filename: str) -> Path | None:
    """A file the Hugging Face cache already holds (timm fetched it before), whose blob
    name, the LFS sha256, matches its content."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo, filename)
    if not isinstance(found, str):
        return None
    blob = Path(found).resolve()
    if _SHA256.fullmatch(blob.name) and sha256_of(blob) != blob.name:
        return None  # damaged: fetch it again (or refuse, if downloads are off)
    return Path(found)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _declared_sha256(url: str, timeout: float) -> str:
    """The sha256 the hub declares for an LFS file: its ``X-Linked-Etag`` (or ``ETag``) on
    the first answer, before the redirect to the CDN whose ETag is something else."""
    opener = urllib.request.build_opener(_NoRedirect)
    request = urllib.request.Request(url, method="HEAD")  # noqa: S310
    try:
        with opener.open(request, timeout=timeout) as response:
            headers = response.headers
    except urllib.error.HTTPError as redirect:
        if redirect.code not in (301, 302, 303, 307, 308):
            raise
        headers = redirect.headers
    declared = headers.get("X-Linked-Etag") or headers.get("ETag") or ""
    value = declared.removeprefix("W/").strip('"').lower()
    if not _SHA256.fullmatch(value):
        raise RuntimeError(f"the server declares no sha256 for {url} (etag {declared!r})")
    return value


def _remove_dead_partials(target: Path) -> None:
    """Half-written files of processes that died mid-download (killed, machine reset);
    a live process's file is left to it."""
    for partial in target.parent.glob(f".{target.name}.*.part"):
        pid = partial.name.removesuffix(".part").rsplit(".", 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            partial.unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, another user's


def _download(url: str, target: Path, accept: Callable[[str], bool], timeout: float) -> None:
    """Fetch ``url`` into ``target`` with a read timeout (torch.hub has none, so a silently
    dropped connection would hang the worker); the file is moved into place only when
    ``accept(sha256 hex)`` says its hash is the expected one."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_partials(target)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        with (
            urllib.request.urlopen(url, timeout=timeout) as response,  # noqa: S310
            open(partial, "wb") as out,
        ):
            while chunk := response.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        if not accept(digest.hexdigest()):
            raise RuntimeError(
                f"the downloaded file's sha256 {digest.hexdigest()[:16]}... is not the "
                "expected one; it was not kept"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
