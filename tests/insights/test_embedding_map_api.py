"""GET /api/v1/projects/{pid}/embedding-map and its page's columns: the points the
worker laid out, the run that colours them, who may read them and ask for a refresh."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.images.storage import ImageStore
from app.projects.models import Project
from app.training.models import RunStatus
from tests.conftest import ClientFor, UserFactory
from tests.insights.map_rows import centres, embed, vectors_for
from tests.insights.review_rows import Crew, crew, write_outliers
from tests.training.prediction_rows import write_run
from workers.context import WorkerContext
from workers.embedding_map import update_map

IMAGES = 20


@pytest.fixture
def ctx(settings: Settings) -> Iterator[WorkerContext]:
    engine = make_engine(settings.resolved_database_url)
    yield WorkerContext(settings, make_sessionmaker(engine), ImageStore(settings.data_dir))
    engine.dispose()


@pytest.fixture
def team(api_as: ClientFor, make_user: UserFactory) -> Crew:
    return crew(api_as, make_user, images=IMAGES)


def _map(ctx: WorkerContext, db: Session, team: Crew) -> None:
    """The worker's map of the crew's images: the first half one clump, the rest another."""
    backbone = db.get_one(Project, team.s.pid).backbone
    clumps = [0] * (IMAGES // 2) + [1] * (IMAGES - IMAGES // 2)
    with ctx.sessions() as session:
        embed(ctx, session, backbone, team.s.image_ids, vectors_for(clumps, centres(2), seed=0))
        assert update_map(ctx, session, team.s.pid, backbone).fitted == IMAGES


def _decode(body: dict[str, object]) -> dict[str, list[float]]:
    """The columns as the page reads them: base64 of little-endian numbers."""
    types = body["types"]
    assert isinstance(types, dict)
    return {
        name: np.frombuffer(base64.b64decode(str(body[name])), dtype=kind).tolist()
        for name, kind in types.items()
    }


def test_before_any_map_an_empty_answer(team: Crew) -> None:
    resp = team.worker.get(f"/api/v1/projects/{team.s.pid}/embedding-map")
    assert resp.status_code == 200
    assert resp.json() == {"items": [], "run_id": None, "waiting": 0}
    body = team.worker.get(f"/api/v1/projects/{team.s.pid}/embedding-map/columns").json()
    assert body["count"] == 0
    assert all(v == [] for v in _decode(body).values())


def test_every_image_once_with_its_place(ctx: WorkerContext, db: Session, team: Crew) -> None:
    _map(ctx, db, team)
    resp = team.worker.get(f"/api/v1/projects/{team.s.pid}/embedding-map")
    assert resp.status_code == 200
    body = resp.json()
    assert body["run_id"] is None
    assert body["waiting"] == 0
    assert sorted(i["image_id"] for i in body["items"]) == team.s.image_ids
    assert all(set(i) == {"image_id", "x", "y"} for i in body["items"])
    xy = np.array([[i["x"], i["y"]] for i in body["items"]])
    assert np.isfinite(xy).all()
    # The two clumps of vectors are two places on the map: every point is nearer its own
    # clump's centre than the other's.
    half = IMAGES // 2
    centre = [xy[:half].mean(axis=0), xy[half:].mean(axis=0)]
    for k, point in enumerate(xy):
        own, other = (0, 1) if k < half else (1, 0)
        assert np.linalg.norm(point - centre[own]) < np.linalg.norm(point - centre[other])


def test_the_newest_succeeded_run_colours_it(ctx: WorkerContext, db: Session, team: Crew) -> None:
    _map(ctx, db, team)
    pid, ids = team.s.pid, team.s.image_ids
    classes = [(team.wine, "wine"), (team.beer, "beer")]
    # Labels: the first image wine, the second beer; the run predicts wine for both.
    team.worker.post(f"/api/v1/images/{ids[0]}/annotations", json={"category_id": team.wine})
    team.worker.post(f"/api/v1/images/{ids[1]}/annotations", json={"category_id": team.beer})
    team.worker.post(f"/api/v1/images/{ids[2]}/annotations", json={"rejected": True})
    older = write_run(db, pid, classes, {i: [0.5, 0.5] for i in ids})
    newest = write_run(db, pid, classes, {ids[0]: [0.9, 0.1], ids[1]: [0.8, 0.2]})
    write_run(db, pid, classes, {}, status=RunStatus.failed)  # newer, but not a model
    write_outliers(db, pid, newest, [(ids[1], 0.75)])
    db.commit()
    assert newest > older

    assert team.worker.get(f"/api/v1/projects/{pid}/embedding-map").json()["run_id"] == newest
    body = team.worker.get(f"/api/v1/projects/{pid}/embedding-map/columns").json()
    assert body["run_id"] == newest
    assert body["count"] == IMAGES
    cols = _decode(body)
    assert cols["image_id"] == ids
    for key in ("x", "y", "status", "label", "prediction", "disagrees", "uncertainty", "outlier"):
        assert len(cols[key]) == IMAGES, key
    row = {image_id: k for k, image_id in enumerate(cols["image_id"])}
    first, second, third = row[ids[0]], row[ids[1]], row[ids[2]]
    assert cols["status"][first] == 1
    assert cols["label"][first] == team.wine
    assert cols["prediction"][first] == team.wine
    assert cols["disagrees"][first] == 0
    assert cols["label"][second] == team.beer
    assert cols["disagrees"][second] == 1  # labeled beer, predicted wine
    assert cols["status"][third] == 2
    assert cols["label"][third] == -1
    assert cols["prediction"][third] == -1  # the newest run did not predict it
    assert cols["outlier"][second] == pytest.approx(0.75)
    assert cols["outlier"][first] == -1
    # Entropy over two classes: 0.9/0.1 is surer than 0.8/0.2.
    assert 0 < cols["uncertainty"][first] < cols["uncertainty"][second] < 1


def test_waiting_counts_embedded_images_not_yet_placed(
    ctx: WorkerContext, db: Session, team: Crew
) -> None:
    backbone = db.get_one(Project, team.s.pid).backbone
    with ctx.sessions() as session:
        embed(ctx, session, backbone, team.s.image_ids[:5], vectors_for([0] * 5, centres(1), 0))
    body = team.worker.get(f"/api/v1/projects/{team.s.pid}/embedding-map").json()
    assert body["items"] == []
    assert body["waiting"] == 5


def test_outsiders_learn_nothing(ctx: WorkerContext, db: Session, team: Crew) -> None:
    _map(ctx, db, team)
    for path in ("embedding-map", "embedding-map/columns"):
        resp = team.stranger.get(f"/api/v1/projects/{team.s.pid}/{path}")
        assert resp.status_code == 404
        assert resp.json() == {"detail": f"No project with id {team.s.pid}."}


@pytest.mark.parametrize("pid", ["0", "-1", "abc", "99999999999999999999", "1;drop"])
def test_malformed_project_ids(team: Crew, pid: str) -> None:
    assert team.worker.get(f"/api/v1/projects/{pid}/embedding-map").status_code in (404, 422)


def test_refresh_is_for_managers(team: Crew) -> None:
    url = f"/api/v1/projects/{team.s.pid}/embedding-map/refresh"
    assert team.worker.post(url).status_code == 403
    assert team.stranger.post(url).status_code == 404
    resp = team.boss.post(url)
    assert resp.status_code == 202
    assert resp.json() == {"queued": True}


def test_parts_split_the_columns(ctx: WorkerContext, db: Session, team: Crew) -> None:
    _map(ctx, db, team)
    pid, ids = team.s.pid, team.s.image_ids
    write_run(db, pid, [(team.wine, "wine"), (team.beer, "beer")], {ids[0]: [0.3, 0.7]})
    url = f"/api/v1/projects/{pid}/embedding-map/columns"
    whole = _decode(team.worker.get(url).json())
    points = _decode(team.worker.get(url, params={"part": "points"}).json())
    run = _decode(team.worker.get(url, params={"part": "run"}).json())
    assert set(points) == {"image_id", "x", "y", "status", "label"}
    assert set(run) == {"image_id", "prediction", "disagrees", "uncertainty", "outlier"}
    for name, values in {**points, **run}.items():
        assert values == whole[name], name
    assert run["prediction"][0] == team.beer
    resp = team.worker.get(url, params={"part": "everything"})
    assert resp.status_code == 422
