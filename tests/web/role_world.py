"""The world the role matrix runs in: one project with a bit of everything, six callers.

Project P belongs to mona (a global manager who created it, so its manager member);
lena labels in it. max, also a global manager, runs his own project Q and is nobody in
P. otto is a labeler in no project. root is the admin. Every route is called against P's
rows, by each caller in turn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.config import Settings
from app.db import utcnow
from app.images.models import Image
from app.training.models import RunMode, RunStatus, TrainingRun
from app.training.service import run_dir
from tests.conftest import PASSWORD, UserFactory, csrf_from
from tests.images import corpus
from tests.images.helpers import file_part, jpegs, upload

IDENTITIES = ("anonymous", "outsider", "labeler", "manager", "other_manager", "admin")
USERNAMES = {
    "outsider": ("otto", Role.labeler),
    "labeler": ("lena", Role.labeler),
    "manager": ("mona", Role.manager),
    "other_manager": ("max", Role.manager),
    "admin": ("root", Role.admin),
}


def login_api(app: FastAPI, username: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    resp = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    client.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
    return client


def login_page(app: FastAPI, username: str) -> tuple[TestClient, str]:
    """A browser-like client logged in through the form, and its CSRF token."""
    client = TestClient(app, follow_redirects=False)
    token = csrf_from(client)
    form = {"username": username, "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form).status_code == 303
    return client, csrf_from(client, "/projects")


def anonymous_page(app: FastAPI) -> tuple[TestClient, str]:
    # A valid CSRF token: only the missing login can be what refuses a form.
    client = TestClient(app, follow_redirects=False)
    return client, csrf_from(client)


@dataclass
class Caller:
    name: str
    api: TestClient
    page: TestClient
    csrf: str


@dataclass
class World:
    app: FastAPI
    db: Session
    settings: Settings
    make_user: UserFactory
    users: dict[str, User]
    ids: dict[str, int]
    callers: dict[str, Caller] = field(default_factory=dict)
    counter: int = 0

    def caller(self, name: str) -> Caller:
        if name not in self.callers:
            self.callers[name] = self._log_in(name)
        return self.callers[name]

    def _log_in(self, name: str) -> Caller:
        if name == "anonymous":
            page, csrf = anonymous_page(self.app)
            return Caller(name, TestClient(self.app, follow_redirects=False), page, csrf)
        username = self.users[name].username
        page, csrf = login_page(self.app, username)
        return Caller(name, login_api(self.app, username), page, csrf)

    def log_in_again(self, name: str) -> None:
        """After a logout route: the caller's session (or every one of theirs) is gone."""
        old = self.callers.pop(name, None)
        if old is not None:
            old.api.close()
            old.page.close()

    def close(self) -> None:
        for caller in self.callers.values():
            caller.api.close()
            caller.page.close()

    @property
    def mona(self) -> TestClient:
        """The project manager's API client, for arranging rows."""
        return self.caller("manager").api

    def unique(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    # Rows made afresh for one call, where a call uses its target up (delete, merge, remove).
    def new_category(self) -> int:
        resp = self.mona.post(
            f"/api/v1/projects/{self.ids['project_id']}/categories",
            json={"name": self.unique("spare")},
        )
        assert resp.status_code == 201, resp.text
        return int(resp.json()["id"])

    def new_member(self) -> int:
        name = self.unique("member")
        user = self.make_user(Role.labeler, name)
        resp = self.mona.post(
            f"/api/v1/projects/{self.ids['project_id']}/members",
            json={"username": name, "role": "labeler"},
        )
        assert resp.status_code == 201, resp.text
        return user.id

    def new_user(self) -> int:
        return self.make_user(Role.labeler, self.unique("someone")).id

    def pinned(self) -> None:
        resp = self.mona.post(
            f"/api/v1/categories/{self.ids['category_id']}/examples",
            json={"image_id": self.ids["image_id"], "kind": "positive"},
        )
        assert resp.status_code in (200, 201), resp.text


def _succeeded_run(db: Session, settings: Settings, pid: int, cats: list[tuple[int, str]]) -> int:
    names = [n for _, n in cats]
    run = TrainingRun(
        project_id=pid,
        mode=RunMode.linear,
        backbone="efficientnet_lite0",
        status=RunStatus.succeeded,
        phase="done",
        progress=1.0,
        classes=[[cid, name] for cid, name in cats],
        metrics={
            "accuracy": 1.0,
            "macro_f1": 1.0,
            "labels": names,
            "confusion_matrix": [[1, 0], [0, 1]],
            "per_class": {
                n: {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1} for n in names
            },
        },
        finished_at=utcnow(),
        heartbeat_at=utcnow(),
    )
    db.add(run)
    db.commit()
    folder = run_dir(settings, run.id)
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"onnx model bytes")
    (folder / "model.pt").write_bytes(b"torchscript bytes")
    (folder / "model.json").write_text(json.dumps({"classes": names}))
    return run.id


def build_world(app: FastAPI, db: Session, settings: Settings, make_user: UserFactory) -> World:
    users = {who: make_user(role, name) for who, (name, role) in USERNAMES.items()}
    world = World(app, db, settings, make_user, users, {})
    mona, max_ = world.caller("manager").api, world.caller("other_manager").api
    pid = int(mona.post("/api/v1/projects", json={"name": "P"}).json()["id"])
    qid = int(max_.post("/api/v1/projects", json={"name": "Q"}).json()["id"])
    joined = mona.post(f"/api/v1/projects/{pid}/members", json={"username": "lena"})
    assert joined.status_code == 201, joined.text
    cats = []
    for name in ("glass", "beer"):
        made = mona.post(f"/api/v1/projects/{pid}/categories", json={"name": name})
        assert made.status_code == 201, made.text
        cats.append((int(made.json()["id"]), name))
    picture = corpus.photo(seed=5)
    twins = [
        file_part("orig.jpg", corpus.encode(picture, "JPEG", quality=92), "image/jpeg"),
        file_part("small.jpg", corpus.encode(picture.resize((250, 188)), "JPEG"), "image/jpeg"),
    ]
    upload(mona, pid, [*jpegs(6), *twins])
    image_ids = sorted(db.scalars(select(Image.id).where(Image.project_id == pid)))
    # Enough labels to train on (two classes of two), none on the image the calls use.
    for image_id, (category_id, _) in zip(image_ids[1:5], [*cats, *cats], strict=True):
        done = mona.post(
            f"/api/v1/images/{image_id}/annotations", json={"category_id": category_id}
        )
        assert done.status_code == 201, done.text
    groups = mona.get(f"/api/v1/projects/{pid}/duplicate-groups").json()["items"]
    batches = mona.get(f"/api/v1/projects/{pid}/imports").json()
    queued = TrainingRun(project_id=pid, mode=RunMode.linear, backbone="efficientnet_lite0")
    db.add(queued)
    db.commit()
    world.ids = {
        "project_id": pid,
        "other_project_id": qid,
        "category_id": cats[0][0],
        "other_category_id": cats[1][0],
        "image_id": image_ids[0],
        "run_id": _succeeded_run(db, settings, pid, cats),
        "queued_run_id": queued.id,
        "batch_id": int(batches[0]["id"]),
        "group_id": int(groups[0]["id"]),
        "group_image_id": int(groups[0]["images"][0]["id"]),
    }
    return world
