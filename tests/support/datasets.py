"""Where the shared photographs live: ``../shared/datasets`` beside the repository.

Read in place, never copied. ``CURATOR_DATASETS`` points elsewhere, for a clone that does
not sit beside ``shared/`` (tests needing them skip outside CI, and fail under it).
"""

from __future__ import annotations

import os
from pathlib import Path

from app.paths import ROOT

DATASETS = Path(os.environ.get("CURATOR_DATASETS") or ROOT.parent / "shared" / "datasets")
FLOWERS12 = DATASETS / "flowers12"
