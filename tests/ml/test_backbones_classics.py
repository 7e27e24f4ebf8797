"""The classic backbones with random weights (their pretrained ones cannot be had here):
each builds, gives the features its spec promises at its own input size, and declares
the preprocessing torchvision's or timm's weights were evaluated with."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
import timm
import torch
import torchvision.models as tv
from safetensors.torch import save as save_safetensors
from safetensors.torch import save_file
from torchvision.models import get_weight

from tests.ml.conftest import CPU
from workers.ml.architectures import timm_features, torchvision_features
from workers.ml.backbones import BACKBONES, get_spec, load_backbone

AUXILIARY = ("googlenet", "inception_v3")
CLASSICS = [
    "alexnet",
    "googlenet",
    "inception_v3",
    "vgg16",
    "mobilenet_v3_large",
    "efficientnet_b0",
    "dinov2_small",
]


@pytest.mark.parametrize("name", CLASSICS)
def test_a_classic_gives_its_features_at_its_input_size(name: str) -> None:
    spec = get_spec(name)
    model = load_backbone(name, CPU, random_weights=True)
    assert not model.training
    with torch.inference_mode():
        features = model(torch.randn(1, 3, spec.input_size, spec.input_size))
    assert features.shape == (1, spec.dim)
    assert torch.isfinite(features).all()


def test_the_classics_declared_sizes() -> None:
    dims = {name: BACKBONES[name].dim for name in CLASSICS}
    assert dims == {
        "alexnet": 4096,  # the penultimate fc7, not the 1000 logits
        "googlenet": 1024,
        "inception_v3": 2048,
        "vgg16": 4096,
        "mobilenet_v3_large": 1280,
        "efficientnet_b0": 1280,
        "dinov2_small": 384,
    }
    assert (BACKBONES["inception_v3"].input_size, BACKBONES["inception_v3"].resize) == (299, 342)
    assert BACKBONES["dinov2_small"].input_size == 224


@pytest.mark.parametrize("name", [n for n, s in BACKBONES.items() if s.source == "torchvision"])
def test_torchvision_preprocessing_is_the_weights_own(name: str) -> None:
    spec = BACKBONES[name]
    weights = get_weight(spec.weights)
    transform = weights.transforms()
    assert spec.input_size == transform.crop_size[0]
    assert spec.resize == transform.resize_size[0]
    assert spec.mean == pytest.approx(tuple(transform.mean))
    assert spec.std == pytest.approx(tuple(transform.std))
    assert spec.download_mb == pytest.approx(weights.meta["_file_size"])
    if name not in LEGACY_BILINEAR:
        assert spec.interpolation == transform.interpolation.value


# Registered before the spec said how to resample: their cached embeddings were made
# bilinear, and stay so (see BackboneSpec.interpolation).
LEGACY_BILINEAR = {"resnet50", "convnext_tiny", "vit_small"}


def test_the_crop_is_resampled_as_the_spec_says() -> None:
    from PIL import Image as PILImage

    from workers.ml.images import model_pixels

    rng = np.random.default_rng(0)
    picture = PILImage.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    b0 = BACKBONES["efficientnet_b0"]
    bicubic = model_pixels(picture, b0)
    bilinear = model_pixels(picture, replace(b0, interpolation="bilinear"))
    assert bicubic.shape == bilinear.shape == (224, 224, 3)
    assert not np.array_equal(bicubic, bilinear)


@pytest.mark.parametrize("name", [n for n, s in BACKBONES.items() if s.source == "timm"])
def test_timm_preprocessing_is_the_pretrained_cfg(name: str) -> None:
    spec = BACKBONES[name]
    model = timm.create_model(
        spec.weights.removeprefix("timm/"), pretrained=False, **dict(spec.timm_kwargs)
    )
    # A model built at another size than its weights' (DINOv2 at 224, not 518) is asked
    # for at that size; timm derives the rest (resize from crop_pct, mean, std).
    size = dict(spec.timm_kwargs).get("img_size")
    args = {"input_size": (3, size, size)} if size else {}
    config = timm.data.resolve_data_config(args, model=model)
    transform = timm.data.create_transform(**config)
    resize, crop = transform.transforms[0], transform.transforms[1]
    assert config["input_size"] == (3, spec.input_size, spec.input_size)
    assert resize.size == spec.resize
    assert tuple(crop.size) == (spec.input_size, spec.input_size)
    assert spec.mean == pytest.approx(config["mean"])
    assert spec.std == pytest.approx(config["std"])
    if name not in LEGACY_BILINEAR:
        assert spec.interpolation == config["interpolation"]


def test_dinov2_weights_at_518_load_at_224(tmp_path: Path) -> None:
    """DINOv2's checkpoint is trained at 518 px (37x37 patches); loaded at 224 px its
    position embedding is resized to 16x16 by timm's filter, the other weights as they are."""
    source = timm.create_model("vit_small_patch14_dinov2", pretrained=False, num_classes=0)
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    assert state["pos_embed"].shape == (1, 1 + 37 * 37, 384)
    path = tmp_path / "model.safetensors"
    save_file(state, str(path))
    spec = BACKBONES["dinov2_small"]
    model = timm_features(spec.arch, path, **dict(spec.timm_kwargs))
    loaded = model.state_dict()
    assert loaded["pos_embed"].shape == (1, 1 + 16 * 16, 384)
    assert torch.equal(loaded["patch_embed.proj.weight"], state["patch_embed.proj.weight"])
    assert torch.equal(loaded["blocks.11.mlp.fc2.weight"], state["blocks.11.mlp.fc2.weight"])
    with torch.inference_mode():
        assert model.eval()(torch.randn(1, 3, 224, 224)).shape == (1, 384)


@pytest.mark.parametrize(
    "name",
    [
        n
        for n, s in BACKBONES.items()
        if s.source == "torchvision" and n != "vgg16"  # VGG: 1 GB for two copies; as AlexNet
    ],
)
def test_a_torchvision_checkpoint_loads_strictly(name: str) -> None:
    """A state dict laid out as torchvision's pretrained file (GoogLeNet and Inception-V3
    with their auxiliary heads) loads with no key missing or left over."""
    arch = BACKBONES[name].arch
    extra = {"aux_logits": True, "init_weights": False} if arch in AUXILIARY else {}
    state = tv.get_model(arch, weights=None, **extra).state_dict()
    model = torchvision_features(arch, state)
    loaded = model.state_dict()
    first = next(iter(loaded))
    assert torch.equal(loaded[first], state[first])
    assert not any(key.startswith(("aux1.", "aux2.", "AuxLogits.")) for key in loaded)


def test_dinov2_through_the_hub_mirror_loads_at_224(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry's own path: DINOv2's 518 px checkpoint, served as the hub serves it
    (on the loopback), checked by its declared sha256, loaded at 224 px."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    source = timm.create_model("vit_small_patch14_dinov2", pretrained=False, num_classes=0)
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    content = save_safetensors(state)
    path = "/timm/vit_small_patch14_dinov2.lvd142m/resolve/main/model.safetensors"
    headers = {"X-Linked-Etag": f'"{hashlib.sha256(content).hexdigest()}"'}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: bool) -> None:
            if self.path != path:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(content)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if body:
                self.wfile.write(content)

        def do_GET(self) -> None:
            self._answer(True)

        def do_HEAD(self) -> None:
            self._answer(False)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        mirror = f"http://127.0.0.1:{httpd.server_address[1]}"
        model = load_backbone("dinov2_small", CPU, allow_download=True, mirror=mirror)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
    loaded = model.state_dict()
    assert loaded["pos_embed"].shape == (1, 1 + 16 * 16, 384)
    assert torch.equal(loaded["blocks.0.attn.qkv.weight"], state["blocks.0.attn.qkv.weight"])
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 224, 224)).shape == (1, 384)
