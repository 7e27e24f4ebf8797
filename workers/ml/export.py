"""Trained models as files a user can run without Curator: ONNX (the dynamo exporter),
a ``torch.export`` program (.pt2), TorchScript (kept: the saliency maps load it), and a
JSON that says how to prepare an image for them.

Every export is checked before it is kept: the written file is loaded back and run on a
batch of a different size than the one it was traced with (the run's own images where
the caller has them, random tensors otherwise), and must agree with the module it came
from. A file that exists is a file that works.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from workers.ml.backbones import BackboneSpec, get_spec, load_backbone
from workers.ml.linear import LinearModel

INPUT_NAME = "image"
OUTPUT_NAME = "probabilities"
ONNX_OPSET = 18  # the dynamo exporter's own; an older one would go through a converter
_TOLERANCE = 1e-4  # probabilities; features are compared relative to their scale
_TRACE_BATCH = 2  # torch.export specializes a batch of 1 to a constant: no dynamic axis
Images = npt.NDArray[np.float32]  # (N, 3, S, S) float32, preprocessed as preprocessing_json says


def linear_classifier(
    backbone: str, model: LinearModel, *, device: torch.device, allow_download: bool = False
) -> nn.Module:
    """Images -> class probabilities: the backbone, unit-length features, the probe,
    then softmax, which is exactly ``linear.predict_proba`` on the backbone's embeddings.
    Columns follow ``model.classes``."""
    spec = get_spec(backbone)
    features = load_backbone(backbone, device, allow_download=allow_download)
    coef = np.asarray(model.coef, dtype=np.float32)
    if coef.shape[1] != spec.dim:
        raise ValueError(
            f"the linear model expects {coef.shape[1]} features, {backbone} gives {spec.dim}"
        )
    head = nn.Linear(spec.dim, coef.shape[0])
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(coef))
        head.bias.copy_(torch.from_numpy(np.asarray(model.intercept, dtype=np.float32)))
    return nn.Sequential(features, UnitRows(), head.to(device), nn.Softmax(dim=1)).eval()


def head_classifier(
    backbone: str,
    head: nn.Module,
    dim: int,
    *,
    device: torch.device,
    allow_download: bool = False,
) -> nn.Module:
    """Images -> class probabilities: the backbone, then any head module that maps its
    ``dim`` features to probabilities (``workers.ml.heads.module``)."""
    spec = get_spec(backbone)
    if dim != spec.dim:
        raise ValueError(f"the head expects {dim} features, {backbone} gives {spec.dim}")
    features = load_backbone(backbone, device, allow_download=allow_download)
    return nn.Sequential(features, head.to(device)).eval()


class UnitRows(nn.Module):
    """Each row scaled to length 1, as ``linear.unit_rows`` does before the probe."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(x, p=2.0, dim=1, eps=1e-12)


def with_softmax(model: nn.Module) -> nn.Module:
    """Logits -> probabilities, so every exported model has the same output."""
    return nn.Sequential(model, nn.Softmax(dim=1)).eval()


def _spec_metadata(spec: BackboneSpec) -> dict[str, object]:
    return {k: v for k, v in preprocessing_json(spec, []).items() if k != "class_names"}


def _cpu_copy(module: nn.Module) -> nn.Module:
    # A copy: moving the caller's module to the CPU or out of channels_last would change it.
    moved = copy.deepcopy(module).to("cpu")
    return moved.to(memory_format=torch.contiguous_format).eval()


def _example(spec: BackboneSpec, batch: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, spec.input_size, spec.input_size, generator=generator)


def _probe(spec: BackboneSpec, images: Images | None) -> torch.Tensor:
    """What the saved file is checked on: the caller's images, or three random ones."""
    if images is None or len(images) == 0:
        return _example(spec, 3, 1)
    return torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))


def _batch_axis() -> dict[int, torch.export.Dim]:
    return {0: torch.export.Dim("batch", min=1)}


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """Write to a temporary file beside ``path`` and move it in place only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # The real suffix last: torch.export.save wants a name ending in .pt2.
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _check(expected: np.ndarray, got: np.ndarray, what: str) -> None:
    scale = max(1.0, float(np.abs(expected).max()))
    if got.shape != expected.shape or not np.allclose(got, expected, atol=_TOLERANCE * scale):
        diff = float(np.abs(got - expected).max()) if got.shape == expected.shape else "n/a"
        raise RuntimeError(f"the exported {what} disagrees with the model (max diff {diff})")


def export_torchscript(
    module: nn.Module, path: Path, spec: BackboneSpec, images: Images | None = None
) -> None:
    """A traced TorchScript file; ``preprocessing.json`` rides along as an extra file.
    Deprecated by torch, but Curator's own saliency maps and existing users load it."""
    cpu = _cpu_copy(module)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about shapes baked in: checked below
        # check_trace re-traces and compares on the same input; the check below runs a
        # different batch size through the saved file, which is the check that matters.
        traced = torch.jit.trace(  # type: ignore[no-untyped-call]
            cpu, _example(spec, 1, 0), check_trace=False
        )
        probe = _probe(spec, images)
        expected = cpu(probe).numpy()
        extra = {"preprocessing.json": json.dumps(_spec_metadata(spec))}
        with _atomic(path) as tmp:
            torch.jit.save(traced, str(tmp), _extra_files=extra)
            # Without the profiling executor's warm-up passes: the check runs once.
            with torch.jit.optimized_execution(False):  # type: ignore[attr-defined]
                loaded = torch.jit.load(str(tmp), map_location="cpu")  # type: ignore[no-untyped-call]
                got = loaded(probe).numpy()
            _check(expected, got, "TorchScript model")


def export_pt2(
    module: nn.Module, path: Path, spec: BackboneSpec, images: Images | None = None
) -> None:
    """A ``torch.export`` program with a dynamic batch axis (``torch.export.load(path)
    .module()`` runs it); ``preprocessing.json`` rides along as extra metadata."""
    cpu = _cpu_copy(module)
    with torch.no_grad():
        program = torch.export.export(
            cpu, (_example(spec, _TRACE_BATCH, 0),), dynamic_shapes=(_batch_axis(),)
        )
        probe = _probe(spec, images)
        expected = cpu(probe).numpy()
        extra = {"preprocessing.json": json.dumps(_spec_metadata(spec))}
        with _atomic(path) as tmp:
            torch.export.save(program, str(tmp), extra_files=extra)
            got = torch.export.load(str(tmp)).module()(probe).numpy()
            _check(expected, got, "torch.export program")


def write_onnx(
    module: nn.Module,
    path: Path,
    spec: BackboneSpec,
    *,
    output_name: str,
    images: Images | None = None,
) -> None:
    """ONNX with a dynamic batch axis, checked with onnxruntime before it is kept."""
    import onnx
    import onnxruntime as ort

    cpu = _cpu_copy(module)
    with _atomic(path) as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exporter chatter about its own internals
        torch.onnx.export(
            cpu,
            (_example(spec, _TRACE_BATCH, 0),),
            str(tmp),
            input_names=[INPUT_NAME],
            output_names=[output_name],
            dynamic_shapes=(_batch_axis(),),
            opset_version=ONNX_OPSET,
            dynamo=True,
            external_data=False,  # one self-contained file, not model.onnx + model.onnx.data
            verbose=False,
        )
        proto = onnx.load(str(tmp))
        for key, value in _spec_metadata(spec).items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, json.dumps(value)
        onnx.save(proto, str(tmp))
        probe = _probe(spec, images)
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        got = session.run(None, {INPUT_NAME: probe.numpy()})[0]
        _check(cpu(probe).numpy(), np.asarray(got), "ONNX model")


def export_onnx(
    module: nn.Module, path: Path, spec: BackboneSpec, images: Images | None = None
) -> None:
    """Input ``image`` (N, 3, S, S) float32, output ``probabilities`` (N, classes)."""
    write_onnx(module, path, spec, output_name=OUTPUT_NAME, images=images)


def preprocessing_json(spec: BackboneSpec, class_names: Sequence[str]) -> dict[str, object]:
    """How to turn an image file into the exported model's input, and read its output."""
    return {
        "backbone": spec.name,
        "class_names": list(class_names),  # in the order of the output columns
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "layout": "NCHW",
        "color_order": "RGB",
        "dtype": "float32",
        "input_size": [spec.input_size, spec.input_size],
        "resize": spec.resize,  # shorter side, before the crop
        "crop": spec.input_size,  # center crop, square
        "interpolation": spec.interpolation,
        "pixel_scale": 1 / 255,  # applied before mean and std
        "mean": list(spec.mean),
        "std": list(spec.std),
        "steps": [
            "decode to RGB, apply the EXIF orientation",
            f"resize the shorter side to {spec.resize} px ({spec.interpolation})",
            f"center-crop {spec.input_size}x{spec.input_size}",
            "scale pixel values to [0, 1], subtract mean, divide by std (per channel)",
            "HWC -> CHW, add a batch axis",
        ],
    }
