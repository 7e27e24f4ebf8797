"""A model version as a zip: the TorchScript or ONNX file and its JSON description."""

from __future__ import annotations

import io
import zipfile

from fastapi.responses import StreamingResponse

from app.config import Settings
from app.errors import Conflict
from app.training.models import RunStatus, TrainingRun
from app.training.service import run_dir

FILES = {"torchscript": "model.pt", "onnx": "model.onnx"}


def model_zip(settings: Settings, run: TrainingRun, format: str) -> StreamingResponse:
    if run.status is not RunStatus.succeeded:
        raise Conflict(f"Run {run.id} has {run.status.value}; only a finished run has a model.")
    folder = run_dir(settings, run.id)
    model, meta = folder / FILES[format], folder / "model.json"
    if not (model.exists() and meta.exists()):
        # The worker writes them just after the run succeeds; or it died doing so.
        raise Conflict(
            f"Run {run.id}'s model files are not ready: they are written in the seconds "
            "after a run succeeds. Try again shortly; if this persists, train again."
        )
    buffer = io.BytesIO()
    # Stored, not deflated: model weights barely compress and this keeps it quick.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        zf.write(model, model.name)
        zf.write(meta, meta.name)
    buffer.seek(0)
    name = f"curator-run-{run.id}-{format}.zip"
    return StreamingResponse(
        buffer,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
