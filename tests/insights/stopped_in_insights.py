"""The kill -9 test's victim: train one run in this process, and once its label issues
are written into the run's open transaction, say so and wait to be killed.

    python -m tests.insights.stopped_in_insights RUN_ID READY_FILE
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

from workers import label_issues
from workers.context import worker_context
from workers.training import run_training


def main() -> None:
    run_id, ready = int(sys.argv[1]), Path(sys.argv[2])
    real = label_issues.score_run

    def score_and_stop(*args: Any, **kwargs: Any) -> int:
        written = real(*args, **kwargs)
        args[1].flush()  # the session: every row is in the database's open transaction
        ready.write_text(str(written))
        threading.Event().wait()  # until SIGKILL; the test waits on the ready file
        return written

    label_issues.score_run = score_and_stop  # type: ignore[assignment]
    run_training(worker_context(), run_id)


if __name__ == "__main__":
    main()
