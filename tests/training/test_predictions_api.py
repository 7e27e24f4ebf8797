"""GET /api/v1/projects/{pid}/predictions: the contract, its filters, paging and access.

Runs and their prediction rows are written directly here, as a worker leaves them; the
end-to-end check with a real worker is in test_predictions_worker.py.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.training.models import RunStatus
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import join, label
from tests.training.prediction_rows import Forest, forest, one_hot, reject, write_run

Answer = dict[str, Any]


def _get(api: TestClient, pid: int, **params: Any) -> Answer:
    resp = api.get(f"/api/v1/projects/{pid}/predictions", params=params)
    assert resp.status_code == 200, resp.text
    body: Answer = resp.json()
    return body


def _ids(body: Answer) -> list[int]:
    return [int(i["image_id"]) for i in body["items"]]


def _labeled_forest(api: TestClient) -> Forest:
    """8 images: daisy, rose, oak, flower (above the species), rejected, 3 unlabeled."""
    f = forest(api, images=8)
    for image_id, name in zip(f.ids, ("daisy", "rose", "oak", "flower"), strict=False):
        label(api, image_id, f[name])
    reject(api, f.ids[4])
    return f


def _species_run(db: Session, f: Forest) -> int:
    """Level 2: daisy, rose, oak. Images 1 and 2 disagree; 3 (a flower) is refined."""
    classes = [(f["daisy"], "flower/daisy"), (f["rose"], "flower/rose"), (f["oak"], "tree/oak")]
    plan = [(0, 0.875), (0, 0.625), (1, 0.75), (1, 0.5), (2, 0.875), (2, 0.5), (0, 0.375),
            (1, 0.9375)]  # fmt: skip
    predicted = {i: one_hot(c, 3, p) for i, (c, p) in zip(f.ids, plan, strict=True)}
    return write_run(db, f.pid, classes, predicted, level=2)


def _family_run(db: Session, f: Forest) -> int:
    """Level 1: flower, tree. Image 1 (a rose) and 3 (a flower) are predicted trees."""
    classes = [(f["flower"], "flower"), (f["tree"], "tree")]
    plan = [(0, 0.875), (1, 0.625), (1, 0.75), (1, 0.625), (0, 0.5), (1, 0.875), (0, 0.75),
            (0, 1.0)]  # fmt: skip
    predicted = {i: one_hot(c, 2, p) for i, (c, p) in zip(f.ids, plan, strict=True)}
    return write_run(db, f.pid, classes, predicted, level=1)


def test_every_image_appears_once_labeled_unlabeled_and_rejected(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    api = api_as(manager)
    f = _labeled_forest(api)
    species = _species_run(db, f)
    body = _get(api, f.pid, run_id=species)
    assert body["run_id"] == species
    assert body["total"] == 8
    assert _ids(body) == f.ids  # in image id order, each once
    listed = api.get(f"/api/v1/projects/{f.pid}/images").json()["items"]
    statuses = {i["id"]: i["status"] for i in listed}
    assert {statuses[i] for i in _ids(body)} == {"labeled", "rejected", "unlabeled"}
    first = body["items"][0]
    assert set(first) == {"image_id", "category_id", "confidence", "uncertainty"}
    assert (first["category_id"], first["confidence"]) == (f["daisy"], 0.875)


def test_uncertainty_is_the_normalised_entropy_of_the_stored_probabilities(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    api = api_as(manager)
    f = forest(api, images=3)
    classes = [(f["daisy"], "flower/daisy"), (f["rose"], "flower/rose"), (f["oak"], "tree/oak")]
    probs = {f.ids[0]: [1.0, 0.0, 0.0], f.ids[1]: [0.5, 0.25, 0.25], f.ids[2]: [1 / 3] * 3}
    write_run(db, f.pid, classes, probs)
    items = _get(api, f.pid)["items"]

    def expected(p: list[float]) -> float:
        q = np.array(p, dtype="<f2").astype(float)
        q = q / q.sum()
        return float(-(q[q > 0] * np.log(q[q > 0])).sum() / math.log(3))

    got = [i["uncertainty"] for i in items]
    assert got[0] == 0.0  # sure
    assert got[1] == pytest.approx(expected(probs[f.ids[1]]), abs=1e-4)
    assert got[2] == pytest.approx(1.0, abs=1e-3)  # every class equally likely


def test_without_run_id_the_latest_succeeded_run_answers(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    api = api_as(manager)
    f = _labeled_forest(api)
    _species_run(db, f)
    families = _family_run(db, f)
    failed = write_run(db, f.pid, [(f["flower"], "flower"), (f["tree"], "tree")], {},
                       status=RunStatus.failed)  # fmt: skip
    body = _get(api, f.pid)
    assert body["run_id"] == families
    assert {i["category_id"] for i in body["items"]} == {f["flower"], f["tree"]}
    resp = api.get(f"/api/v1/projects/{f.pid}/predictions", params={"run_id": failed})
    assert resp.status_code == 409
    assert "failed" in resp.json()["detail"]


def test_a_project_with_no_model_gets_an_empty_list_and_no_run(
    api_as: ClientFor, manager: User
) -> None:
    api = api_as(manager)
    f = forest(api, images=2)
    assert _get(api, f.pid) == {"items": [], "total": 0, "run_id": None}
    assert _get(api, f.pid, disagrees=True, category_id=f["flower"])["total"] == 0


def test_predicted_as_a_category_includes_its_sub_tree(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    api = api_as(manager)
    f = _labeled_forest(api)
    species = _species_run(db, f)
    flowers = _get(api, f.pid, run_id=species, category_id=f["flower"])
    assert _ids(flowers) == [f.ids[n] for n in (0, 1, 2, 3, 6, 7)]  # daisies and roses
    assert flowers["total"] == 6
    assert _ids(_get(api, f.pid, run_id=species, category_id=f["rose"])) == [
        f.ids[n] for n in (2, 3, 7)
    ]
    assert _ids(_get(api, f.pid, run_id=species, category_id=f["tree"])) == [f.ids[4], f.ids[5]]


def test_confidence_bounds_are_inclusive_and_combine(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    api = api_as(manager)
    f = _labeled_forest(api)
    species = _species_run(db, f)
    sure = _get(api, f.pid, run_id=species, min_confidence=0.75)
    assert _ids(sure) == [f.ids[n] for n in (0, 2, 4, 7)]
    assert all(i["confidence"] >= 0.75 for i in sure["items"])
    unsure = _get(api, f.pid, run_id=species, max_confidence=0.5)
    assert _ids(unsure) == [f.ids[n] for n in (3, 5, 6)]
    band = _get(api, f.pid, run_id=species, min_confidence=0.5, max_confidence=0.75)
    assert _ids(band) == [f.ids[n] for n in (1, 2, 3, 5)]
    roses_sure = _get(api, f.pid, run_id=species, category_id=f["rose"], min_confidence=0.75)
    assert _ids(roses_sure) == [f.ids[2], f.ids[7]]


def test_disagreements_are_judged_at_the_run_s_level(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    api = api_as(manager)
    f = _labeled_forest(api)
    species = _species_run(db, f)
    families = _family_run(db, f)
    # Species: the rose predicted a daisy and the oak a rose; the flower predicted a rose
    # is refined, not contradicted; rejected and unlabeled images have no label to differ.
    at_species = _get(api, f.pid, run_id=species, disagrees=True)
    assert _ids(at_species) == [f.ids[1], f.ids[2]]
    assert at_species["total"] == 2
    # Families: the daisy is a flower (its ancestor at level 1); the rose and the flower
    # predicted trees disagree; the oak is a tree.
    assert _ids(_get(api, f.pid, run_id=families, disagrees=True)) == [f.ids[1], f.ids[3]]
    assert _ids(_get(api, f.pid, run_id=families, disagrees=False)) == f.ids
    # Combined with the other filters.
    assert _ids(_get(api, f.pid, run_id=species, disagrees=True, category_id=f["rose"])) == [
        f.ids[2]
    ]
    assert _ids(_get(api, f.pid, run_id=species, disagrees=True, min_confidence=0.7)) == [f.ids[2]]
    # Relabeling the rose as a daisy settles that disagreement at once.
    label(api, f.ids[1], f["daisy"])
    assert _ids(_get(api, f.pid, run_id=species, disagrees=True)) == [f.ids[2]]


def test_disagreements_of_a_run_at_the_deepest_labels_follow_the_branch(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    """Without a level, a family label and a species label can both be classes."""
    api = api_as(manager)
    f = forest(api, images=4)
    for image_id, name in zip(f.ids, ("flower", "daisy", "daisy", "oak"), strict=True):
        label(api, image_id, f[name])
    classes = [(f["flower"], "flower"), (f["daisy"], "flower/daisy"), (f["oak"], "tree/oak")]
    predicted = {
        f.ids[0]: one_hot(1, 3, 0.75),  # flower predicted daisy: a refinement
        f.ids[1]: one_hot(0, 3, 0.75),  # daisy predicted flower: its ancestor
        f.ids[2]: one_hot(2, 3, 0.75),  # daisy predicted oak: another branch
        f.ids[3]: one_hot(2, 3, 0.75),  # oak predicted oak
    }
    run = write_run(db, f.pid, classes, predicted)
    assert _ids(_get(api, f.pid, run_id=run, disagrees=True)) == [f.ids[2]]


def test_paging_walks_every_item_once_with_a_stable_total(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    api = api_as(manager)
    f = _labeled_forest(api)
    species = _species_run(db, f)
    seen: list[int] = []
    for offset in range(0, 10, 3):
        body = _get(api, f.pid, run_id=species, limit=3, offset=offset)
        assert body["total"] == 8
        seen += _ids(body)
    assert seen == f.ids
    past = _get(api, f.pid, run_id=species, limit=3, offset=100)
    assert (past["items"], past["total"]) == ([], 8)
    assert len(_get(api, f.pid, run_id=species)["items"]) == 8
    filtered = _get(api, f.pid, run_id=species, category_id=f["flower"], limit=4, offset=4)
    assert (_ids(filtered), filtered["total"]) == ([f.ids[6], f.ids[7]], 6)


def test_a_run_of_another_project_or_unknown_is_a_404(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    api = api_as(manager)
    f = _labeled_forest(api)
    _species_run(db, f)
    other = forest(api, images=2, name="Other")
    foreign = write_run(db, other.pid, [(other["flower"], "flower"), (other["tree"], "tree")],
                        {other.ids[0]: [0.75, 0.25]})  # fmt: skip
    for run_id in (foreign, foreign + 1000):
        resp = api.get(f"/api/v1/projects/{f.pid}/predictions", params={"run_id": run_id})
        assert resp.status_code == 404
        assert resp.json()["detail"] == f"No training run with id {run_id}."
    # A category of another project is not a filter of this one.
    resp = api.get(f"/api/v1/projects/{f.pid}/predictions", params={"category_id": other["tree"]})
    assert resp.status_code == 404


def test_members_read_outsiders_get_a_404(
    api_as: ClientFor, manager: User, make_user: UserFactory, db: Session
) -> None:
    api = api_as(manager)
    f = _labeled_forest(api)
    species = _species_run(db, f)
    member, outsider, other_manager = make_user(), make_user(), make_user(Role.manager)
    join(api, f.pid, member.username)
    body = _get(api_as(member), f.pid)
    assert (body["run_id"], body["total"]) == (species, 8)
    for stranger in (outsider, other_manager):
        for params in ({}, {"run_id": species}):
            resp = api_as(stranger).get(f"/api/v1/projects/{f.pid}/predictions", params=params)
            assert resp.status_code == 404, stranger.username
            # The same answer as for a project that does not exist: nothing leaks.
            assert resp.json()["detail"] == f"No project with id {f.pid}."
    assert TestClient(api.app).get(f"/api/v1/projects/{f.pid}/predictions").status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"offset": -1},
        {"limit": 0},
        {"limit": 1001},
        {"limit": 10**12},
        {"offset": 10**30},
        {"min_confidence": 2},
        {"max_confidence": -0.1},
        {"min_confidence": "nan"},
        {"max_confidence": "inf"},
        {"min_confidence": "high"},
        {"min_confidence": 0.8, "max_confidence": 0.2},
        {"run_id": "abc"},
        {"run_id": 0},
        {"run_id": 2**31},
        {"category_id": "abc"},
        {"category_id": -3},
        {"disagrees": "perhaps"},
        {"limit": "1; DROP TABLE predictions"},
    ],
)
def test_malformed_parameters_are_422(
    api_as: ClientFor, manager: User, db: Session, params: dict[str, Any]
) -> None:
    api = api_as(manager)
    f = forest(api, images=2)
    write_run(db, f.pid, [(f["flower"], "flower"), (f["tree"], "tree")], {f.ids[0]: [0.75, 0.25]})
    resp = api.get(f"/api/v1/projects/{f.pid}/predictions", params=params)
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"]
    assert _get(api, f.pid)["total"] == 1  # nothing was harmed


def test_older_runs_predictions_that_were_dropped_say_so(
    api_as: ClientFor, manager: User, db: Session
) -> None:
    api = api_as(manager)
    f = forest(api, images=2)
    classes = [(f["flower"], "flower"), (f["tree"], "tree")]
    oldest = write_run(db, f.pid, classes, {})  # as if pruned: no rows left
    for _ in range(5):
        write_run(db, f.pid, classes, {f.ids[0]: [0.75, 0.25]})
    resp = api.get(f"/api/v1/projects/{f.pid}/predictions", params={"run_id": oldest})
    assert resp.status_code == 409
    assert "dropped" in resp.json()["detail"]


def test_the_route_is_documented_with_its_no_model_answer(api_as: ClientFor, manager: User) -> None:
    schema = api_as(manager).get("/api/v1/openapi.json").json()
    op = schema["paths"]["/api/v1/projects/{project_id}/predictions"]["get"]
    assert "no items, `total` 0 and `run_id` null" in " ".join(op["description"].split())
    names = {p["name"] for p in op["parameters"]}
    assert {"run_id", "limit", "offset", "category_id", "min_confidence", "max_confidence",
            "disagrees"} <= names  # fmt: skip
