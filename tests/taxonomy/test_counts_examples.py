"""Label counts per node (its own and its sub-tree's) and pinned example images."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.images.examples import MAX_PER_KIND
from app.images.models import Image
from app.labeling.service import annotate
from tests.conftest import ClientFor, UserFactory
from tests.images.helpers import jpegs, new_project, upload
from tests.taxonomy.labeled import ids, image, labeled_project


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def pid(api: TestClient) -> int:
    return labeled_project(api)


def counts(api: TestClient, pid: int) -> dict[str, tuple[int, int]]:
    return {
        c["path"]: (c["image_count"], c["subtree_count"])
        for c in api.get(f"/api/v1/projects/{pid}/categories").json()
    }


def test_counts_include_the_sub_tree(api: TestClient, pid: int, db: Session) -> None:
    assert counts(api, pid) == {
        "glass": (1, 4),
        "glass/beer": (1, 1),
        "glass/wine": (2, 2),
        "cup": (2, 2),
    }
    c = ids(api, pid)
    deep = api.post(
        f"/api/v1/projects/{pid}/categories", json={"name": "red", "parent_id": c["glass/wine"]}
    ).json()
    assert (deep["image_count"], deep["subtree_count"]) == (0, 0)
    # A rejection is no label; a relabel moves the count down the tree.
    annotate(db, image(db, "w1.jpg"), None, rejected=True)
    annotate(db, image(db, "c1.jpg"), None, category_id=deep["id"])
    db.commit()
    assert counts(api, pid) == {
        "glass": (1, 4),
        "glass/beer": (1, 1),
        "glass/wine": (1, 2),
        "glass/wine/red": (1, 1),
        "cup": (1, 1),
    }
    one = api.get(f"/api/v1/categories/{c['glass']}").json()
    assert (one["image_count"], one["subtree_count"]) == (1, 4)


def test_counts_come_from_one_query_over_the_images(api: TestClient, pid: int, app: object) -> None:
    engine = app.state.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert api.get(f"/api/v1/projects/{pid}/categories").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert len([s for s in seen if "FROM images" in s]) == 1


def _image_ids(db: Session, project_id: int) -> list[int]:
    db.expire_all()
    return list(
        db.scalars(select(Image.id).where(Image.project_id == project_id).order_by(Image.id))
    )


def test_pin_list_switch_and_unpin_examples(api: TestClient, pid: int, db: Session) -> None:
    c = ids(api, pid)
    w1, w2, c1 = (image(db, f).id for f in ("w1.jpg", "w2.jpg", "c1.jpg"))
    url = f"/api/v1/categories/{c['glass/wine']}/examples"
    assert api.get(url).json() == {"positive": [], "negative": []}
    first = api.post(url, json={"image_id": w1, "kind": "positive"})
    assert first.status_code == 201, first.text
    assert [i["id"] for i in first.json()["positive"]] == [w1]
    assert first.json()["positive"][0]["thumbnail_url"] == f"/api/v1/images/{w1}/thumbnail"
    api.post(url, json={"image_id": w2, "kind": "positive"})
    api.post(url, json={"image_id": c1, "kind": "negative"})
    listed = api.get(url).json()
    assert [i["id"] for i in listed["positive"]] == [w1, w2]
    assert [i["id"] for i in listed["negative"]] == [c1]
    # Pinning again: the same kind changes nothing, the other kind switches it.
    assert api.post(url, json={"image_id": w1, "kind": "positive"}).status_code == 200
    switched = api.post(url, json={"image_id": w2, "kind": "negative"})
    assert switched.status_code == 200
    # Pins keep their order (oldest first) when their kind changes.
    assert [i["id"] for i in switched.json()["negative"]] == [w2, c1]
    # The same image may guide another category.
    other = api.post(
        f"/api/v1/categories/{c['cup']}/examples", json={"image_id": w1, "kind": "negative"}
    )
    assert other.status_code == 201
    assert api.delete(f"{url}/{w1}").status_code == 204
    assert [i["id"] for i in api.get(url).json()["positive"]] == []
    assert api.delete(f"{url}/{w1}").status_code == 404
    assert [
        i["id"] for i in api.get(f"/api/v1/categories/{c['cup']}/examples").json()["negative"]
    ] == [w1]


def test_examples_refuse_bad_input_and_stop_at_the_cap(
    api: TestClient, pid: int, db: Session
) -> None:
    c = ids(api, pid)
    url = f"/api/v1/categories/{c['cup']}/examples"
    other = new_project(api, "Other")
    upload(api, other, jpegs(1, start=500))
    theirs = _image_ids(db, other)[0]
    cross = api.post(url, json={"image_id": theirs, "kind": "positive"})
    assert cross.status_code == 422
    assert "not an image of this project" in cross.json()["detail"]
    for body in (
        {"image_id": image(db, "c1.jpg").id, "kind": "maybe"},
        {"image_id": image(db, "c1.jpg").id},
        {"kind": "positive"},
        {"image_id": 0, "kind": "positive"},
        {"image_id": 999_999, "kind": "positive"},
    ):
        assert api.post(url, json=body).status_code == 422, body
    assert (
        api.post(
            "/api/v1/categories/999999/examples", json={"image_id": 1, "kind": "positive"}
        ).status_code
        == 404
    )
    assert api.get("/api/v1/categories/999999/examples").status_code == 404

    upload(api, pid, jpegs(MAX_PER_KIND + 1, start=600))
    mine = _image_ids(db, pid)
    for image_id in mine[:MAX_PER_KIND]:
        assert api.post(url, json={"image_id": image_id, "kind": "negative"}).status_code == 201
    full = api.post(url, json={"image_id": mine[MAX_PER_KIND], "kind": "negative"})
    assert full.status_code == 409
    assert f"already has {MAX_PER_KIND} negative examples" in full.json()["detail"]
    assert len(api.get(url).json()["negative"]) == MAX_PER_KIND
    # The cap is per kind.
    assert (
        api.post(url, json={"image_id": mine[MAX_PER_KIND], "kind": "positive"}).status_code == 201
    )


def test_examples_permissions(
    api: TestClient,
    pid: int,
    db: Session,
    api_as: ClientFor,
    labeler: User,
    make_user: UserFactory,
) -> None:
    c = ids(api, pid)
    c1 = image(db, "c1.jpg").id
    url = f"/api/v1/categories/{c['cup']}/examples"
    api.post(url, json={"image_id": c1, "kind": "positive"})
    assert api.post(
        f"/api/v1/projects/{pid}/members", json={"username": labeler.username}
    ).status_code in (200, 201)
    lena = api_as(labeler)
    # Members read the guide; only managers change it.
    assert [i["id"] for i in lena.get(url).json()["positive"]] == [c1]
    assert lena.post(url, json={"image_id": c1, "kind": "negative"}).status_code == 403
    assert lena.delete(f"{url}/{c1}").status_code == 403
    outsider = api_as(make_user())
    assert outsider.get(url).status_code == 404
    assert outsider.post(url, json={"image_id": c1, "kind": "negative"}).status_code == 404
    assert outsider.delete(f"{url}/{c1}").status_code == 404
    assert [i["id"] for i in api.get(url).json()["positive"]] == [c1]


def test_examples_follow_merges_and_go_with_their_category(
    api: TestClient, pid: int, db: Session
) -> None:
    c = ids(api, pid)
    c1, c2, w1 = (image(db, f).id for f in ("c1.jpg", "c2.jpg", "w1.jpg"))
    api.post(f"/api/v1/categories/{c['cup']}/examples", json={"image_id": c1, "kind": "positive"})
    api.post(f"/api/v1/categories/{c['cup']}/examples", json={"image_id": w1, "kind": "negative"})
    api.post(f"/api/v1/categories/{c['glass']}/examples", json={"image_id": w1, "kind": "positive"})
    api.post(f"/api/v1/categories/{c['cup']}/merge", json={"into_id": c["glass"]})
    kept = api.get(f"/api/v1/categories/{c['glass']}/examples").json()
    # Pinned to both: the kept category's pin wins.
    assert sorted(i["id"] for i in kept["positive"]) == sorted([c1, w1])
    assert kept["negative"] == []

    plate = api.post(f"/api/v1/projects/{pid}/categories", json={"name": "plate"}).json()
    api.post(
        f"/api/v1/categories/{plate['id']}/examples", json={"image_id": c2, "kind": "positive"}
    )
    assert api.delete(f"/api/v1/categories/{plate['id']}").status_code == 204
    assert api.get(f"/api/v1/images/{c2}").status_code == 200
