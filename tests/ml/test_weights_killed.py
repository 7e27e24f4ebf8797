"""A worker killed with -9 in the middle of a weight download leaves no file that could
pass for the weights: the next load downloads them again and checks them."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from tests.support.processes import wait_for
from workers.ml.weights import Fetch, WeightsUnavailable, torchvision_file

REPO = Path(__file__).resolve().parents[2]


def _weights() -> bytes:
    buffer = io.BytesIO()
    # 2.4 MB: its first half fills the downloader's first 1 MB read, so bytes hit the disk.
    torch.save(torch.nn.Linear(1024, 600).state_dict(), buffer)
    return buffer.getvalue()


@pytest.fixture
def stalling_server() -> Iterator[tuple[str, bytes, threading.Event]]:
    """Serves the first request's first half, then stalls until released; later ones whole."""
    content = _weights()
    release = threading.Event()
    calls: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            calls.append(1)
            self.send_response(200)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            if len(calls) == 1:
                self.wfile.write(content[: len(content) // 2])
                self.wfile.flush()
                release.wait(timeout=60)
                return
            self.wfile.write(content)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", content, release
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_a_download_killed_midway_is_not_taken_for_the_weights(
    stalling_server: tuple[str, bytes, threading.Event], tmp_path: Path
) -> None:
    mirror, content, release = stalling_server
    prefix = hashlib.sha256(content).hexdigest()[:8]
    url = f"https://download.pytorch.org/models/tiny-{prefix}.pth"
    cache = tmp_path / "cache"
    script = (
        "import sys; from pathlib import Path; from workers.ml.weights import Fetch, "
        "torchvision_file; torchvision_file('tiny', sys.argv[1], "
        "Fetch(True, mirror=sys.argv[2], cache_dir=Path(sys.argv[3])))"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, url, mirror, str(cache)], cwd=REPO)
    try:
        wait_for(
            lambda: any(p.stat().st_size > 0 for p in cache.glob(".*.part")),
            timeout=60,
            what="the download to be half-way",
        )
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not (cache / f"tiny-{prefix}.pth").exists()  # only the dead process's .part
    release.set()
    with pytest.raises(WeightsUnavailable, match="downloads are turned off"):
        torchvision_file("tiny", url, Fetch(False, cache_dir=cache))
    path = torchvision_file("tiny", url, Fetch(True, mirror=mirror, cache_dir=cache))
    assert path.read_bytes() == content
    assert [p.name for p in cache.iterdir()] == [path.name]  # the dead one's .part is gone


def test_a_connection_that_drops_midway_keeps_nothing(
    stalling_server: tuple[str, bytes, threading.Event], tmp_path: Path
) -> None:
    mirror, content, release = stalling_server
    release.set()  # the first answer ends after half of the file
    prefix = hashlib.sha256(content).hexdigest()[:8]
    url = f"https://download.pytorch.org/models/tiny-{prefix}.pth"
    cache = tmp_path / "cache"
    with pytest.raises(WeightsUnavailable, match=r"weights cannot be fetched.*sha256"):
        torchvision_file("tiny", url, Fetch(True, mirror=mirror, cache_dir=cache))
    assert not cache.exists() or not list(cache.iterdir())
    assert torchvision_file("tiny", url, Fetch(True, mirror=mirror, cache_dir=cache)).is_file()
