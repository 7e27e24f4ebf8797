"""Shared arrangements for the image tests: a project, uploads, zips."""

from __future__ import annotations

import io
import zipfile

from fastapi.testclient import TestClient

from tests.images import corpus

Part = tuple[str, tuple[str, bytes, str]]


def file_part(name: str, data: bytes, mime: str = "application/octet-stream") -> Part:
    return ("files", (name, data, mime))


def make_zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


def new_project(api: TestClient, name: str = "Glassware") -> int:
    resp = api.post("/api/v1/projects", json={"name": name})
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


def upload(api: TestClient, project_id: int, parts: list[Part], **form: str) -> dict[str, object]:
    resp = api.post(f"/api/v1/projects/{project_id}/images", files=parts, data=form)
    assert resp.status_code == 200, resp.text
    body: dict[str, object] = resp.json()
    return body


def jpegs(count: int, start: int = 0) -> list[Part]:
    return [
        file_part(f"img{i}.jpg", corpus.jpeg(seed=i), "image/jpeg")
        for i in range(start, start + count)
    ]
