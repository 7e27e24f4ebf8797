"""Overlap through the API: a second, independent label never replaces the first; a
disagreement keeps the first label until a manager settles it in the disagreements
queue (a review), and undoing that review reopens the dispute."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from app.auth.models import User
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import Setup, label, next_image
from tests.labeling.overlap_helpers import crew


@dataclass
class Team:
    s: Setup
    first: TestClient  # labels every image first
    second: TestClient  # gives the second opinions
    boss: TestClient  # a project manager (not staff)


def team(api_as: ClientFor, admin: User, make_user: UserFactory, images: int = 2) -> Team:
    c = crew(api_as, admin, make_user, images)
    return Team(c.s, c.first_api, c.second_api, api_as(c.boss))


def current(api: TestClient, image_id: int) -> tuple[str, int | None]:
    body = api.get(f"/api/v1/images/{image_id}").json()
    return body["status"], body["category_id"]


def history(api: TestClient, image_id: int) -> list[dict[str, object]]:
    resp = api.get(f"/api/v1/images/{image_id}/annotations")
    assert resp.status_code == 200, resp.text
    rows: list[dict[str, object]] = resp.json()
    return rows


def dispute(t: Team) -> int:
    """The first labeler says wine; the second, served it from the queue, says beer."""
    wine, beer = t.s.categories["wine"], t.s.categories["beer"]
    image = next_image(t.first, t.s.pid)
    assert image is not None
    label(t.first, image, wine)
    assert next_image(t.second, t.s.pid) == image  # a second label, from someone else
    opinion = label(t.second, image, beer)
    assert opinion["second_opinion"] is True
    assert opinion["source"] == "manual"
    return image


def test_a_disagreement_keeps_the_first_label_until_a_manager_settles_it(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    t = team(api_as, admin, make_user)
    wine, beer = t.s.categories["wine"], t.s.categories["beer"]
    image = dispute(t)
    assert current(t.first, image) == ("labeled", wine)  # not the second opinion
    assert [row["second_opinion"] for row in history(t.first, image)] == [False, True]
    # The labeled counts see the first label only.
    listed = t.first.get(
        f"/api/v1/projects/{t.s.pid}/images", params={"status": "labeled", "category_id": beer}
    ).json()
    assert listed["total"] == 0

    # Labelers cannot settle it, nor see the queue; the reason is said.
    for api in (t.first, t.second):
        resp = api.post(f"/api/v1/images/{image}/annotations", json={"category_id": beer})
        assert resp.status_code == 409
        assert "disputed" in resp.json()["detail"]
        assert (
            api.get(
                f"/api/v1/projects/{t.s.pid}/queue/next", params={"mode": "disagreements"}
            ).status_code
            == 403
        )
    assert len(history(t.first, image)) == 2
    # Nor is it offered for review to anyone.
    assert next_image(t.first, t.s.pid, mode="review") != image

    # The manager's queue serves it with both opinions.
    resp = t.boss.get(f"/api/v1/projects/{t.s.pid}/queue/next", params={"mode": "disagreements"})
    assert resp.status_code == 200, resp.text
    served = resp.json()
    assert served["image_id"] == image
    said = served["disagreement"]
    assert (said["first"]["category_id"], said["second"]["category_id"]) == (wine, beer)
    assert said["first"]["username"] != said["second"]["username"]

    settled = label(t.boss, image, beer)
    assert settled["source"] == "review"
    assert settled["second_opinion"] is False
    assert current(t.first, image) == ("labeled", beer)
    assert next_image(t.boss, t.s.pid, mode="disagreements") is None
    # Settled: labelers may label it again like any other image.
    assert label(t.first, image, wine)["source"] == "manual"


def test_undoing_the_settlement_reopens_the_dispute(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    t = team(api_as, admin, make_user)
    wine, beer = t.s.categories["wine"], t.s.categories["beer"]
    image = dispute(t)
    assert next_image(t.boss, t.s.pid, mode="disagreements") == image
    label(t.boss, image, beer)
    undo = t.boss.post(f"/api/v1/projects/{t.s.pid}/undo")
    assert undo.status_code == 201, undo.text
    # Back to the first label (not the second opinion, though it is the row before).
    assert undo.json()["category_id"] == wine
    assert current(t.first, image) == ("labeled", wine)
    assert next_image(t.boss, t.s.pid, mode="disagreements") == image
    rejected = t.boss.post(
        f"/api/v1/images/{image}/annotations", json={"rejected": True, "reason": "neither"}
    )
    assert rejected.status_code == 201
    assert rejected.json()["source"] == "review"
    assert current(t.first, image) == ("rejected", None)


def test_an_agreeing_second_opinion_and_its_undo(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    t = team(api_as, admin, make_user)
    wine = t.s.categories["wine"]
    image = next_image(t.first, t.s.pid)
    assert image is not None
    label(t.first, image, wine)
    assert next_image(t.second, t.s.pid) == image
    assert label(t.second, image, wine)["second_opinion"] is True
    assert current(t.first, image) == ("labeled", wine)
    assert next_image(t.boss, t.s.pid, mode="disagreements") is None
    # Retracting the second opinion: the image waits for one again, its label unchanged,
    # and the withdrawal is on the second-opinion side track too.
    withdrawn = t.second.post(f"/api/v1/projects/{t.s.pid}/undo")
    assert withdrawn.status_code == 201
    assert withdrawn.json()["second_opinion"] is True
    assert current(t.first, image) == ("labeled", wine)
    unlabeled = next(i for i in t.s.image_ids if i != image)
    assert next_image(t.second, t.s.pid, exclude=str(unlabeled)) == image


def test_bulk_refuses_disputed_images_unless_a_manager_settles_them(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    t = team(api_as, admin, make_user, images=3)
    wine, beer = t.s.categories["wine"], t.s.categories["beer"]
    image = dispute(t)
    other = next(i for i in t.s.image_ids if i != image)
    url = f"/api/v1/projects/{t.s.pid}/annotations/bulk"
    resp = t.second.post(url, json={"image_ids": [other, image], "category_id": wine})
    assert resp.status_code == 409
    assert str(image) in resp.json()["detail"]
    assert current(t.first, other) == ("unlabeled", None)  # all or nothing
    resp = t.boss.post(url, json={"image_ids": [other, image], "category_id": beer})
    assert resp.status_code == 201, resp.text
    sources = {a["image_id"]: a["source"] for a in resp.json()["annotations"]}
    assert sources == {other: "manual", image: "review"}
    assert current(t.first, image) == ("labeled", beer)
    assert next_image(t.boss, t.s.pid, mode="disagreements") is None


def test_turning_overlap_off_stops_serving_second_labels(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    t = team(api_as, admin, make_user, images=1)
    image = t.s.image_ids[0]
    assert next_image(t.first, t.s.pid) == image
    label(t.first, image, t.s.categories["wine"])
    assert next_image(t.second, t.s.pid) == image  # waiting for its second label
    owner = api_as(admin)
    assert owner.patch(f"/api/v1/projects/{t.s.pid}", json={"overlap_percent": 0}).is_success
    assert next_image(t.second, t.s.pid) is None


def test_a_second_opinion_after_a_review_does_not_send_the_image_back_to_review(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    t = team(api_as, admin, make_user, images=1)
    wine = t.s.categories["wine"]
    image = next_image(t.first, t.s.pid)
    assert image is not None
    label(t.first, image, wine)
    assert next_image(t.boss, t.s.pid, mode="review") == image
    assert label(t.boss, image, wine)["source"] == "review"
    assert next_image(t.boss, t.s.pid, mode="review") is None
    # The second, independent label agrees; the review it came after still stands.
    assert next_image(t.second, t.s.pid) == image
    opinion = label(t.second, image, wine)
    assert opinion["second_opinion"] is True
    assert next_image(t.boss, t.s.pid, mode="review") is None
