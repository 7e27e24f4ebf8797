"""The project's held-out test split: which images are in it (fixed by content, about
the share of every class), that runs never train on them, how it is set (API and form,
with hostile values and the wrong people), and its scores shown apart on the run page."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.images.models import Image
from app.projects.models import Project
from app.training import dataset
from app.training.models import RunMode
from tests.conftest import ClientFor, UserFactory, csrf_from
from tests.labeling.helpers import join, label
from tests.training.test_pages import labeled, make_run


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def web(browser_as: ClientFor, admin: User) -> TestClient:
    return browser_as(admin)


def shas(count: int) -> list[str]:
    return [hashlib.sha256(f"picture {n}".encode()).hexdigest() for n in range(count)]


def test_membership_is_fixed_by_content_and_about_the_share() -> None:
    pictures = shas(4000)
    at_20 = {s for s in pictures if dataset.in_test_split(7, s, 0.2)}
    assert 0.18 < len(at_20) / len(pictures) < 0.22
    assert at_20 == {s for s in pictures if dataset.in_test_split(7, s, 0.2)}  # stable
    # Raising the share only adds images; none leaves the test split for training.
    assert at_20 < {s for s in pictures if dataset.in_test_split(7, s, 0.3)}
    assert not any(dataset.in_test_split(7, s, 0.0) for s in pictures)
    # Another project draws its own split from the same pictures.
    other = {s for s in pictures if dataset.in_test_split(8, s, 0.2)}
    assert other != at_20
    assert 0.18 < len(other) / len(pictures) < 0.22


def _set_share(db: Session, pid: int, share: float) -> Project:
    project = db.get_one(Project, pid)
    project.test_share = share
    db.commit()
    return project


def test_build_keeps_test_images_out_of_training_and_never_moves_them_as_labels_grow(
    api: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 12, "beer": 12}, images=40)
    project = _set_share(db, s.pid, 0.4)
    first = dataset.build(db, project, None)
    sha = dict(db.execute(select(Image.id, Image.sha256).where(Image.project_id == s.pid)).all())
    expected = {i for i in s.image_ids[:24] if dataset.in_test_split(s.pid, sha[i], 0.4)}
    assert expected, "the fixture should put some labeled pictures in the test split"
    assert set(first.test_image_ids) == expected
    assert not set(first.image_ids) & expected
    assert set(first.image_ids) | expected == set(s.image_ids[:24])
    assert first.report()["test_images"] == len(expected)
    # Label the rest: the old test images all stay in the test split.
    for image_id in s.image_ids[24:]:
        label(api, image_id, s.categories["wine"])
    db.expire_all()
    second = dataset.build(db, db.get_one(Project, s.pid), None)
    assert set(first.test_image_ids) <= set(second.test_image_ids)
    assert not set(second.image_ids) & set(second.test_image_ids)
    # A relabel does not move an image either.
    moved = first.test_image_ids[0]
    label(api, moved, s.categories["beer"])
    db.expire_all()
    third = dataset.build(db, db.get_one(Project, s.pid), None)
    assert moved in third.test_image_ids
    assert moved not in third.image_ids


def test_no_share_means_no_test_split(api: TestClient, db: Session) -> None:
    s = labeled(api, {"wine": 3, "beer": 3}, images=6)
    data = dataset.build(db, db.get_one(Project, s.pid), None)
    assert data.test_image_ids == []
    assert len(data.image_ids) == 6
    assert "test_images" not in data.report()


def test_the_share_is_set_through_the_api(api: TestClient) -> None:
    pid = labeled(api, {}, images=0).pid
    resp = api.patch(f"/api/v1/projects/{pid}", json={"test_share": 0.2})
    assert resp.status_code == 200, resp.text
    assert resp.json()["test_share"] == 0.2
    assert api.get(f"/api/v1/projects/{pid}").json()["test_share"] == 0.2
    assert api.patch(f"/api/v1/projects/{pid}", json={"test_share": 0}).json()["test_share"] == 0


@pytest.mark.parametrize(
    "raw",
    [
        '{"test_share": -0.01}',
        '{"test_share": 0.51}',
        '{"test_share": 1e308}',
        '{"test_share": NaN}',
        '{"test_share": Infinity}',
        '{"test_share": "a fifth"}',
        '{"test_share": [0.2]}',
        '{"test_share": {"$gt": 0}}',
        '{"test_share": "' + "9" * 10_000 + '"}',
        '{"test_share": 0.2',
    ],
)
def test_hostile_or_malformed_shares_are_refused(api: TestClient, raw: str) -> None:
    pid = labeled(api, {}, images=0).pid
    resp = api.patch(
        f"/api/v1/projects/{pid}", content=raw, headers={"Content-Type": "application/json"}
    )
    assert resp.status_code == 422, resp.text
    assert api.get(f"/api/v1/projects/{pid}").json()["test_share"] == 0


def test_only_the_project_s_managers_set_the_share(
    api: TestClient, api_as: ClientFor, make_user: UserFactory
) -> None:
    pid = labeled(api, {}, images=0).pid
    labeler = make_user(Role.labeler, username="share-labeler")
    join(api, pid, labeler.username)
    body = {"test_share": 0.3}
    assert api_as(labeler).patch(f"/api/v1/projects/{pid}", json=body).status_code == 403
    stranger = make_user(Role.labeler, username="share-stranger")
    elsewhere = labeled(api, {}, images=0, name="Elsewhere").pid
    join(api, elsewhere, stranger.username, role="manager")
    assert api_as(stranger).patch(f"/api/v1/projects/{pid}", json=body).status_code == 404
    assert api.get(f"/api/v1/projects/{pid}").json()["test_share"] == 0


def test_the_settings_form_sets_the_share_and_refuses_bad_values(
    api: TestClient, web: TestClient
) -> None:
    pid = labeled(api, {}, images=0).pid
    page = web.get(f"/projects/{pid}?tab=settings").text
    assert 'name="test_share" type="number" min="0" max="0.5"' in page
    token = csrf_from(web, "/projects")
    form = {"csrf_token": token, "name": "Glassware", "description": ""}
    resp = web.post(f"/projects/{pid}", data={**form, "test_share": "0.25"})
    assert resp.status_code == 303, resp.text
    assert api.get(f"/api/v1/projects/{pid}").json()["test_share"] == 0.25
    assert 'id="test-share"' in web.get(f"/projects/{pid}?tab=settings").text
    for bad in ("0.6", "-1", "nan", "a quarter", "<script>alert(1)</script>"):
        resp = web.post(f"/projects/{pid}", data={**form, "test_share": bad})
        assert resp.status_code == 400, (bad, resp.status_code)  # a form error, as elsewhere
        assert "Test share:" in resp.text
        assert "<script>alert(1)</script>" not in resp.text
    assert api.get(f"/api/v1/projects/{pid}").json()["test_share"] == 0.25
    # Left blank, the field keeps its value (as every other learning setting does).
    assert web.post(f"/projects/{pid}", data={**form, "test_share": ""}).status_code == 303
    assert api.get(f"/api/v1/projects/{pid}").json()["test_share"] == 0.25


def test_the_run_page_shows_test_scores_apart_from_validation(
    api: TestClient, web: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    report = {"evaluation": "held-out split (2 images)", "test_images": 5}
    run = make_run(db, s.pid, mode=RunMode.finetune, classes=[(1, "wine"), (2, "beer")],
                   matrix=[[1, 0], [0, 1]], accuracy=0.9, macro_f1=0.88, report=report)  # fmt: skip
    run.metrics = {
        **(run.metrics or {}),
        "best_epoch": 1,
        "history": [{"epoch": 1, "train_loss": 0.5, "val_loss": 0.4}],
        "test": {"accuracy": 0.6, "macro_f1": 0.55, "count": 5, "share": 0.2},
    }
    db.commit()
    html = web.get(f"/projects/{s.pid}/runs/{run.id}").text
    assert "<dt>Accuracy</dt><dd>0.900</dd>" in html  # validation, as before
    test = html.split('id="test-split-heading"', 1)[1].split("</dl>", 1)[0]
    assert ">Test split: images no run trained or tuned on</h3>" in test
    assert "<dt>Test accuracy</dt><dd>0.600</dd>" in test
    assert "<dt>Test macro-F1</dt><dd>0.550</dd>" in test
    assert "<dt>Test images</dt><dd>5</dd>" in test
    assert "keeps 20% of its labeled images apart" in html
    assert "5 labeled image(s) are the project&#39;s test split" in html
    api_run = api.get(f"/api/v1/training-runs/{run.id}").json()
    assert api_run["metrics"]["test"] == {"accuracy": 0.6, "macro_f1": 0.55, "count": 5,
                                          "share": 0.2}  # fmt: skip
    plain = make_run(db, s.pid, classes=[(1, "wine"), (2, "beer")], matrix=[[1, 0], [0, 1]],
                     accuracy=0.9, macro_f1=0.88)  # fmt: skip
    assert "test-split-heading" not in web.get(f"/projects/{s.pid}/runs/{plain.id}").text
