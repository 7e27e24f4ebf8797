"""Decode image files in parallel threads while the model works on the previous batch.

Threads rather than processes: Pillow and numpy release the GIL while decoding and
resampling, and a Celery prefork worker is a daemon process, which may not start
children (so torch's multi-process DataLoader is not an option there).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from workers.ml.images import ImageUnreadable

Loader = Callable[[Path], npt.NDArray[np.float32]]


@dataclass
class Batch:
    indices: list[int]  # positions in the input of the images in ``images``
    images: npt.NDArray[np.float32]  # (len(indices), 3, H, W)
    errors: dict[int, str] = field(default_factory=dict)  # position -> reason, this batch


def default_workers(device_type: str = "cpu") -> int:
    """Decoding threads. On the CPU the model needs the cores more than decoding does
    (a photo decodes several times faster than the backbone runs on it), so half the
    cores; with a GPU, decoding is the bottleneck and gets most of them."""
    cores = os.cpu_count() or 1
    if device_type == "cuda":
        return max(1, min(8, cores - 1))
    return max(1, min(4, cores // 2))


def _load(loader: Loader, path: Path) -> npt.NDArray[np.float32] | str:
    try:
        return loader(path)
    except ImageUnreadable as exc:
        return str(exc)
    except MemoryError:
        raise
    except Exception as exc:  # one odd file must not stop a batch of thousands
        return f"could not be decoded ({type(exc).__name__}: {exc})"


def iterate_batches(
    paths: Sequence[Path],
    loader: Loader,
    *,
    batch_size: int,
    workers: int | None = None,
    prefetch_batches: int = 2,
) -> Generator[Batch, None, None]:
    """Batches in input order; unreadable files are reported, never raised.

    At most ``prefetch_batches + 1`` batches are decoded ahead, which bounds memory
    whatever the number of paths.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    window = batch_size * (prefetch_batches + 1)
    with ThreadPoolExecutor(max_workers=workers or default_workers()) as pool:
        pending: deque[tuple[int, Future[npt.NDArray[np.float32] | str]]] = deque()
        submitted = 0

        def refill() -> None:
            nonlocal submitted
            while submitted < len(paths) and len(pending) < window:
                pending.append((submitted, pool.submit(_load, loader, paths[submitted])))
                submitted += 1

        try:
            while submitted < len(paths) or pending:
                refill()
                batch = Batch([], np.empty((0,), dtype=np.float32))
                arrays: list[npt.NDArray[np.float32]] = []
                while pending and len(batch.indices) + len(batch.errors) < batch_size:
                    index, future = pending.popleft()
                    outcome = future.result()
                    if isinstance(outcome, str):
                        batch.errors[index] = outcome
                    else:
                        batch.indices.append(index)
                        arrays.append(outcome)
                if arrays:
                    batch.images = np.stack(arrays)
                refill()  # keep the decoders busy while the caller runs the model
                yield batch
        finally:
            # A consumer that stops early (cancel, error) must not wait for the whole window.
            for _, future in pending:
                future.cancel()
