"""The head of a run through the API: chosen, stored, shown back; refused where it
does not apply (fine-tuning) and when it is not a head at all."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.auth.models import User
from app.training.models import TrainingRun
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import join
from tests.training.test_api import _labeled


def test_each_head_is_stored_on_the_run_and_read_back(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    api = api_as(admin)
    s = _labeled(api, {"wine": 2, "beer": 2})
    url = f"/api/v1/projects/{s.pid}/training-runs"
    made = {}
    for head in ("svm", "mlp", "logreg"):
        answer = api.post(url, json={"mode": "linear", "head": head})
        assert answer.status_code == 202, answer.text
        made[head] = answer.json()["id"]
        api.post(f"/api/v1/training-runs/{made[head]}/cancel")  # one queued run at a time
    plain = api.post(url, json={"mode": "linear"})
    assert plain.status_code == 202, plain.text
    for head, rid in made.items():
        assert api.get(f"/api/v1/training-runs/{rid}").json()["head"] == head
        assert db.get_one(TrainingRun, rid).head == head
    assert api.get(f"/api/v1/training-runs/{plain.json()['id']}").json()["head"] == "logreg"
    listed = {r["id"]: r["head"] for r in api.get(url).json()}
    assert listed == {**{rid: h for h, rid in made.items()}, plain.json()["id"]: "logreg"}


def test_fine_tuning_takes_its_own_linear_layer_only(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    s = _labeled(api, {"wine": 2, "beer": 2})
    url = f"/api/v1/projects/{s.pid}/training-runs"
    for head in ("svm", "mlp"):
        refused = api.post(url, json={"mode": "finetune", "head": head})
        assert refused.status_code == 422, refused.text
        detail = refused.json()["detail"]
        assert f"the {head} head is for the linear mode only" in detail
        assert "own linear layer" in detail
        assert refused.json()["errors"][0]["loc"] == ["body", "head"]
    assert api.get(url).json() == []
    accepted = api.post(url, json={"mode": "finetune", "head": "logreg"})
    assert accepted.status_code == 202, accepted.text
    assert api.get(f"/api/v1/training-runs/{accepted.json()['id']}").json()["head"] == "logreg"


def test_malformed_and_hostile_heads_are_refused(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    s = _labeled(api, {"wine": 2, "beer": 2})
    url = f"/api/v1/projects/{s.pid}/training-runs"
    for head in (
        "forest",
        "SVM",
        " svm",
        "",
        "svm\x00",
        "logreg; DROP TABLE training_runs",
        "<script>alert(1)</script>",
        "mlp" * 100_000,
        1,
        True,
        ["svm"],
        {"name": "svm"},
    ):
        answer = api.post(url, json={"mode": "linear", "head": head})
        assert answer.status_code == 422, (str(head)[:40], answer.text[:200])
        assert len(answer.text) < 5_000  # the oversized value is not echoed back whole
    in_params = api.post(url, json={"mode": "linear", "params": {"head": "svm"}})
    assert in_params.status_code == 422  # the head is top level, not an advanced setting
    assert api.get(url).json() == []


def test_the_route_still_checks_roles_with_a_head(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    api = api_as(admin)
    s = _labeled(api, {"wine": 2, "beer": 2})
    labeler, outsider = make_user(), make_user()
    join(api, s.pid, labeler.username)
    url = f"/api/v1/projects/{s.pid}/training-runs"
    body = {"mode": "linear", "head": "svm"}
    assert api_as(labeler).post(url, json=body).status_code == 403
    missing = api_as(outsider).post(url, json=body)
    assert missing.status_code == 404
    assert "svm" not in missing.text
    assert api.get(url).json() == []
