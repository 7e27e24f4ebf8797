"""A job's heartbeat, written from a thread of its own.

The job's own code may spend minutes in one call (a cross-validation, the final fit, a
batch of embeddings) without a progress report; the heartbeat must not wait for it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)


class Heartbeat:
    """Calls ``beat`` now, then every ``interval`` seconds until the block ends.

    ``beat`` returns False when the job is no longer this process's (it was reaped or
    taken over): ``lost`` then turns True and the beating stops; the job checks ``lost``
    at its next step and gives up without writing.
    """

    def __init__(self, beat: Callable[[], bool], interval: float, name: str = "heartbeat") -> None:
        self._beat = beat
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.lost = False

    def __enter__(self) -> Heartbeat:
        self._once()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    @property
    def alive(self) -> bool:
        """Whether the thread still runs (it ends with the block)."""
        return self._thread.is_alive()

    def _loop(self) -> None:
        while not self.lost and not self._stop.wait(self._interval):
            self._once()

    def _once(self) -> None:
        try:
            if not self._beat():
                self.lost = True
        except Exception:
            # A busy database: the next beat tries again; the reaper allows for a few.
            log.warning("heartbeat not written", exc_info=True)
