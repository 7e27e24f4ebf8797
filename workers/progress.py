"""A training run's progress on its row: phases, throttled reports, cancel and loss."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.background.heartbeat import Heartbeat
from app.background.owners import Owner
from app.training import jobs
from workers.context import Throttle


class Cancelled(Exception):
    """The user cancelled the run."""


# Phase weights in the overall percentage: embedding dominates a first run.
PHASES = {
    "embedding": (0.0, 0.6),
    "training": (0.6, 0.8),
    "predicting": (0.8, 0.9),
    "scoring": (0.9, 0.95),
    "insights": (0.95, 1.0),
}


class Progress:
    def __init__(
        self, session: Session, run_id: int, owner: Owner, heartbeat: Heartbeat | None = None
    ) -> None:
        self.session = session
        self.run_id = run_id
        self.owner = owner
        self.heartbeat = heartbeat
        self.phase = "starting"
        self.last = 0.0
        self.throttle = Throttle(self._write)

    def _write(self, fraction: float, eta: float | None) -> bool:
        low, high = PHASES.get(self.phase, (0.0, 1.0))
        return jobs.report_progress(
            self.session, self.run_id, self.owner, self.phase, low + (high - low) * fraction, eta
        )

    def enter(self, phase: str) -> None:
        self.phase = phase
        self.throttle = Throttle(self._write)
        self.check(0.0, force=True)

    def check(self, fraction: float, force: bool = False) -> None:
        """Report (at most once a second); stop if cancelled or no longer this run's owner."""
        if self.heartbeat is not None and self.heartbeat.lost:
            raise jobs.Lost
        self.last = fraction
        if not self.throttle(fraction, force):
            raise Cancelled

    def stop_requested(self) -> bool:
        if self.heartbeat is not None and self.heartbeat.lost:
            return True
        return not self.throttle(self.last)
