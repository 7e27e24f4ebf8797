"""The "Odd pictures" review queue through the API: the newest scoring run's outlier
scores, most atypical first, labeled or not; "out of scope" is a review's rejection,
a keep (``/dismissals``) is recorded so the queue does not ask again, and can be undone."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.conftest import ClientFor, UserFactory
from tests.insights.review_rows import Crew, crew, empty_run, write_outliers
from tests.labeling.helpers import label, next_image
from tests.training.prediction_rows import reject


def walk(api: TestClient, pid: int) -> list[int]:
    """Every image the queue would serve, in its order (each leased, then released)."""
    seen: list[int] = []
    while (found := next_image(api, pid, mode="odd_pictures", exclude=_csv(seen))) is not None:
        seen.append(found)
    api.post(f"/api/v1/projects/{pid}/queue/release", json={"image_ids": seen})
    return seen


def _csv(ids: list[int]) -> str:
    return ",".join(str(i) for i in ids)


def keep(api: TestClient, image_id: int, **body: object) -> TestClient:
    return api.post(f"/api/v1/images/{image_id}/dismissals", json=body or {"queue": "odd_pictures"})


def scored(c: Crew, db: Session) -> list[int]:
    """Six images: two labeled, one rejected, three unlabeled, all scored; the queue's
    order is the run's rank, the rejected one left out."""
    ids = c.s.image_ids
    label(c.boss, ids[0], c.wine)
    label(c.boss, ids[4], c.beer)
    reject(c.boss, ids[2], "bad quality")
    run = empty_run(db, c.s.pid, [(c.wine, "wine"), (c.beer, "beer")])
    ranked = [ids[4], ids[2], ids[1], ids[5], ids[0], ids[3]]
    write_outliers(db, c.s.pid, run, [(i, 1 - n / 10) for n, i in enumerate(ranked)])
    return [i for i in ranked if i != ids[2]]


def test_most_atypical_first_labeled_or_not_and_rejected_ones_left_out(
    api_as: ClientFor, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, make_user, images=6)
    assert next_image(c.boss, c.s.pid, mode="odd_pictures") is None  # nothing scored yet
    order = scored(c, db)
    assert walk(c.boss, c.s.pid) == order
    resp = c.boss.get(f"/api/v1/projects/{c.s.pid}/queue/next", params={"mode": "odd_pictures"})
    item = resp.json()
    assert item["image_id"] == order[0]
    assert item["remaining"] == 5
    assert item["review"]["score"] == 1.0
    assert item["review"]["flagged"] is True
    assert item["review"]["given_category_id"] is None
    assert item["review"]["current_category_id"] == c.beer  # the most atypical is labeled


def test_out_of_scope_label_and_keep_each_take_the_picture_out(
    api_as: ClientFor, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, make_user, images=6)
    order = scored(c, db)
    first = next_image(c.boss, c.s.pid, mode="odd_pictures")
    out = c.boss.post(
        f"/api/v1/images/{first}/annotations", json={"rejected": True, "reason": "out of scope"}
    ).json()
    assert (out["source"], out["rejected"], out["reason"]) == ("review", True, "out of scope")

    second = next_image(c.boss, c.s.pid, mode="odd_pictures")
    assert second == order[1]
    made = label(c.boss, second, c.beer)
    assert made["source"] == "review"

    third = next_image(c.boss, c.s.pid, mode="odd_pictures")
    assert third == order[2]
    kept = keep(c.boss, third)
    assert kept.status_code == 201, kept.text
    assert kept.json()["image_id"] == third
    assert kept.json()["queue"] == "odd_pictures"
    again = keep(c.boss, third)
    assert again.status_code == 200  # the first keep stands
    assert again.json()["created_at"] == kept.json()["created_at"]
    # A keep is no annotation: the unlabeled picture stays unlabeled, and its lease ends.
    assert c.boss.get(f"/api/v1/images/{third}/annotations").json() == []
    others = _csv([i for i in c.s.image_ids if i != third])
    assert next_image(c.worker, c.s.pid, exclude=others) == third
    c.worker.post(f"/api/v1/projects/{c.s.pid}/queue/release", json={"image_ids": [third]})
    assert walk(c.boss, c.s.pid) == order[3:]

    undone = c.boss.delete(f"/api/v1/images/{third}/dismissals", params={"queue": "odd_pictures"})
    assert undone.status_code == 204
    assert walk(c.boss, c.s.pid) == [third, *order[3:]]


def test_a_kept_picture_stays_out_when_a_newer_run_scores_it_again(
    api_as: ClientFor, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, make_user, images=6)
    order = scored(c, db)
    assert keep(c.boss, order[0]).status_code == 201
    newer = empty_run(db, c.s.pid, [(c.wine, "wine"), (c.beer, "beer")])
    write_outliers(db, c.s.pid, newer, [(i, 0.9) for i in reversed(order)])
    assert walk(c.boss, c.s.pid) == list(reversed(order[1:]))


def test_keeping_is_a_manager_s_and_refuses_bad_bodies(
    api_as: ClientFor, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, make_user, images=6)
    order = scored(c, db)
    image = order[0]
    url = f"/api/v1/images/{image}/dismissals"
    assert keep(c.worker, image).status_code == 403
    assert c.worker.delete(url, params={"queue": "odd_pictures"}).status_code == 403
    hidden = keep(c.stranger, image)
    assert hidden.status_code == 404
    assert "project" not in hidden.json()["detail"].lower()
    assert c.stranger.delete(url, params={"queue": "odd_pictures"}).status_code == 404
    for body in (
        {},
        {"queue": "label_issues"},
        {"queue": "odd_pictures", "image_id": image},
        {"queue": "o" * 100_000},
        {"queue": None},
        {"queue": ["odd_pictures"]},
    ):
        assert c.boss.post(url, json=body).status_code == 422, body
    assert c.boss.post(url, content=b"\xff\x00not json").status_code == 422
    assert c.boss.delete(url).status_code == 422
    assert c.boss.delete(url, params={"queue": "'; DROP TABLE images;--"}).status_code == 422
    assert keep(c.boss, 999_999).status_code == 404
    assert keep(c.boss, 0).status_code == 422
    assert walk(c.boss, c.s.pid) == order  # none of it kept anything


def test_an_archived_project_takes_no_keeps(
    api_as: ClientFor, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, make_user, images=6)
    order = scored(c, db)
    archived = c.boss.patch(f"/api/v1/projects/{c.s.pid}", json={"archived": True})
    assert archived.status_code == 200, archived.text
    assert keep(c.boss, order[0]).status_code == 409
    url = f"/api/v1/images/{order[0]}/dismissals"
    assert c.boss.delete(url, params={"queue": "odd_pictures"}).status_code == 409


def test_after_a_keep_is_taken_back_the_next_decision_is_still_a_review(
    api_as: ClientFor, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, make_user, images=6)
    order = scored(c, db)
    first = next_image(c.boss, c.s.pid, mode="odd_pictures")
    assert first == order[0]
    assert keep(c.boss, first).status_code == 201
    url = f"/api/v1/images/{first}/dismissals"
    assert c.boss.delete(url, params={"queue": "odd_pictures"}).status_code == 204
    # Back on the reviewer's screen, and held for them: nobody else is handed it.
    others = _csv([i for i in c.s.image_ids if i != first])
    assert next_image(c.worker, c.s.pid, exclude=others) is None
    made = label(c.boss, first, c.wine)
    assert made["source"] == "review"
    assert first not in walk(c.boss, c.s.pid)
