"""Arrangements for the labeling tests: a project with images, members, categories."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from tests.images.helpers import jpegs, new_project, upload


@dataclass
class Setup:
    pid: int
    image_ids: list[int]
    categories: dict[str, int]


def arrange(
    admin_api: TestClient,
    images: int = 5,
    name: str = "Glassware",
    cats: tuple[str, ...] = ("wine", "beer"),
) -> Setup:
    pid = new_project(admin_api, name)
    ids: list[int] = []
    if images:
        body = upload(admin_api, pid, jpegs(images))
        ids = sorted(int(i["id"]) for i in body["imported"])  # type: ignore[attr-defined]
    categories = {}
    for cat in cats:
        resp = admin_api.post(
            f"/api/v1/projects/{pid}/categories", json={"name": cat, "parent_id": None}
        )
        assert resp.status_code == 201, resp.text
        categories[cat] = int(resp.json()["id"])
    return Setup(pid, ids, categories)


def join(admin_api: TestClient, pid: int, username: str, role: str = "labeler") -> None:
    resp = admin_api.post(
        f"/api/v1/projects/{pid}/members", json={"username": username, "role": role}
    )
    assert resp.status_code == 201, resp.text


def next_image(api: TestClient, pid: int, **params: str | int) -> int | None:
    resp = api.get(f"/api/v1/projects/{pid}/queue/next", params=params)
    if resp.status_code == 204:
        return None
    assert resp.status_code == 200, resp.text
    return int(resp.json()["image_id"])


def label(
    api: TestClient, image_id: int, category_id: int, key: str | None = None
) -> dict[str, object]:
    headers = {"Idempotency-Key": key} if key else {}
    resp = api.post(
        f"/api/v1/images/{image_id}/annotations", json={"category_id": category_id}, headers=headers
    )
    assert resp.status_code == 201, resp.text
    body: dict[str, object] = resp.json()
    return body
