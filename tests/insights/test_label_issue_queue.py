"""The "Label issues" review queue through the API: the newest scoring run's label
issues, most likely wrong first; every decision made from it is a review, and a
reviewed image is not asked again."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.training.models import TrainingRun
from tests.conftest import ClientFor, UserFactory
from tests.insights.review_rows import Crew, crew, empty_run, write_issues
from tests.labeling.helpers import label
from tests.training.prediction_rows import write_run

MODE = {"mode": "label_issues"}


def served(api: TestClient, pid: int, exclude: list[int] | None = None) -> dict[str, object] | None:
    params: dict[str, str] = {**MODE}
    if exclude:
        params["exclude"] = ",".join(str(i) for i in exclude)
    resp = api.get(f"/api/v1/projects/{pid}/queue/next", params=params)
    if resp.status_code == 204:
        return None
    assert resp.status_code == 200, resp.text
    body: dict[str, object] = resp.json()
    return body


def walk(api: TestClient, pid: int) -> list[int]:
    """Every image the queue would serve, in its order (each leased in turn)."""
    seen: list[int] = []
    while (item := served(api, pid, seen)) is not None:
        seen.append(int(str(item["image_id"])))
    api.post(f"/api/v1/projects/{pid}/queue/release", json={"image_ids": seen})
    return seen


def decide(api: TestClient, image_id: int, body: dict[str, object]) -> dict[str, object]:
    resp = api.post(f"/api/v1/images/{image_id}/annotations", json=body)
    assert resp.status_code == 201, resp.text
    made: dict[str, object] = resp.json()
    return made


def scored(c: Crew, db: Session) -> tuple[list[int], int]:
    """Four wine labels; the run doubts two of them (it believes in beer), the second
    image most. Its predictions give beer 0.75 on the two doubted images."""
    ids = c.s.image_ids
    for image in ids[:4]:
        label(c.boss, image, c.wine)
    classes = [(c.wine, "wine"), (c.beer, "beer")]
    run = write_run(db, c.s.pid, classes, {i: [0.25, 0.75] for i in ids[:2]})
    rows = [
        (ids[1], c.wine, c.beer, 0.9, True),
        (ids[0], c.wine, c.beer, 0.7, True),
        (ids[3], c.wine, c.wine, 0.2, False),
        (ids[2], c.wine, c.wine, 0.1, False),
    ]
    write_issues(db, c.s.pid, run, rows)
    return [ids[1], ids[0], ids[3], ids[2]], run


def test_the_queue_serves_every_scored_label_most_likely_wrong_first(
    api_as: ClientFor, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, make_user, images=5)
    order, run = scored(c, db)
    # Flagged or not, in the run's rank order; the unlabeled fifth image is not scored.
    assert walk(c.boss, c.s.pid) == order
    item = served(c.boss, c.s.pid)
    assert item is not None
    assert item["image_id"] == order[0]
    assert item["mode"] == "label_issues"
    assert item["remaining"] == 4
    assert item["review"] == {
        "run_id": run,
        "score": 0.9,
        "flagged": True,
        "current_category_id": c.wine,
        "given_category_id": c.wine,
        "suggested_category_id": c.beer,
    }
    # Enter takes the issue's suggestion, with the run's probability for that class.
    assert item["suggestion"] == {"category_id": c.beer, "confidence": 0.75}


def test_keep_relabel_and_reject_are_reviews_and_are_not_asked_again(
    api_as: ClientFor, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, make_user, images=5)
    order, _ = scored(c, db)
    choices: list[dict[str, object]] = [
        {"category_id": c.wine},  # keep the given label
        {"category_id": c.beer},  # relabel: the suggestion
        {"rejected": True, "reason": "ambiguous"},
    ]
    for expected, body in zip(order, choices, strict=False):
        item = served(c.boss, c.s.pid)
        assert item is not None
        assert item["image_id"] == expected
        made = decide(c.boss, expected, body)
        assert made["source"] == "review", made
        assert (made["category_id"], made["rejected"]) == (
            body.get("category_id"),
            body.get("rejected", False),
        )
    assert walk(c.boss, c.s.pid) == [order[3]]
    now = [c.boss.get(f"/api/v1/images/{i}").json() for i in order[:3]]
    assert [(n["status"], n["category_id"]) for n in now] == [
        ("labeled", c.wine),  # kept
        ("labeled", c.beer),  # relabeled
        ("rejected", None),
    ]


def test_a_kept_label_stays_out_when_the_next_run_doubts_it_again(
    api_as: ClientFor, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, make_user, images=5)
    order, _ = scored(c, db)
    assert served(c.boss, c.s.pid) is not None
    decide(c.boss, order[0], {"category_id": c.wine})
    newer = empty_run(db, c.s.pid, [(c.wine, "wine"), (c.beer, "beer")])
    write_issues(db, c.s.pid, newer, [(i, c.wine, c.beer, 0.8, True) for i in order])
    assert walk(c.boss, c.s.pid) == order[1:]


def test_a_label_changed_since_the_run_is_no_longer_an_issue(
    api_as: ClientFor, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, make_user, images=5)
    order, _ = scored(c, db)
    label(c.worker, order[0], c.beer)  # on the labeling screen, not from this queue
    assert walk(c.boss, c.s.pid) == order[1:]


def test_the_newest_run_with_issues_decides_and_none_means_an_empty_queue(
    api_as: ClientFor, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, make_user, images=5)
    assert served(c.boss, c.s.pid) is None  # no run yet
    order, _ = scored(c, db)
    empty_run(db, c.s.pid, [(c.wine, "wine"), (c.beer, "beer")])  # scored nothing
    assert walk(c.boss, c.s.pid) == order
    newest = empty_run(db, c.s.pid, [(c.wine, "wine"), (c.beer, "beer")])
    write_issues(db, c.s.pid, newest, [(order[3], c.wine, c.beer, 0.6, True)])
    assert walk(c.boss, c.s.pid) == [order[3]]
    item = served(c.boss, c.s.pid)
    assert item is not None
    assert item["review"] is not None
    # That run stored no predictions: the suggestion is the issue's, without a probability.
    assert item["suggestion"] is None
    assert item["review"]["suggested_category_id"] == c.beer  # type: ignore[index]


def test_only_the_project_s_managers_review_label_issues(
    api_as: ClientFor, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, make_user, images=5)
    scored(c, db)
    url = f"/api/v1/projects/{c.s.pid}/queue/next"
    for mode in ("label_issues", "odd_pictures"):
        refused = c.worker.get(url, params={"mode": mode})
        assert refused.status_code == 403, refused.text
        assert "managers" in refused.json()["detail"]
        hidden = c.stranger.get(url, params={"mode": mode})
        assert hidden.status_code == 404, hidden.text
    assert c.worker.get(url, params={"mode": "label_issues_x"}).status_code == 422
    assert c.boss.get(url, params={"mode": "x" * 5000}).status_code == 422


def test_a_run_at_a_taxonomy_level_doubts_the_family_the_image_rolls_up_to(
    api_as: ClientFor, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, make_user, images=3)
    red = c.boss.post(
        f"/api/v1/projects/{c.s.pid}/categories", json={"name": "red", "parent_id": c.wine}
    ).json()["id"]
    first, second, _ = c.s.image_ids
    label(c.boss, first, red)
    seen = int(str(label(c.boss, second, red)["id"]))
    run_id = empty_run(db, c.s.pid, [(c.wine, "wine"), (c.beer, "beer")])
    run = db.get(TrainingRun, run_id)
    assert run is not None
    run.level, run.last_annotation_id = 1, seen  # a level-1 run that saw both labels
    db.commit()
    # The run trained on "wine", the family both species labels roll up to.
    write_issues(db, c.s.pid, run_id, [(i, c.wine, c.beer, 0.8, True) for i in (first, second)])
    assert walk(c.boss, c.s.pid) == [first, second]
    item = served(c.boss, c.s.pid)
    assert item is not None
    review = item["review"]
    assert isinstance(review, dict)
    # A keeps the species the image carries, not the family the run saw.
    assert (review["given_category_id"], review["current_category_id"]) == (c.wine, red)
    c.boss.post(f"/api/v1/projects/{c.s.pid}/queue/release", json={"image_ids": [first]})
    label(c.worker, second, c.beer)  # relabeled since: no longer the run's issue
    assert walk(c.boss, c.s.pid) == [first]
