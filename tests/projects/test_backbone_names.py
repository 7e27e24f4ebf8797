"""Backbone names the web accepts: the built-in ones, and timm / torchvision models by
name once a worker has published them; anything else answers 422 saying where to look."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.projects.backbone_catalog import publish
from app.projects.choices import BACKBONES
from app.projects.models import Project
from tests.conftest import ClientFor, csrf_from
from tests.labeling.helpers import Setup, arrange, label

PUBLISHED = [
    ("timm.resnet18.a1_in1k", "timm", None, 224, None),
    ("tv.resnet18", "torchvision", None, 224, 44.661),
]


@pytest.mark.parametrize("name", BACKBONES)
def test_every_built_in_backbone_is_accepted(api_as: ClientFor, manager: User, name: str) -> None:
    api = api_as(manager)
    pid = api.post("/api/v1/projects", json={"name": "Flowers"}).json()["id"]
    resp = api.patch(f"/api/v1/projects/{pid}", json={"backbone": name})
    assert resp.status_code == 200, resp.text
    assert resp.json()["backbone"] == name


def test_a_by_name_backbone_needs_a_worker_to_have_published_it(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    api = api_as(manager)
    pid = api.post("/api/v1/projects", json={"name": "Flowers"}).json()["id"]
    before = api.patch(f"/api/v1/projects/{pid}", json={"backbone": "tv.resnet18"})
    assert before.status_code == 422
    assert "none has yet" in before.json()["detail"]
    publish(db, PUBLISHED)
    db.commit()
    for name in ("tv.resnet18", "timm.resnet18.a1_in1k"):
        resp = api.patch(f"/api/v1/projects/{pid}", json={"backbone": name})
        assert resp.status_code == 200, resp.text
        assert resp.json()["backbone"] == name
    unknown = api.patch(f"/api/v1/projects/{pid}", json={"backbone": "timm.resnet18.nope"})
    assert unknown.status_code == 422
    detail = unknown.json()["detail"]
    assert "Unknown backbone 'timm.resnet18.nope'" in detail
    assert "timm.list_models(pretrained=True)" in detail
    assert "torchvision.models.list_models()" in detail
    assert "efficientnet_lite0" in detail
    assert api.get(f"/api/v1/projects/{pid}").json()["backbone"] == "timm.resnet18.a1_in1k"


@pytest.mark.parametrize(
    "name",
    [
        "resnet5",  # a typo of a built-in name: well formed, unknown
        "",
        "../../etc/passwd",
        "timm./etc",
        "timm.ResNet18",
        "tv.",
        "timm.resnet18 a1",
        "timm.r\u00e9snet",
        "timm.x\x00y",
        "timm." + "a" * 60,  # 65 characters: longer than the column
        "a" * 10_000,
        "<script>alert(1)</script>",
    ],
)
def test_malformed_and_hostile_names_are_refused(
    api_as: ClientFor, manager: User, db: Session, name: str
) -> None:
    publish(db, PUBLISHED)
    db.commit()
    api = api_as(manager)
    pid = api.post("/api/v1/projects", json={"name": "Flowers"}).json()["id"]
    resp = api.patch(f"/api/v1/projects/{pid}", json={"backbone": name})
    assert resp.status_code == 422
    assert api.get(f"/api/v1/projects/{pid}").json()["backbone"] == "efficientnet_lite0"


def test_a_run_with_an_unknown_backbone_is_refused(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    s: Setup = arrange(api, images=4)
    for image_id, cat in zip(s.image_ids, ["wine", "wine", "beer", "beer"], strict=True):
        label(api, image_id, s.categories[cat])
    url = f"/api/v1/projects/{s.pid}/training-runs"
    resp = api.post(url, json={"mode": "linear", "backbone": "tv.not_a_model"})
    assert resp.status_code == 422
    assert "Unknown backbone 'tv.not_a_model'" in resp.json()["detail"]
    assert api.get(url).json() == []
    ok = api.post(url, json={"mode": "linear", "backbone": "dinov2_small"})
    assert ok.status_code == 202, ok.text
    assert api.get(f"/api/v1/training-runs/{ok.json()['id']}").json()["backbone"] == "dinov2_small"


def test_the_schema_documents_the_choices(api_as: ClientFor, manager: User) -> None:
    schema = api_as(manager).get("/api/v1/openapi.json").json()
    backbone = schema["components"]["schemas"]["ProjectUpdate"]["properties"]["backbone"]
    text = str(backbone)
    assert "maxLength" in text
    assert "pattern" in text
    assert "dinov2_small" in text
    assert "timm.<name>" in text


def test_the_settings_form_takes_a_model_by_name(
    browser_as: ClientFor, manager: User, db: Session
) -> None:
    publish(db, PUBLISHED)
    db.commit()
    page = browser_as(manager)
    page.post("/projects", data={"csrf_token": csrf_from(page, "/projects"), "name": "Birds"})
    pid = db.scalar(select(Project.id).where(Project.name == "Birds"))
    html = page.get(f"/projects/{pid}").text
    assert "4096 features, 224 px" in html  # AlexNet's and VGG-16's facts, not only names
    assert "2048 features, 299 px" in html  # Inception-V3
    assert "offline" in html

    def save(**fields: str) -> int:
        data = {"csrf_token": csrf_from(page, "/projects"), "name": "Birds", **fields}
        resp = page.post(f"/projects/{pid}", data=data)
        if resp.status_code >= 400:
            assert "backbone" in resp.text.lower()  # the page says which field is wrong
        return resp.status_code

    assert save(backbone="efficientnet_lite0", backbone_name="tv.resnet18") == 303
    db.expire_all()
    assert db.get_one(Project, pid).backbone == "tv.resnet18"
    html = page.get(f"/projects/{pid}").text
    assert '<option value="tv.resnet18" selected>tv.resnet18 (by name)</option>' in html
    # The training form offers the project's by-name backbone as chosen, not a built-in.
    training = page.get(f"/projects/{pid}/training").text
    assert '<option value="tv.resnet18" selected>' in training
    assert save(backbone_name="timm.unknown.x") == 422  # well formed, but never published
    assert save(backbone_name="../../weights") == 400
    assert save(backbone="vgg16") == 303
    db.expire_all()
    assert db.get_one(Project, pid).backbone == "vgg16"
