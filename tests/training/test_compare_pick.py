"""Compare with the wrong number of runs ticked: a 400 page that says how many were
ticked and leads back to the runs, not the generic error page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import User
from tests.conftest import ClientFor
from tests.training.test_pages import labeled, make_run


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def web(browser_as: ClientFor, admin: User) -> TestClient:
    return browser_as(admin)


@pytest.mark.parametrize("ticked", [1, 3])
def test_a_compare_with_one_or_three_ticked_leads_back_to_the_runs(
    api: TestClient, web: TestClient, db: Session, ticked: int
) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    runs = [make_run(db, s.pid) for _ in range(3)][:ticked]
    resp = web.get(f"/projects/{s.pid}/runs/compare", params=[("run", r.id) for r in runs])
    assert resp.status_code == 400
    assert "text/html" in resp.headers["content-type"]
    assert f"Tick exactly two runs to compare; you ticked {ticked}." in resp.text
    assert f'<a href="/projects/{s.pid}/training">Back to the training runs</a>' in resp.text
    assert "Back to your projects" not in resp.text
