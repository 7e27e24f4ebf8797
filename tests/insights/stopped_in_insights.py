"""The kill -9 tests' victim: train one run in this process, and once the named insight
(label_issues or outliers) has written its rows into the run's open transaction, say so
and wait to be killed.

    python -m tests.insights.stopped_in_insights INSIGHT RUN_ID READY_FILE
"""

from __future__ import annotations

import importlib
import sys
import threading
from pathlib import Path
from typing import Any

from workers.context import worker_context
from workers.training import run_training

INSIGHTS = ("label_issues", "outliers")


def main() -> None:
    insight, run_id, ready = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    if insight not in INSIGHTS:
        raise SystemExit(f"unknown insight {insight!r}; one of {INSIGHTS}")
    module = importlib.import_module(f"workers.{insight}")
    real = module.score_run

    def score_and_stop(*args: Any, **kwargs: Any) -> int:
        written = int(real(*args, **kwargs))
        args[1].flush()  # the session: every row is in the database's open transaction
        ready.write_text(str(written))
        threading.Event().wait()  # until SIGKILL; the test waits on the ready file
        return written

    setattr(module, "score_run", score_and_stop)  # noqa: B010 (a module chosen by name)
    run_training(worker_context(), run_id)


if __name__ == "__main__":
    main()
