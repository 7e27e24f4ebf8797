"""Weight downloads against a real HTTP server on the loopback: a file is fetched once,
checked by hash before it is kept, refused when its hash is wrong, never fetched when
downloads are off, and a server that is down or silent fails clearly and quickly."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import huggingface_hub
import pytest
import timm
import torch
from safetensors.torch import save as save_safetensors

from tests.ml.conftest import CPU
from workers.ml.backbones import load_backbone
from workers.ml.weights import (
    Fetch,
    WeightsUnavailable,
    hf_file,
    sha256_of,
    torchvision_file,
)

TINY_TIMM = "test_vit.r160_in1k"  # timm's own test model: a few hundred kB


@dataclass
class Served:
    """What the loopback server answers: path -> (body, extra headers); what it was asked."""

    files: dict[str, tuple[bytes, dict[str, str]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def server() -> Iterator[Served]:
    served = Served()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, body: bool) -> None:
            served.requests.append((self.command, self.path))
            found = served.files.get(self.path)
            if found is None:
                self.send_error(404)
                return
            content, headers = found
            self.send_response(200)
            self.send_header("Content-Length", str(len(content)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if body:
                self.wfile.write(content)

        def do_GET(self) -> None:
            self._answer(body=True)

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture
def caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty torch hub and Hugging Face caches: nothing of the machine's is found."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    return tmp_path / "torch" / "hub" / "checkpoints"


def _state_bytes() -> bytes:
    model = torch.nn.Linear(8, 3)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def _tv_url(name: str, content: bytes, wrong: bool = False) -> str:
    digest = hashlib.sha256(content).hexdigest()
    prefix = ("0" if digest[0] != "0" else "1") + digest[1:8] if wrong else digest[:8]
    return f"https://download.pytorch.org/models/{name}-{prefix}.pth"


def test_a_torchvision_file_is_fetched_once_and_checked(server: Served, caches: Path) -> None:
    content = _state_bytes()
    url = _tv_url("tiny", content)
    server.files[url.removeprefix("https://download.pytorch.org")] = (content, {})
    path = torchvision_file("tiny", url, Fetch(allow_download=True, mirror=server.url))
    assert path.parent == caches
    assert path.read_bytes() == content
    state = torch.load(path, map_location="cpu", weights_only=True)
    torch.nn.Linear(8, 3).load_state_dict(state)  # a real state dict came through
    # Cached once per machine: the second load asks nobody, even with downloads off.
    assert torchvision_file("tiny", url, Fetch(allow_download=False)) == path
    assert [r for r in server.requests if r[0] == "GET"] == [("GET", f"/models/{path.name}")]


def test_a_file_with_the_wrong_hash_is_refused_and_not_cached(server: Served, caches: Path) -> None:
    content = _state_bytes()
    url = _tv_url("tiny", content, wrong=True)
    server.files[url.removeprefix("https://download.pytorch.org")] = (content, {})
    with pytest.raises(WeightsUnavailable, match="sha256") as error:
        torchvision_file("tiny", url, Fetch(allow_download=True, mirror=server.url))
    assert "weights cannot be fetched" in str(error.value)
    assert not caches.exists() or not [p for p in caches.rglob("*") if p.is_file()]


def test_a_damaged_cached_file_is_refused(caches: Path) -> None:
    content = _state_bytes()
    url = _tv_url("tiny", content)
    caches.mkdir(parents=True)
    (caches / Path(url).name).write_bytes(content[:-10] + b"0123456789")
    with pytest.raises(WeightsUnavailable, match="damaged"):
        torchvision_file("tiny", url, Fetch(allow_download=False))


def test_downloads_turned_off_ask_no_server(server: Served, caches: Path) -> None:
    content = _state_bytes()
    url = _tv_url("tiny", content)
    server.files[url.removeprefix("https://download.pytorch.org")] = (content, {})
    with pytest.raises(WeightsUnavailable, match="downloads are turned off"):
        torchvision_file("tiny", url, Fetch(allow_download=False, mirror=server.url))
    with pytest.raises(WeightsUnavailable, match="downloads are turned off"):
        load_backbone(f"timm.{TINY_TIMM}", CPU, allow_download=False, mirror=server.url)
    assert server.requests == []


def test_a_server_that_is_down_fails_clearly(caches: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = _tv_url("tiny", _state_bytes())
    with pytest.raises(WeightsUnavailable, match="could not download") as error:
        torchvision_file("tiny", url, Fetch(allow_download=True, mirror=f"http://127.0.0.1:{port}"))
    assert "refused" in str(error.value).lower()
    assert not caches.exists() or not [p for p in caches.rglob("*") if p.is_file()]


def test_a_silent_server_times_out(caches: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)  # accepts connections (the kernel does) and never answers
    try:
        url = _tv_url("tiny", _state_bytes())
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(WeightsUnavailable, match="timed out"):
            torchvision_file(
                "tiny", url, Fetch(True, mirror=f"http://127.0.0.1:{port}", timeout=0.5)
            )
        assert time.monotonic() - started < 10
    finally:
        listener.close()


def _serve_tiny_timm(server: Served, declared: str | None = None) -> dict[str, torch.Tensor]:
    model = timm.create_model(TINY_TIMM, pretrained=False)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    content = save_safetensors(state)
    sha = declared or hashlib.sha256(content).hexdigest()
    path = f"/timm/{TINY_TIMM}/resolve/main/model.safetensors"
    server.files[path] = (content, {"X-Linked-Etag": f'"{sha}"'})
    return state


def test_a_timm_model_by_name_loads_through_the_hub_mirror(server: Served, caches: Path) -> None:
    state = _serve_tiny_timm(server)
    model = load_backbone(f"timm.{TINY_TIMM}", CPU, allow_download=True, mirror=server.url)
    loaded = model.state_dict()
    assert torch.equal(loaded["patch_embed.proj.weight"], state["patch_embed.proj.weight"])
    with torch.inference_mode():
        assert model(torch.randn(1, 3, 160, 160)).shape == (1, 64)
    kept = list((caches / "hf").rglob("*.safetensors"))
    assert len(kept) == 1
    assert sha256_of(kept[0]).startswith(kept[0].stem.rsplit("-", 1)[1])
    # The second load is offline: the checked copy is found by its hash-carrying name.
    again = hf_file("x", f"timm/{TINY_TIMM}", "model.safetensors", Fetch(allow_download=False))
    assert again == kept[0]
    assert sum(1 for r in server.requests if r[0] == "GET") == 1


def test_a_hub_file_that_is_not_what_the_hub_declares_is_refused(
    server: Served, caches: Path
) -> None:
    _serve_tiny_timm(server, declared="ab" * 32)
    with pytest.raises(WeightsUnavailable, match=r"weights cannot be fetched.*sha256"):
        load_backbone(f"timm.{TINY_TIMM}", CPU, allow_download=True, mirror=server.url)
    assert not list(caches.rglob("*.safetensors"))


def test_a_hub_file_without_a_declared_hash_is_refused(server: Served, caches: Path) -> None:
    path = f"/timm/{TINY_TIMM}/resolve/main/model.safetensors"
    server.files[path] = (b"weights of unknown origin", {})
    with pytest.raises(WeightsUnavailable, match="declares no sha256"):
        hf_file("x", f"timm/{TINY_TIMM}", "model.safetensors", Fetch(True, mirror=server.url))
    assert not [r for r in server.requests if r[0] == "GET"]  # never downloaded


def test_the_registry_names_its_weight_files_for_the_mirror(server: Served, caches: Path) -> None:
    """A registry backbone asks the mirror for the file its real origin serves."""
    with pytest.raises(WeightsUnavailable):
        load_backbone("mobilenet_v3_large", CPU, allow_download=True, mirror=server.url)
    with pytest.raises(WeightsUnavailable):
        load_backbone("dinov2_small", CPU, allow_download=True, mirror=server.url)
    assert ("GET", "/models/mobilenet_v3_large-5c1a4163.pth") in server.requests
    assert (
        "HEAD",
        "/timm/vit_small_patch14_dinov2.lvd142m/resolve/main/model.safetensors",
    ) in server.requests
