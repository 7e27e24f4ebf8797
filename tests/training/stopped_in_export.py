"""The kill -9 test's victim: train one run in this process, and once its int8 model is
written into the export's staging folder (the float files are there already, model.json
not yet), say so and wait to be killed.

    python -m tests.training.stopped_in_export RUN_ID READY_FILE
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

from workers.context import worker_context
from workers.ml import quantize
from workers.training import run_training


def main() -> None:
    run_id, ready = int(sys.argv[1]), Path(sys.argv[2])
    real = quantize.quantize_int8

    def quantize_and_stop(*args: Any, **kwargs: Any) -> None:
        real(*args, **kwargs)
        written = sorted(p.name for p in Path(args[1]).parent.iterdir())
        ready.write_text("\n".join(written))
        threading.Event().wait()  # until SIGKILL; the test waits on the ready file

    quantize.quantize_int8 = quantize_and_stop
    run_training(worker_context(), run_id)


if __name__ == "__main__":
    main()
