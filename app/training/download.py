"""A model version as a zip: one model file and its JSON description.

The worker writes every format it can and says in model.json which it kept and why
any was not (an int8 model that lost too much accuracy, an exporter that failed its
check); a download of one that was not kept answers with that reason.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from fastapi.responses import StreamingResponse

from app.config import Settings
from app.errors import Conflict
from app.training.models import RunStatus, TrainingRun
from app.training.service import run_dir

FILES = {
    "torchscript": "model.pt",
    "pt2": "model.pt2",
    "onnx": "model.onnx",
    "onnx-int8": "model_int8.onnx",
}
LABELS = {
    "torchscript": "TorchScript",
    "pt2": "torch.export (.pt2)",
    "onnx": "ONNX",
    "onnx-int8": "int8 ONNX",
}


def refusals(settings: Settings, run: TrainingRun) -> dict[str, str]:
    """Why each format the worker did not keep is missing, for the run page to say
    beside its link; empty until the files are written (the links then say so)."""
    folder = run_dir(settings, run.id)
    meta = folder / "model.json"
    if run.status is not RunStatus.succeeded or not meta.exists():
        return {}
    return {
        name: _not_offered(run.id, meta, name)
        for name, file in FILES.items()
        if not (folder / file).exists()
    }


def model_zip(settings: Settings, run: TrainingRun, format: str) -> StreamingResponse:
    if run.status is not RunStatus.succeeded:
        raise Conflict(f"Run {run.id} has {run.status.value}; only a finished run has a model.")
    folder = run_dir(settings, run.id)
    model, meta = folder / FILES[format], folder / "model.json"
    if not meta.exists():
        # The worker writes them just after the run succeeds; or it died doing so.
        raise Conflict(
            f"Run {run.id}'s model files are not ready: they are written in the seconds "
            "after a run succeeds. Try again shortly; if this persists, train again."
        )
    if not model.exists():
        raise Conflict(_not_offered(run.id, meta, format))
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


def _not_offered(run_id: int, meta: Path, format: str) -> str:
    """Why the folder has no file of this format, from what the worker wrote down."""
    label = LABELS[format]
    try:
        formats = json.loads(meta.read_text()).get("formats")
    except (OSError, ValueError, AttributeError):
        formats = None
    if not isinstance(formats, dict):
        # model.json of a run exported before the worker listed its formats.
        return (
            f"Run {run_id} has no {label} model: it was trained before Curator made "
            "them. Train again to get one."
        )
    entry = formats.get(format)
    reason = entry.get("reason") if isinstance(entry, dict) else None
    if not reason:
        return f"Run {run_id}'s {label} model is missing from its files. Train again to get one."
    return f"Run {run_id} has no {label} model: {reason}."
