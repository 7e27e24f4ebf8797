"""Who may export, and what bad parameters get back."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.auth.models import User
from tests.conftest import ClientFor
from tests.exports.helpers import export, layout, new_project, upload_zip


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def pid(api: TestClient) -> int:
    pid = new_project(api, "Glassware")
    upload_zip(api, pid, layout({"glass/wine": 2, "glass/beer": 2}))
    return pid


def test_managers_export_labelers_may_not_and_outsiders_see_nothing(
    api: TestClient,
    pid: int,
    api_as: ClientFor,
    labeler: User,
    manager: User,
    client: TestClient,
) -> None:
    outsider = api_as(labeler)
    resp = outsider.get(f"/api/v1/projects/{pid}/export")
    assert resp.status_code == 404
    assert resp.json()["detail"] == f"No project with id {pid}."
    assert client.get(f"/api/v1/projects/{pid}/export").status_code == 401
    assert api.get("/api/v1/projects/999/export").status_code == 404
    # A global manager who is not a member is an outsider too.
    mona = api_as(manager)
    assert mona.get(f"/api/v1/projects/{pid}/export").status_code == 404
    # A labeler member labels; the whole dataset is not theirs to take away.
    added = api.post(f"/api/v1/projects/{pid}/members", json={"username": labeler.username})
    assert added.status_code == 201, added.text
    refused = outsider.get(f"/api/v1/projects/{pid}/export", params={"format": "csv"})
    assert refused.status_code == 403
    assert "managers" in refused.json()["detail"]
    assert "zip" not in refused.headers["content-type"]
    made = {"username": manager.username, "role": "manager"}
    assert api.post(f"/api/v1/projects/{pid}/members", json=made).status_code == 201
    assert len(export(mona, pid).namelist()) == 5


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"format": "xml"}, ["format", "imagefolder"]),
        ({"level": 0}, ["level"]),
        ({"level": "top"}, ["level"]),
        ({"ratios": "1,1,1"}, ["ratios", "sum to 3"]),
        ({"ratios": "a,b,c"}, ["ratios", "not numbers"]),
        ({"ratios": "0.9,0.1"}, ["ratios", "three numbers"]),
        ({"split": "maybe"}, ["split"]),
        ({"seed": "x"}, ["seed"]),
    ],
)
def test_bad_parameters_get_a_clear_422(
    api: TestClient, pid: int, params: dict[str, object], words: list[str]
) -> None:
    resp = api.get(f"/api/v1/projects/{pid}/export", params=params)
    assert resp.status_code == 422
    detail = resp.json()["detail"]
    assert isinstance(detail, str)
    for word in words:
        assert word in detail


def test_an_empty_project_exports_just_a_manifest(api: TestClient) -> None:
    pid = new_project(api, "Empty")
    archive = export(api, pid, format="coco", split="true")
    assert sorted(archive.namelist()) == ["annotations.json", "manifest.json"]


def test_openapi_documents_the_export(api: TestClient) -> None:
    schema = api.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/projects/{project_id}/export"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert names >= {"format", "level", "split", "ratios", "seed", "images"}
    assert "application/zip" in operation["responses"]["200"]["content"]
