"""The project page's "Labels from a CSV" form."""

from __future__ import annotations

from fastapi import FastAPI

from app.auth.models import User
from tests.conftest import ClientFor, csrf_from
from tests.images import corpus
from tests.images.helpers import file_part, new_project, upload


def test_a_manager_applies_a_csv_from_the_project_page(
    api_as: ClientFor, browser_as: ClientFor, admin: User, app: FastAPI
) -> None:
    api = api_as(admin)
    pid = new_project(api)
    upload(
        api, pid, [file_part("a.jpg", corpus.jpeg(seed=1)), file_part("b.jpg", corpus.jpeg(seed=2))]
    )
    page = browser_as(admin)
    html = page.get(f"/projects/{pid}").text
    assert 'action="/projects/1/labels-csv"' in html
    assert 'enctype="multipart/form-data"' in html
    token = csrf_from(page, f"/projects/{pid}")
    csv = b"filename,category_path\na.jpg,dog/<b>hound</b>\nb.jpg,cat\nc.jpg,cat\n"
    resp = page.post(
        f"/projects/{pid}/labels-csv",
        data={"csrf_token": token},
        files={"file": ("labels.csv", csv, "text/csv")},
    )
    assert resp.status_code == 303
    shown = page.get(resp.headers["location"]).text
    assert "Labels from labels.csv: 2 applied, 0 unchanged, 1 errors." in shown
    assert "line 4: no image named &#39;c.jpg&#39;" in shown
    assert "<b>hound</b>" not in shown
    labeled = api.get(f"/api/v1/projects/{pid}/images", params={"status": "labeled"}).json()
    assert labeled["total"] == 2


def test_a_bad_csv_gets_a_clear_error_and_changes_nothing(
    api_as: ClientFor, browser_as: ClientFor, admin: User
) -> None:
    api = api_as(admin)
    pid = new_project(api)
    upload(api, pid, [file_part("a.jpg", corpus.jpeg(seed=1))])
    page = browser_as(admin)
    token = csrf_from(page, f"/projects/{pid}")
    resp = page.post(
        f"/projects/{pid}/labels-csv",
        data={"csrf_token": token},
        files={"file": ("labels.csv", b"\xff\xfe not utf-8", "text/csv")},
    )
    assert resp.status_code == 422
    assert "not UTF-8" in resp.text
    assert api.get(f"/api/v1/projects/{pid}/categories").json() == []
