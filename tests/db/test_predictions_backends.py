"""The predictions API, the gallery's prediction filters and the image page's previous /
next, on SQLite and on real PostgreSQL: the disagreement test packs (label, class) pairs
into 64-bit integers, which PostgreSQL must compute without overflowing its 32-bit ids."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.auth import service as auth
from app.auth.models import Role
from app.config import Settings
from app.main import create_app
from app.migrate import upgrade
from tests.conftest import csrf_from
from tests.labeling.helpers import label
from tests.training.prediction_rows import forest, one_hot, reject, write_run

PW = "long-enough-pw"


@pytest.fixture
def client(empty_database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    upgrade(empty_database_url)
    settings = Settings(
        env="test", data_dir=tmp_path, database_url=empty_database_url, secret_key="k" * 40
    )
    app = create_app(settings)
    with app.state.sessionmaker() as s, s.begin():
        auth.create_user(s, "mona", PW, Role.manager)
    with TestClient(app, follow_redirects=False) as c:
        yield c
    app.state.engine.dispose()


def test_filters_and_neighbours_on_both_backends(client: TestClient) -> None:
    token = client.post("/api/v1/auth/token", data={"username": "mona", "password": PW})
    api = TestClient(
        client.app, headers={"Authorization": f"Bearer {token.json()['access_token']}"}
    )
    f = forest(api, images=6)
    for image_id, name in zip(f.ids, ("daisy", "rose", "oak", "flower"), strict=False):
        label(api, image_id, f[name])
    reject(api, f.ids[4])
    classes = [(f["daisy"], "flower/daisy"), (f["rose"], "flower/rose"), (f["oak"], "tree/oak")]
    plan = [(0, 0.875), (0, 0.625), (1, 0.75), (1, 0.5), (2, 0.875), (2, 0.5)]
    with client.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        run = write_run(db, f.pid, classes,
                        {i: one_hot(c, 3, p) for i, (c, p) in zip(f.ids, plan, strict=True)},
                        level=2)  # fmt: skip

    def ids(**params: object) -> list[int]:
        resp = api.get(f"/api/v1/projects/{f.pid}/predictions", params=params)
        assert resp.status_code == 200, resp.text
        assert resp.json()["run_id"] == run
        return [i["image_id"] for i in resp.json()["items"]]

    assert ids() == f.ids
    assert ids(disagrees=True) == [f.ids[1], f.ids[2]]
    assert ids(category_id=f["flower"], min_confidence=0.6) == [f.ids[0], f.ids[1], f.ids[2]]
    assert ids(max_confidence=0.5, limit=1, offset=1) == [f.ids[5]]

    login = client.post("/login", data={"username": "mona", "password": PW,
                                        "csrf_token": csrf_from(client)})  # fmt: skip
    assert login.status_code == 303
    gallery = client.get(f"/projects/{f.pid}/images", params={"disagrees": "1", "sort": "oldest"})
    assert gallery.status_code == 200
    shown = [int(i) for i in re.findall(r'<a class="thumb" href="/images/(\d+)', gallery.text)]
    assert shown == [f.ids[1], f.ids[2]]
    page = client.get(f"/images/{f.ids[1]}", params={"list": "disagrees=1&sort=oldest"})
    assert page.status_code == 200
    assert "Image 1 of 2" in page.text
    assert f'<a rel="next" href="/images/{f.ids[2]}?list=' in page.text
