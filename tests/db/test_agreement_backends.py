"""The agreement API on SQLite and on real PostgreSQL: the overlap query joins two
annotations per image and the image itself; both backends must give the same figures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.auth import service as auth
from app.auth.models import Role
from app.config import Settings
from app.main import create_app
from app.migrate import upgrade
from tests.images.helpers import jpegs, upload
from tests.labeling.helpers import label, next_image

PW = "long-enough-pw"


@pytest.fixture
def app_client(empty_database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    upgrade(empty_database_url)
    settings = Settings(
        env="test", data_dir=tmp_path, database_url=empty_database_url, secret_key="k" * 40
    )
    app = create_app(settings)
    with app.state.sessionmaker() as s, s.begin():
        auth.create_user(s, "mona", PW, Role.manager)
        auth.create_user(s, "ann", PW, Role.labeler)
        auth.create_user(s, "bob", PW, Role.labeler)
    with TestClient(app, follow_redirects=False) as c:
        yield c
    app.state.engine.dispose()


def _as(client: TestClient, username: str) -> TestClient:
    token = client.post("/api/v1/auth/token", data={"username": username, "password": PW})
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return TestClient(client.app, headers=bearer)


def test_agreement_on_both_backends(app_client: TestClient) -> None:
    mona, ann, bob = (_as(app_client, u) for u in ("mona", "ann", "bob"))
    pid = int(mona.post("/api/v1/projects", json={"name": "Glass"}).json()["id"])
    assert mona.patch(f"/api/v1/projects/{pid}", json={"overlap_percent": 100}).is_success
    for who in ("ann", "bob"):
        resp = mona.post(
            f"/api/v1/projects/{pid}/members", json={"username": who, "role": "labeler"}
        )
        assert resp.status_code == 201, resp.text
    upload(mona, pid, jpegs(6))
    cats = {
        name: int(mona.post(f"/api/v1/projects/{pid}/categories", json={"name": name}).json()["id"])
        for name in ("wine", "beer")
    }
    plan = [("wine", "wine"), ("wine", "wine"), ("beer", "beer"), ("beer", "beer"),
            ("wine", "beer"), ("beer", "wine")]  # fmt: skip
    for first, second in plan:
        image = next_image(ann, pid)
        assert image is not None
        label(ann, image, cats[first])
        assert next_image(bob, pid) == image
        label(bob, image, cats[second])

    body = mona.get(f"/api/v1/projects/{pid}/agreement").json()
    assert body["images"] == 6
    # Each of ann and bob said wine 3 times and beer 3 times; 4 of 6 agree:
    # observed 2/3, chance 1/2 -> Fleiss and Cohen 1/3; alpha 1 - 11 * 4 / (144 - 72).
    assert body["kappa"] == pytest.approx(1 / 3)
    assert body["pairs"][0]["kappa"] == pytest.approx(1 / 3)
    assert body["alpha"] == pytest.approx(1 - 44 / 72)
    assert [a["username"] for a in body["annotators"]] == ["ann", "bob"]
    # Two disputes wait for mona: only the four agreed images have a final label.
    assert [(a["compared"], a["agreement_with_final"]) for a in body["annotators"]] == [
        (4, 1.0),
        (4, 1.0),
    ]
    (confused,) = body["confusions"]
    assert confused["images"] == 2
    assert sorted(confused["category_ids"]) == sorted(cats.values())
