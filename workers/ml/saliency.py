"""Grad-CAM heat maps: where in a picture a run's model found the evidence for a class.

The model is rebuilt as an eager module (TorchScript takes no hooks, and Grad-CAM needs
a forward hook on the last spatial feature map): the backbone's architecture, then the
weights read back from the run's own exported TorchScript file, whose parameter names are
the eager module's (a traced module keeps them). So every run that has a ``model.pt``,
old or new, linear probe or fine-tuned, explains with exactly the weights it predicts
with; no second copy of the weights is written at export.

The map covers the centre crop the model saw. The PNG has the picture's proportions:
the heat sits where that crop lies and the cropped-away margins are transparent, so it
can be laid over the whole picture as it is shown.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image
from torch import nn

from workers.ml.backbones import BackboneSpec, get_spec, load_backbone
from workers.ml.classifier import Classifier
from workers.ml.export import UnitRows
from workers.ml.images import crop_box, model_pixels, normalize, open_rgb

Heat = npt.NDArray[np.float32]
Reshape = Callable[[torch.Tensor], torch.Tensor]
# One thread: on the 2-core machine with other work running, two torch threads made a
# forward and backward pass 10x slower (contention), one stayed at ~0.1 s.
THREADS = 1
MAX_SIDE = 1024  # the PNG's longer side at most: a 1 x 10000 px picture gets no huge canvas
CACHED_MODELS = 2  # explainers kept per process: a page asks for one run many times
_ALPHA_LOW, _ALPHA_HIGH = 70, 200  # cold areas lightly tinted, hot ones strongly


@dataclass(frozen=True)
class Explainer:
    """A run's model as Grad-CAM needs it."""

    spec: BackboneSpec
    model: nn.Module  # images -> logits (no softmax: Grad-CAM explains the class score)
    layer: nn.Module  # the last spatial feature map
    reshape: Reshape | None  # tokens -> (N, C, H, W) for transformers


@dataclass(frozen=True)
class Saliency:
    heat: Heat  # (input_size, input_size), 0..1, over the centre crop
    column: int  # the class column explained
    probabilities: npt.NDArray[np.float32]


def target_layer(backbone: str, module: nn.Module) -> tuple[nn.Module, Reshape | None]:
    """The last layer with a spatial map: named for the first backbones of the registry
    (checked by hand), found by a probe pass for the others and for models by name."""
    m: Any = module
    if backbone == "efficientnet_lite0":
        return m.bn2, None  # conv_head's batch norm and ReLU6: 1280 x 7 x 7
    if backbone == "resnet50":
        return m.layer4[-1], None
    if backbone == "convnext_tiny":
        return m.features[-1], None
    if backbone == "vit_small" or _is_vision_transformer(m):
        prefix = int(getattr(m, "num_prefix_tokens", 1))

        def tokens_to_map(x: torch.Tensor) -> torch.Tensor:
            patches = x[:, prefix:, :]
            side = round(patches.shape[1] ** 0.5)
            return patches.reshape(x.shape[0], side, side, x.shape[2]).permute(0, 3, 1, 2)

        return m.blocks[-1].norm1, tokens_to_map
    found = last_spatial_layer(module, get_spec(backbone).input_size)
    if found is None:
        raise ValueError(f"no saliency layer is known for backbone {backbone!r}")
    return found, None


def _is_vision_transformer(m: Any) -> bool:
    # timm's ViTs (DINOv2 among them): patch tokens after the prefix tokens, a square grid.
    blocks = getattr(m, "blocks", None)
    return hasattr(m, "patch_embed") and isinstance(blocks, nn.Sequential) and len(blocks) > 0


def last_spatial_layer(module: nn.Module, side: int) -> nn.Module | None:
    """The module that runs last with an (N, C, H, W) output larger than 1 x 1: the final
    feature map of a convolutional network, before its global pooling. Found by one
    forward pass of a blank image with hooks on every module (in eval mode, no grad)."""
    last: list[nn.Module] = []

    def hook(mod: nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor) and output.ndim == 4 and output.shape[-1] > 1:
            last.append(mod)

    handles = [m.register_forward_hook(hook) for m in module.modules() if m is not module]
    was_training = module.training
    try:
        module.eval()
        with torch.no_grad():
            module(torch.zeros(1, 3, side, side, device=next(module.parameters()).device))
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    return last[-1] if last else None


def linear_explainer(
    backbone: str, features: nn.Module, coef: npt.ArrayLike, intercept: npt.ArrayLike
) -> Explainer:
    """The linear probe's model: backbone, unit-length rows, the probe."""
    weight = torch.as_tensor(np.asarray(coef, dtype=np.float32))
    head = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        head.weight.copy_(weight)
        head.bias.copy_(torch.as_tensor(np.asarray(intercept, dtype=np.float32)))
    return _explainer(backbone, features, nn.Sequential(features, UnitRows(), head))


def finetuned_explainer(backbone: str, model: Classifier) -> Explainer:
    return _explainer(backbone, model.backbone, model)


def _explainer(backbone: str, features: nn.Module, model: nn.Module) -> Explainer:
    layer, reshape = target_layer(backbone, features)
    return Explainer(get_spec(backbone), model.eval(), layer, reshape)


def load_explainer(
    path: Path, backbone: str, mode: str, classes: int, *, allow_download: bool = False
) -> Explainer:
    """Rebuild a run's model from its exported TorchScript file (``training._export``:
    linear runs are ``Sequential(backbone, UnitRows, Linear, Softmax)``, fine-tuned ones
    ``Sequential(Classifier, Softmax)``); the weights must fit exactly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "use torch.export": it is our format
        scripted = torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]
    state = scripted.state_dict()
    spec = get_spec(backbone)
    features = load_backbone(backbone, torch.device("cpu"), allow_download=allow_download)
    if mode == "linear":
        features.load_state_dict(_under("0.", state), strict=True)
        model: nn.Module = nn.Sequential(features, linear_scores(state, classes)).eval()
        return _explainer(backbone, features, model)
    if mode == "finetune":
        classifier = Classifier(features, spec.dim, classes)
        classifier.load_state_dict({k.removeprefix("0."): v for k, v in state.items()}, strict=True)
        return finetuned_explainer(backbone, classifier)
    raise ValueError(f"unknown run mode {mode!r}")


def _under(prefix: str, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}


def _layer(weight: torch.Tensor, bias: torch.Tensor) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.copy_(bias)
    return layer


class _BothSides(nn.Module):
    """A binary SVM's one decision value d as two class scores (-d, d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([-x, x], dim=1)


def linear_scores(state: dict[str, torch.Tensor], classes: int) -> nn.Module:
    """A linear run's head up to its class scores, from its exported state dict (Grad-CAM
    explains a class's score, not its probability after the softmax or Platt scaling).
    The layouts: before the heads ``Sequential(backbone, UnitRows, Linear, Softmax)``;
    since, ``Sequential(backbone, head)`` with the head of ``workers.ml.heads.module``."""
    if "2.weight" in state:  # the probe, exported before the heads
        scores: list[nn.Module] = [_layer(state["2.weight"], state["2.bias"])]
    elif "1.decision.weight" in state:  # svm: the decision values
        scores = [_layer(state["1.decision.weight"], state["1.decision.bias"])]
        if scores[0].out_features == 1 and classes == 2:
            scores.append(_BothSides())
    elif "1.3.weight" in state:  # mlp: its logits
        first = _layer(state["1.1.weight"], state["1.1.bias"])
        scores = [first, nn.ReLU(), _layer(state["1.3.weight"], state["1.3.bias"])]
    elif "1.1.weight" in state:  # logreg
        scores = [_layer(state["1.1.weight"], state["1.1.bias"])]
    else:
        raise RuntimeError("the model file's head is none of the known layouts")
    head = nn.Sequential(UnitRows(), *scores).eval()
    dim = int(next(iter(head.parameters())).shape[1])
    with torch.no_grad():
        width = head(torch.zeros(1, dim)).shape[1]
    if width != classes:
        raise RuntimeError(f"the model file scores {width} classes, the run has {classes}")
    return head


class _Cache:
    """The last few explainers of this process, by model file (path, size, mtime)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[tuple[Any, ...], Explainer] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[Any, ...], make: Callable[[], Explainer]) -> Explainer:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        made = make()
        with self.lock:
            self.items[key] = made
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return made


_cache = _Cache(CACHED_MODELS)


def cached_explainer(
    path: Path, backbone: str, mode: str, classes: int, *, allow_download: bool = False
) -> Explainer:
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns, backbone, mode, classes)
    return _cache.get(
        key, lambda: load_explainer(path, backbone, mode, classes, allow_download=allow_download)
    )


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def _cut_below(layer: nn.Module) -> Iterator[None]:
    """The layer's output starts a new graph: the backward pass stops there instead of
    running down the whole backbone (Grad-CAM needs no gradient below it)."""

    def cut(_module: nn.Module, _args: Any, output: torch.Tensor) -> torch.Tensor:
        return output.detach().requires_grad_(True)

    handle = layer.register_forward_hook(cut)
    try:
        yield
    finally:
        handle.remove()


def grad_cam(explainer: Explainer, pixels: npt.NDArray[np.uint8], column: int | None) -> Saliency:
    """Grad-CAM of one centre crop (uint8 HWC at the model's input size) for a class
    column (None: the model's top class)."""
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    batch = torch.from_numpy(normalize(pixels, explainer.spec))[None]
    with _torch_threads(THREADS), _cut_below(explainer.layer):
        with torch.no_grad():
            logits = explainer.model(batch)
        probabilities = torch.softmax(logits, dim=1)[0].numpy().astype(np.float32)
        if column is None:
            column = int(np.argmax(probabilities))
        if not 0 <= column < probabilities.shape[0]:
            raise ValueError(f"class column {column} is outside 0..{probabilities.shape[0] - 1}")
        with GradCAM(
            model=explainer.model,
            target_layers=[explainer.layer],
            reshape_transform=explainer.reshape,
        ) as cam:
            heat = cam(input_tensor=batch, targets=[ClassifierOutputTarget(column)])[0]
    heat = np.clip(np.nan_to_num(heat), 0.0, 1.0).astype(np.float32)
    return Saliency(heat, column, probabilities)


def _colours() -> npt.NDArray[np.uint8]:
    from matplotlib import colormaps

    table = colormaps["turbo"](np.linspace(0.0, 1.0, 256))[:, :3]
    return np.asarray(np.round(table * 255), dtype=np.uint8)


_lut: npt.NDArray[np.uint8] | None = None


def colourise(heat: Heat) -> npt.NDArray[np.uint8]:
    """0..1 -> RGBA: a blue-to-red colour scale, more opaque where the heat is."""
    global _lut
    if _lut is None:
        _lut = _colours()
    index = np.round(np.clip(heat, 0.0, 1.0) * 255).astype(np.uint8)
    rgba = np.empty((*heat.shape, 4), dtype=np.uint8)
    rgba[..., :3] = _lut[index]
    rgba[..., 3] = np.round(_ALPHA_LOW + (_ALPHA_HIGH - _ALPHA_LOW) * np.clip(heat, 0, 1))
    return rgba


def canvas_size(width: int, height: int) -> tuple[int, int]:
    """The PNG's size: the picture's proportions, the longer side at most ``MAX_SIDE``."""
    scale = min(1.0, MAX_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def render_png(heat: Heat, width: int, height: int, spec: BackboneSpec) -> bytes:
    """The heat over a ``width`` x ``height`` picture: placed on the region the model's
    centre crop came from, transparent elsewhere."""
    out_w, out_h = canvas_size(width, height)
    left, top, right, bottom = crop_box(width, height, spec)
    sx, sy = out_w / width, out_h / height
    box = (round(left * sx), round(top * sy), round(right * sx), round(bottom * sy))
    size = (max(1, box[2] - box[0]), max(1, box[3] - box[1]))
    layer = Image.fromarray(colourise(heat), "RGBA").resize(size, Image.Resampling.BILINEAR)
    canvas = Image.new("RGBA", (out_w, out_h), (0, 0, 0, 0))
    canvas.paste(layer, box[:2])
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def explain_file(explainer: Explainer, path: Path, column: int | None) -> tuple[Saliency, bytes]:
    """The map of one image file, and its PNG; an unreadable file raises ImageUnreadable."""
    picture = open_rgb(path, explainer.spec.resize)
    saliency = grad_cam(explainer, model_pixels(picture, explainer.spec), column)
    png = render_png(saliency.heat, picture.width, picture.height, explainer.spec)
    return saliency, png
