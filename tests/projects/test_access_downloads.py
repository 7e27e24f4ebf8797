"""The dataset and the trained models leave only with a project manager (or an admin).

Labelers used to download the whole dataset and every model: the Export form and the
model links were on their pages, and the routes answered them. Now the routes answer
403, and the pages do not offer them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.config import Settings
from app.db import utcnow
from app.training.models import RunMode, RunStatus, TrainingRun
from app.training.service import run_dir
from tests.conftest import ClientFor, UserFactory
from tests.images.helpers import jpegs, upload


@dataclass
class Project:
    pid: int
    run: int


@pytest.fixture
def mona(make_user: UserFactory) -> User:
    return make_user(Role.manager, "mona")


@pytest.fixture
def project(
    api_as: ClientFor, mona: User, labeler: User, db: Session, settings: Settings
) -> Project:
    """Mona's project, with lena as a labeler and a finished run whose model is on disk."""
    api = api_as(mona)
    pid = api.post("/api/v1/projects", json={"name": "Glassware"}).json()["id"]
    assert api.post(f"/api/v1/projects/{pid}/members", json={"username": "lena"}).status_code == 201
    upload(api, pid, jpegs(2))
    run = TrainingRun(
        project_id=pid,
        mode=RunMode.linear,
        backbone="efficientnet_lite0",
        status=RunStatus.succeeded,
        phase="done",
        progress=1.0,
        classes=[[1, "glass"]],
        metrics={"accuracy": 1.0, "macro_f1": 1.0, "labels": ["glass"], "per_class": {}},
        finished_at=utcnow(),
    )
    db.add(run)
    db.commit()
    folder = run_dir(settings, run.id)
    folder.mkdir(parents=True)
    for name in ("model.onnx", "model.pt", "model.json"):
        (folder / name).write_bytes(b"{}")
    return Project(pid, run.id)


def _model(run: int) -> str:
    return f"/api/v1/training-runs/{run}/model?format=onnx"


def test_a_labeler_member_may_not_export_or_download_models(
    api_as: ClientFor, labeler: User, mona: User, project: Project
) -> None:
    lena, manager = api_as(labeler), api_as(mona)
    for url in (f"/api/v1/projects/{project.pid}/export", _model(project.run)):
        refused = lena.get(url)
        assert refused.status_code == 403, url
        assert refused.headers["content-type"].startswith("application/json")
        assert "managers" in refused.json()["detail"]
        allowed = manager.get(url)
        assert allowed.status_code == 200, url
        assert allowed.headers["content-type"] == "application/zip"
    # Reading the run stays open to her: only the model file is withheld.
    assert lena.get(f"/api/v1/training-runs/{project.run}").json()["status"] == "succeeded"


def _pages(client: TestClient, project: Project) -> tuple[str, str]:
    dashboard = client.get(f"/projects/{project.pid}")
    run = client.get(f"/projects/{project.pid}/runs/{project.run}")
    assert (dashboard.status_code, run.status_code) == (200, 200)
    return dashboard.text, run.text


def test_the_pages_offer_export_and_models_to_managers_only(
    browser_as: ClientFor, labeler: User, mona: User, admin: User, project: Project
) -> None:
    export = f'action="/api/v1/projects/{project.pid}/export"'
    for who in (mona, admin):
        dashboard, run = _pages(browser_as(who), project)
        assert export in dashboard, who.username
        assert f'href="{_model(project.run)}"' in run, who.username
        assert "Download this model" in run
    dashboard, run = _pages(browser_as(labeler), project)
    assert "/export" not in dashboard
    assert 'id="export-heading"' not in dashboard
    assert "/model?" not in run
    assert "Download this model" not in run
    assert "Metrics" in run  # she still sees how the model did


def test_an_archived_projects_managers_still_export_and_download(
    api_as: ClientFor, browser_as: ClientFor, mona: User, project: Project
) -> None:
    api = api_as(mona)
    assert api.patch(f"/api/v1/projects/{project.pid}", json={"archived": True}).status_code == 200
    assert api.get(f"/api/v1/projects/{project.pid}/export").status_code == 200
    assert api.get(_model(project.run)).status_code == 200
    dashboard, run = _pages(browser_as(mona), project)
    assert f'action="/api/v1/projects/{project.pid}/export"' in dashboard
    assert f'href="{_model(project.run)}"' in run
