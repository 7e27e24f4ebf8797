"""A model version as a zip: one model file and its JSON description.

The worker writes every format it can and says in model.json which it kept and why
any was not (an int8 model that lost too much accuracy, an exporter that failed its
check); a download of one that was not kept answers with that reason.

The files live in the blob store under ``models/<run id>/`` (``model_prefix``): the
worker that exported them may run on another machine. model.json goes up last, so its
presence means the others are there.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile

from fastapi.responses import StreamingResponse

from app.blobs import BlobStore, open_store
from app.config import Settings
from app.errors import Conflict
from app.training.models import RunStatus, TrainingRun

FILES = {
    "torchscript": "model.pt",
    "pt2": "model.pt2",
    "onnx": "model.onnx",
    "onnx-int8": "model_int8.onnx",
}
META = "model.json"
LABELS = {
    "torchscript": "TorchScript",
    "pt2": "torch.export (.pt2)",
    "onnx": "ONNX",
    "onnx-int8": "int8 ONNX",
}


def refusals(settings: Settings, run: TrainingRun) -> dict[str, str]:
    """Why each format the worker did not keep is missing, for the run page to say
    beside its link; empty until the files are written (the links then say so)."""
    if run.status is not RunStatus.succeeded:
        return {}
    store = open_store(settings)
    present = {info.key.rsplit("/", 1)[-1] for info in store.list(f"{model_prefix(run.id)}/")}
    if META not in present:
        return {}
    return {
        name: _not_offered(store, run.id, name)
        for name, file in FILES.items()
        if file not in present
    }


def model_prefix(run_id: int) -> str:
    """The store folder of a run's exported files."""
    return f"models/{run_id}"


def model_zip(settings: Settings, run: TrainingRun, format: str) -> StreamingResponse:
    if run.status is not RunStatus.succeeded:
        raise Conflict(f"Run {run.id} has {run.status.value}; only a finished run has a model.")
    store = open_store(settings)
    model, meta = f"{model_prefix(run.id)}/{FILES[format]}", f"{model_prefix(run.id)}/{META}"
    if store.info(meta) is None:
        # The worker writes them just after the run succeeds; or it died doing so.
        raise Conflict(
            f"Run {run.id}'s model files are not ready: they are written in the seconds "
            "after a run succeeds. Try again shortly; if this persists, train again."
        )
    if store.info(model) is None:
        raise Conflict(_not_offered(store, run.id, format))
    buffer = io.BytesIO()
    # Stored, not deflated: model weights barely compress and this keeps it quick.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for key in (model, meta):
            with store.open(key) as source, zf.open(key.rsplit("/", 1)[-1], "w") as out:
                shutil.copyfileobj(source, out, 1 << 20)
    buffer.seek(0)
    name = f"curator-run-{run.id}-{format}.zip"
    return StreamingResponse(
        buffer,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _not_offered(store: BlobStore, run_id: int, format: str) -> str:
    """Why the folder has no file of this format, from what the worker wrote down."""
    label = LABELS[format]
    try:
        formats = json.loads(store.get_bytes(f"{model_prefix(run_id)}/{META}")).get("formats")
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
