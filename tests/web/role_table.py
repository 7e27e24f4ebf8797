"""Who may call each route of the app: the role matrix's table.

Every route the app answers has a row. A row names the standing the route needs (its
level) and, for routes that change something, a call that would succeed: a valid body,
form or file, and fresh rows where the call uses its target up (a deletion, a merge).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.images import corpus
from tests.web.role_world import IDENTITIES, World

# What each caller gets, per level: "ok" (a 2xx or 3xx answer, or one of the row's
# `also` codes), "login" (401 from the API, a redirect to /login from a page), 403 or 404.
LEVELS: dict[str, dict[str, str]] = {
    # Anyone, logged in or not.
    "public": dict.fromkeys(IDENTITIES, "ok"),
    # Any logged-in user.
    "user": {"anonymous": "login", **dict.fromkeys(IDENTITIES[1:], "ok")},
    # The global admin role only.
    "admin": {"anonymous": "login", **dict.fromkeys(IDENTITIES[1:-1], "403"), "admin": "ok"},
    # The global roles that may create projects.
    "creator": {
        "anonymous": "login",
        "outsider": "403",
        "labeler": "403",
        "manager": "ok",
        "other_manager": "ok",
        "admin": "ok",
    },
    # Any member of the project (admins see everything); outsiders learn nothing.
    "member": {
        "anonymous": "login",
        "outsider": "404",
        "labeler": "ok",
        "manager": "ok",
        "other_manager": "404",
        "admin": "ok",
    },
    # The project's managers (and admins); its labelers are refused, outsiders learn nothing.
    "manager": {
        "anonymous": "login",
        "outsider": "404",
        "labeler": "403",
        "manager": "ok",
        "other_manager": "404",
        "admin": "ok",
    },
}

Make = Callable[[World], dict[str, Any]]
Prepare = Callable[[World, str], dict[str, int]]


@dataclass(frozen=True)
class Row:
    level: str
    json: Make | None = None
    form: Make | None = None  # a page form; the caller's CSRF token is added
    files: Callable[[], dict[str, tuple[str, bytes]]] | None = None
    query: Make | None = None
    # Path ids made for this one call (by the project's manager), by parameter name.
    fresh: Prepare | None = None
    # Codes an allowed caller may get besides 2xx and 3xx, each for a stated reason.
    also: frozenset[int] = field(default_factory=frozenset)
    ends_session: bool = False  # the caller logs in again after it


def _ids(*names: str) -> Make:
    return lambda w: {k: w.ids[v] for k, v in (n.split("=") for n in names)}


def _new_category(w: World, _who: str) -> dict[str, int]:
    return {"category_id": w.new_category()}


def _pinned(w: World, _who: str) -> dict[str, int]:
    w.pinned()
    return {}


def _labeled_first(w: World, who: str) -> dict[str, int]:
    """Undo needs something of the caller's own to undo."""
    if who in ("labeler", "manager", "admin"):
        url = f"/api/v1/images/{w.ids['image_id']}/annotations"
        w.caller(who).api.post(url, json={"category_id": w.ids["category_id"]})
    return {}


_BULK_KEYS = itertools.count(1)
_bulk_key: dict[str, str] = {}


def _bulk_first(w: World, who: str) -> dict[str, int]:
    """A bulk undo needs a bulk action of the caller's own, named by its key."""
    _bulk_key["key"] = f"role-bulk-{next(_BULK_KEYS)}"
    if who in ("labeler", "manager", "admin"):
        url = f"/api/v1/projects/{w.ids['project_id']}/annotations/bulk"
        body = {"image_ids": [w.ids["image_id"]], "category_id": w.ids["category_id"]}
        headers = {"Idempotency-Key": _bulk_key["key"]}
        w.caller(who).api.post(url, json=body, headers=headers)
    return {}


_SEEDS = itertools.count(1000)


def _image() -> dict[str, tuple[str, bytes]]:
    # A new picture each time: a duplicate would be answered all the same, but this
    # keeps every upload a real import.
    return {"files": ("new.jpg", corpus.jpeg(seed=next(_SEEDS)))}


def _csv() -> dict[str, tuple[str, bytes]]:
    return {"file": ("labels.csv", b"img0.jpg,glass\n")}


def _name(prefix: str, key: str = "name") -> Make:
    return lambda w: {key: w.unique(prefix)}


CELL = _ids("true_id=category_id", "predicted_id=category_id")
KEEP = _ids("image_id=group_image_id")
CREDENTIALS = {"username": "nobody", "password": "not the password"}
# A wrong password is answered 401 (API) or with the form again: the route is public.
LOGIN_ANSWERS = frozenset({400, 401, 429})

TABLE: dict[tuple[str, str], Row] = {
    # Public
    ("GET", "/api/v1/health"): Row("public"),
    ("POST", "/api/v1/auth/token"): Row(
        "public", form=lambda w: dict(CREDENTIALS), also=LOGIN_ANSWERS
    ),
    ("GET", "/login"): Row("public"),
    ("POST", "/login"): Row("public", form=lambda w: dict(CREDENTIALS), also=LOGIN_ANSWERS),
    # Any user
    ("GET", "/"): Row("user"),
    ("GET", "/docs"): Row("user"),
    ("GET", "/api/v1/openapi.json"): Row("user"),
    ("GET", "/api/v1/users/me"): Row("user"),
    ("GET", "/api/v1/projects"): Row("user"),
    ("GET", "/projects"): Row("user"),
    ("POST", "/logout"): Row("user", form=lambda w: {}, ends_session=True),
    ("POST", "/logout/everywhere"): Row("user", form=lambda w: {}, ends_session=True),
    # Admin
    ("GET", "/api/v1/users"): Row("admin"),
    ("POST", "/api/v1/users"): Row(
        "admin",
        json=lambda w: {"username": w.unique("new"), "password": "long-enough", "role": "labeler"},
    ),
    ("PATCH", "/api/v1/users/{user_id}"): Row(
        "admin", json=lambda w: {"role": "manager"}, fresh=lambda w, _: {"user_id": w.new_user()}
    ),
    ("GET", "/admin/users"): Row("admin"),
    ("POST", "/admin/users"): Row(
        "admin",
        form=lambda w: {"username": w.unique("new"), "password": "long-enough", "role": "labeler"},
    ),
    ("POST", "/admin/users/{user_id}"): Row(
        "admin",
        form=lambda w: {"action": "role", "role": "manager"},
        fresh=lambda w, _: {"user_id": w.new_user()},
    ),
    # Creating projects
    ("POST", "/api/v1/projects"): Row("creator", json=_name("Project ")),
    ("POST", "/projects"): Row("creator", form=_name("Project ")),
    # A project: reading and labeling
    ("GET", "/api/v1/projects/{project_id}"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/members"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/categories"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/taxonomy"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/images"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/imports"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/counters"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/stats"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/duplicate-groups"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/training-runs"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/predictions"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/outliers"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/embedding-map"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/embedding-map/columns"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/label-issues"): Row("member"),
    ("GET", "/api/v1/projects/{project_id}/queue/next"): Row("member"),
    ("POST", "/api/v1/projects/{project_id}/queue/release"): Row(
        "member", json=lambda w: {"image_ids": [w.ids["image_id"]]}
    ),
    ("POST", "/api/v1/projects/{project_id}/undo"): Row("member", fresh=_labeled_first),
    ("POST", "/api/v1/projects/{project_id}/annotations/bulk"): Row(
        "member", json=lambda w: {"image_ids": [w.ids["image_id"]], "rejected": True}
    ),
    ("POST", "/api/v1/projects/{project_id}/annotations/bulk/undo"): Row(
        "member", fresh=_bulk_first, json=lambda _w: {"idempotency_key": _bulk_key["key"]}
    ),
    ("POST", "/api/v1/projects/{project_id}/duplicate-groups/{group_id}/keep"): Row(
        "member", json=KEEP
    ),
    ("GET", "/api/v1/categories/{category_id}"): Row("member"),
    ("GET", "/api/v1/categories/{category_id}/examples"): Row("member"),
    ("GET", "/api/v1/images/{image_id}"): Row("member"),
    ("GET", "/api/v1/images/{image_id}/file"): Row("member"),
    ("GET", "/api/v1/images/{image_id}/display"): Row("member"),
    ("GET", "/api/v1/images/{image_id}/thumbnail"): Row("member"),
    ("GET", "/api/v1/images/{image_id}/annotations"): Row("member"),
    # 202 at first (a worker makes the map): allowed callers get it queued, not refused.
    ("GET", "/api/v1/images/{image_id}/saliency"): Row("member", query=_ids("run_id=run_id")),
    ("POST", "/api/v1/images/{image_id}/annotations"): Row(
        "member", json=_ids("category_id=category_id")
    ),
    ("GET", "/api/v1/imports/{batch_id}"): Row("member"),
    ("GET", "/api/v1/training-runs/{run_id}"): Row("member"),
    ("GET", "/api/v1/training-runs/{run_id}/confusion"): Row("member", query=CELL),
    ("GET", "/projects/{project_id}"): Row("member"),
    ("GET", "/projects/{project_id}/taxonomy"): Row("member"),
    ("GET", "/projects/{project_id}/images"): Row("member"),
    ("GET", "/projects/{project_id}/images/_links"): Row("member"),
    ("GET", "/projects/{project_id}/grid"): Row("member"),
    ("GET", "/projects/{project_id}/map"): Row("member"),
    ("GET", "/projects/{project_id}/label"): Row("member"),
    ("GET", "/projects/{project_id}/counters/_table"): Row("member"),
    ("GET", "/projects/{project_id}/duplicates"): Row("member"),
    ("POST", "/projects/{project_id}/duplicates/{group_id}/keep"): Row("member", form=KEEP),
    ("GET", "/projects/{project_id}/imports"): Row("member"),
    ("GET", "/projects/{project_id}/imports/_list"): Row("member"),
    ("GET", "/projects/{project_id}/training"): Row("member"),
    ("GET", "/projects/{project_id}/training/_section"): Row("member"),
    ("GET", "/projects/{project_id}/runs/_list"): Row("member"),
    ("GET", "/projects/{project_id}/runs/compare"): Row(
        "member", query=_ids("a=run_id", "b=queued_run_id")
    ),
    ("GET", "/projects/{project_id}/runs/{run_id}"): Row("member"),
    ("GET", "/projects/{project_id}/runs/{run_id}/_body"): Row("member"),
    ("GET", "/projects/{project_id}/runs/{run_id}/cell"): Row("member", query=CELL),
    ("GET", "/projects/{project_id}/runs/{run_id}/_cell"): Row("member", query=CELL),
    ("GET", "/images/{image_id}"): Row("member"),
    ("GET", "/imports/{batch_id}"): Row("member"),
    # A project: managing it
    ("PATCH", "/api/v1/projects/{project_id}"): Row(
        "manager", json=lambda w: {"description": "changed"}
    ),
    ("POST", "/api/v1/projects/{project_id}/members"): Row(
        "manager",
        json=lambda w: {"username": w.make_user().username, "role": "labeler"},
    ),
    ("DELETE", "/api/v1/projects/{project_id}/members/{user_id}"): Row(
        "manager", fresh=lambda w, _: {"user_id": w.new_member()}
    ),
    ("POST", "/api/v1/projects/{project_id}/categories"): Row("manager", json=_name("cat")),
    ("POST", "/api/v1/projects/{project_id}/taxonomy"): Row("manager", json=_name("cat", "text")),
    ("POST", "/api/v1/projects/{project_id}/images"): Row("manager", files=_image),
    ("POST", "/api/v1/projects/{project_id}/labels-csv"): Row("manager", files=_csv),
    ("GET", "/api/v1/projects/{project_id}/export"): Row("manager"),
    # It grades each labeler: managers read it, like the disagreements queue.
    ("GET", "/api/v1/projects/{project_id}/agreement"): Row("manager"),
    ("GET", "/projects/{project_id}/agreement"): Row("manager"),
    ("GET", "/projects/{project_id}/agreement/_card"): Row("manager"),
    # The odd-pictures queue's keep and its undo: a manager's, like the queue itself.
    ("POST", "/api/v1/images/{image_id}/dismissals"): Row(
        "manager", json=lambda w: {"queue": "odd_pictures"}
    ),
    ("DELETE", "/api/v1/images/{image_id}/dismissals"): Row(
        "manager", query=lambda w: {"queue": "odd_pictures"}
    ),
    ("POST", "/api/v1/projects/{project_id}/training-runs"): Row(
        # A run is already queued: the manager is told so (409), not refused.
        "manager",
        json=lambda w: {"mode": "linear"},
        also=frozenset({409}),
    ),
    ("POST", "/api/v1/projects/{project_id}/embedding-map/refresh"): Row("manager"),
    ("PATCH", "/api/v1/categories/{category_id}"): Row(
        "manager", json=lambda w: {"description": "changed"}
    ),
    ("DELETE", "/api/v1/categories/{category_id}"): Row("manager", fresh=_new_category),
    ("POST", "/api/v1/categories/{category_id}/merge"): Row(
        "manager", json=_ids("into_id=category_id"), fresh=_new_category
    ),
    ("POST", "/api/v1/categories/{category_id}/examples"): Row(
        "manager", json=lambda w: {"image_id": w.ids["image_id"], "kind": "positive"}
    ),
    ("DELETE", "/api/v1/categories/{category_id}/examples/{image_id}"): Row(
        "manager", fresh=_pinned
    ),
    ("POST", "/api/v1/training-runs/{run_id}/cancel"): Row(
        # Cancelling twice: the second is told the run is already cancelled.
        "manager",
        fresh=lambda w, _: {"run_id": w.ids["queued_run_id"]},
        also=frozenset({409}),
    ),
    ("GET", "/api/v1/training-runs/{run_id}/model"): Row("manager"),
    ("POST", "/projects/{project_id}"): Row(
        "manager", form=lambda w: {"name": "P", "description": "changed"}
    ),
    ("POST", "/projects/{project_id}/archive"): Row("manager", form=lambda w: {"archived": "0"}),
    ("POST", "/projects/{project_id}/members"): Row(
        "manager", form=lambda w: {"username": w.make_user().username, "role": "labeler"}
    ),
    ("POST", "/projects/{project_id}/members/{member_id}/remove"): Row(
        "manager", form=lambda w: {}, fresh=lambda w, _: {"member_id": w.new_member()}
    ),
    ("POST", "/projects/{project_id}/labels-csv"): Row("manager", form=lambda w: {}, files=_csv),
    ("POST", "/projects/{project_id}/examples"): Row(
        "manager",
        form=lambda w: {
            "image_id": str(w.ids["image_id"]),
            "category_id": str(w.ids["category_id"]),
            "kind": "positive",
        },
    ),
    ("POST", "/projects/{project_id}/taxonomy"): Row("manager", form=_name("cat")),
    ("POST", "/projects/{project_id}/taxonomy/{category_id}"): Row(
        "manager", form=lambda w: {"name": "glass", "parent_id": "", "description": "changed"}
    ),
    ("POST", "/projects/{project_id}/taxonomy/{category_id}/delete"): Row(
        "manager", form=lambda w: {}, fresh=_new_category
    ),
    ("POST", "/projects/{project_id}/taxonomy/{category_id}/merge"): Row(
        "manager",
        form=lambda w: {"into_id": str(w.ids["category_id"])},
        fresh=_new_category,
    ),
    ("POST", "/projects/{project_id}/taxonomy/{category_id}/examples/{image_id}/unpin"): Row(
        "manager", form=lambda w: {}, fresh=_pinned
    ),
    ("POST", "/projects/{project_id}/runs"): Row(
        "manager", form=lambda w: {"mode": "linear"}, also=frozenset({409})
    ),
    ("POST", "/projects/{project_id}/runs/{run_id}/cancel"): Row(
        "manager",
        form=lambda w: {},
        fresh=lambda w, _: {"run_id": w.ids["queued_run_id"]},
    ),
}
