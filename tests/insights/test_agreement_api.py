"""GET /api/v1/projects/{pid}/agreement on real overlap labels made through the API: the
hand-computed coefficients, the answer's shape, a project without overlap, and who may
read it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.auth.models import Role, User
from tests.conftest import ClientFor, UserFactory
from tests.insights.agreement_helpers import Six, make_six
from tests.labeling.helpers import label, next_image
from tests.labeling.overlap_helpers import crew, disagree


@pytest.fixture
def six(api_as: ClientFor, admin: User, make_user: UserFactory) -> Six:
    return make_six(api_as, admin, make_user)


def _agreement(api: TestClient, pid: int) -> dict[str, Any]:
    resp = api.get(f"/api/v1/projects/{pid}/agreement")
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_coefficients_match_the_hand_computed_values(six: Six) -> None:
    c = six.c
    body = _agreement(six.boss, c.s.pid)
    assert body["images"] == 6
    # Labels per image: WW WW BB BB WB WR (R: rejected). Observed 4/6; label shares
    # W 3/6, B 2.5/6, R 0.5/6, so chance 15.5/36: kappa (24 - 15.5) / (36 - 15.5).
    assert body["kappa"] == pytest.approx(17 / 41)
    # Alpha: 12 values (W 6, B 5, R 1), two split images of 2 each: 1 - 11 * 4 / (144 - 62).
    assert body["alpha"] == pytest.approx(19 / 41)
    (pair,) = body["pairs"]
    by_id = sorted([c.first, c.second], key=lambda u: u.id)
    assert pair["user_ids"] == [u.id for u in by_id]
    assert pair["usernames"] == [u.username for u in by_id]
    assert pair["images"] == 6
    assert pair["agreement"] == pytest.approx(4 / 6)
    # First W W B B W W, second W W B B B R: chance (4*2 + 2*3) / 36 -> kappa 10/22.
    assert pair["kappa"] == pytest.approx(5 / 11)
    people = {a["username"]: a for a in body["annotators"]}
    # The disputed image has no final label yet: five images are compared. The manager
    # settled the split one as beer, the second labeler's word.
    assert people[c.first.username] == {
        "user_id": c.first.id,
        "username": c.first.username,
        "labels": 6,
        "compared": 5,
        "agreement_with_final": pytest.approx(4 / 5),
    }
    assert people[c.second.username]["agreement_with_final"] == pytest.approx(1.0)
    assert c.boss.username not in people  # settling is not an opinion


def test_categories_and_confusions(six: Six) -> None:
    c, images = six.c, six.images
    wine, beer = c.s.categories["wine"], c.s.categories["beer"]
    body = _agreement(six.boss, c.s.pid)
    cats = {(x["category_id"], x["path"]): x for x in body["categories"]}
    assert set(cats) == {(wine, "wine"), (beer, "beer"), (None, "rejected")}
    w = cats[(wine, "wine")]
    assert (w["opinions"], w["images"], w["rejected"]) == (6, 4, False)
    assert w["agreement"] == pytest.approx(4 / 6)
    # Wine or not: 11 00 00 11 10 10 -> observed 4/6, chance 1/2: kappa 1/3.
    assert w["kappa"] == pytest.approx(1 / 3)
    # Alpha: 6 wine of 12 values, two split images: 1 - 11 * 4 / (144 - 36 - 36).
    assert w["alpha"] == pytest.approx(1 - 44 / 72)
    r = cats[(None, "rejected")]
    assert (r["opinions"], r["images"], r["rejected"], r["agreement"]) == (1, 1, True, 0.0)
    confused = {tuple(x["category_ids"]): (x["images"], x["image_ids"]) for x in body["confusions"]}
    by_pair = {frozenset(k): v for k, v in confused.items()}
    assert by_pair == {
        frozenset({wine, beer}): (1, [images["settled"]]),
        frozenset({wine, None}): (1, [images["disputed"]]),
    }


def test_the_openapi_schema_documents_it(six: Six) -> None:
    schema = six.c.admin.get("/api/v1/openapi.json").json()
    op = schema["paths"]["/api/v1/projects/{project_id}/agreement"]["get"]
    assert "Krippendorff" in op["description"]
    ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
    assert {"kappa", "alpha", "images", "pairs", "annotators", "categories"} <= set(fields)


def test_without_overlap_the_answer_is_empty_with_null_coefficients(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    c = crew(api_as, admin, make_user, images=3)
    for _ in range(3):  # first labels only: no image has two opinions yet
        image = next_image(c.first_api, c.s.pid)
        assert image is not None
        label(c.first_api, image, c.s.categories["wine"])
    body = _agreement(api_as(c.boss), c.s.pid)
    assert body == {
        "kappa": None,
        "alpha": None,
        "images": 0,
        "min_images": 5,
        "pairs": [],
        "annotators": [],
        "categories": [],
        "confusions": [],
    }


def test_too_few_images_give_null_coefficients_but_the_tables(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    c = crew(api_as, admin, make_user, images=2)
    wine, beer = c.s.categories["wine"], c.s.categories["beer"]
    disagree(c, {"category_id": wine}, {"category_id": wine})
    disagree(c, {"category_id": beer}, {"category_id": wine})
    body = _agreement(api_as(c.boss), c.s.pid)
    assert (body["images"], body["kappa"], body["alpha"]) == (2, None, None)
    (pair,) = body["pairs"]
    assert (pair["images"], pair["agreement"], pair["kappa"]) == (2, 0.5, None)
    assert len(body["confusions"]) == 1


def test_labelers_are_refused_and_outsiders_learn_nothing(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    c = crew(api_as, admin, make_user, images=1)
    url = f"/api/v1/projects/{c.s.pid}/agreement"
    for labeler in (c.first_api, c.second_api):
        resp = labeler.get(url)
        assert resp.status_code == 403
        assert "manager" in resp.json()["detail"]
    # A manager of another project, and a user in none, get the same 404 as for a
    # project that does not exist.
    other = make_user(role=Role.manager)
    other_api = api_as(other)
    assert other_api.post("/api/v1/projects", json={"name": "Theirs"}).status_code == 201
    outsider_api = api_as(make_user())
    for api in (other_api, outsider_api):
        resp = api.get(url)
        assert resp.status_code == 404
        assert resp.json() == {"detail": f"No project with id {c.s.pid}."}
    assert api_as(make_user()).get("/api/v1/projects/999999/agreement").status_code == 404
    assert TestClient(c.admin.app).get(url).status_code == 401  # no credentials


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "1e3", "9" * 40, "%00", "1;drop"])
def test_malformed_project_ids_are_refused(api_as: ClientFor, admin: User, bad: str) -> None:
    resp = api_as(admin).get(f"/api/v1/projects/{bad}/agreement")
    assert resp.status_code in (404, 422), (bad, resp.status_code)
    assert "detail" in resp.json()


def test_the_first_opinion_is_the_label_the_second_was_compared_with(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    """A first labeler who corrects themselves before the second opinion arrives: the
    overlap compares the second opinion with the corrected label, and so does agreement."""
    c = crew(api_as, admin, make_user, images=1)
    wine, beer = c.s.categories["wine"], c.s.categories["beer"]
    image = next_image(c.first_api, c.s.pid)
    assert image is not None
    label(c.first_api, image, wine)
    label(c.first_api, image, beer)  # changed their mind
    assert next_image(c.second_api, c.s.pid) == image
    assert label(c.second_api, image, beer)["second_opinion"] is True
    assert next_image(api_as(c.boss), c.s.pid, mode="disagreements") is None  # they agree
    body = _agreement(api_as(c.boss), c.s.pid)
    assert body["images"] == 1
    assert body["confusions"] == []
    assert body["pairs"][0]["agreement"] == 1.0
    assert [x["path"] for x in body["categories"]] == ["beer"]
