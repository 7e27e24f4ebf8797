"""The labeling queue once models exist: suggestions, the active ranking, predicted-as-X."""

from __future__ import annotations

import numpy as np
from sqlalchemy.orm import Session

from app.auth.models import User
from app.db import utcnow
from app.training import ranks
from app.training.models import Prediction, RunMode, RunStatus, TrainingRun
from tests.conftest import ClientFor
from tests.labeling.helpers import Setup, arrange


def _model(db: Session, s: Setup, predicted: dict[int, tuple[str, float]]) -> TrainingRun:
    wine, beer = s.categories["wine"], s.categories["beer"]
    run = TrainingRun(
        project_id=s.pid,
        mode=RunMode.linear,
        backbone="efficientnet_lite0",
        status=RunStatus.succeeded,
        classes=[[wine, "wine"], [beer, "beer"]],
        finished_at=utcnow(),
    )
    db.add(run)
    db.flush()
    for image_id, (name, confidence) in predicted.items():
        probs = [confidence, 1 - confidence] if name == "wine" else [1 - confidence, confidence]
        db.add(
            Prediction(
                run_id=run.id,
                image_id=image_id,
                category_id=s.categories[name],
                confidence=confidence,
                probabilities=np.array(probs, dtype="<f2").tobytes(),
            )
        )
    db.commit()
    return run


def _next(api: object, pid: int, **params: object) -> dict[str, object] | None:
    resp = api.get(f"/api/v1/projects/{pid}/queue/next", params=params)  # type: ignore[attr-defined]
    if resp.status_code == 204:
        return None
    assert resp.status_code == 200, resp.text
    body: dict[str, object] = resp.json()
    return body


def test_no_model_no_suggestion_and_sequential(api_as: ClientFor, admin: User) -> None:
    s = arrange(api_as(admin), images=3)
    item = _next(api_as(admin), s.pid)
    assert item is not None
    assert (item["image_id"], item["suggestion"], item["ranking"]) == (s.image_ids[0], None, None)
    assert _next(api_as(admin), s.pid, mode="predicted", category_id=s.categories["wine"]) is None


def test_the_newest_model_suggests_with_its_confidence(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    s = arrange(api_as(admin), images=2)
    _model(db, s, {s.image_ids[0]: ("beer", 0.25)})  # an older model
    _model(db, s, {s.image_ids[0]: ("wine", 0.875), s.image_ids[1]: ("beer", 0.5)})
    item = _next(api_as(admin), s.pid)
    assert item is not None
    assert item["suggestion"] == {"category_id": s.categories["wine"], "confidence": 0.875}


def test_active_follows_the_ranking_then_the_unranked(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    api = api_as(admin)
    s = arrange(api, images=5)
    ids = s.image_ids
    ranked = [ids[3], ids[1], ids[4]]  # ids[0] and ids[2] arrived after the ranking
    ranks.replace(db, s.pid, "default", concrete="typiclust", run_id=None, image_ids=ranked,
                  scores=[0.9, 0.5, 0.1], seconds=0.01)  # fmt: skip
    db.commit()
    served = []
    while (item := _next(api, s.pid, exclude=",".join(map(str, served)) or None)) is not None:
        served.append(item["image_id"])
        assert item["ranking"] == "default"
    assert served == [ids[3], ids[1], ids[4], ids[0], ids[2]]
    # "sequential" ignores the ranking; a strategy not ranked yet falls back to the default.
    other = api_as(admin)
    assert _next(other, s.pid, strategy="sequential")["image_id"] == ids[0]  # type: ignore[index]
    fallback = _next(other, s.pid, ranking="margin")
    assert fallback is not None
    assert fallback["ranking"] == "default"
    assert (
        api.get(f"/api/v1/projects/{s.pid}/queue/next", params={"ranking": "nonsense"}).status_code
        == 422
    )


def test_predicted_as_x_serves_the_most_confident_first(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    api = api_as(admin)
    s = arrange(api, images=4)
    ids = s.image_ids
    _model(db, s, {ids[0]: ("wine", 0.6), ids[1]: ("beer", 0.99), ids[2]: ("wine", 0.95),
                   ids[3]: ("wine", 0.7)})  # fmt: skip
    api.post(f"/api/v1/images/{ids[3]}/annotations", json={"category_id": s.categories["beer"]})
    served = []
    params = {"mode": "predicted", "category_id": s.categories["wine"]}
    while item := _next(api, s.pid, **params, exclude=",".join(map(str, served)) or None):
        served.append(item["image_id"])
    assert served == [ids[2], ids[0]]  # ids[3] is labeled already; ids[1] is beer


def test_the_labeling_screen_offers_a_ranking_per_session(
    browser_as: ClientFor, admin: User, api_as: ClientFor
) -> None:
    s = arrange(api_as(admin), images=1)
    page = browser_as(admin)
    html = page.get(f"/projects/{s.pid}/label", params={"ranking": "margin"}).text
    assert '<option value="margin" selected>' in html
    assert "Project default (default)" in html
    assert '"ranking": "margin"' in html
    bad = page.get(f"/projects/{s.pid}/label", params={"ranking": "<b>x</b>"})
    assert bad.status_code in (400, 422)
    assert "<b>x</b>" not in bad.text
