"""The labeling hot path on SQLite: queue/next reads first, then claims with its only
write, which commits by itself; a decision is one INSERT, committed by itself too (the
database's trigger sets the label and gives the lease back); every queue query is
served by an index."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event

from app.auth.models import User
from tests.conftest import ClientFor
from tests.labeling.helpers import arrange, join, label, next_image

Statement = tuple[str, Any, bool]  # SQL, parameters, a transaction open after it
PROJECT_WIDE = re.compile(r"SEARCH images .*\(project_id=\?( AND id[<>]=?\?)?\)$")


@contextmanager
def recorded(app: FastAPI) -> Iterator[list[Statement]]:
    engine = app.state.engine
    seen: list[Statement] = []

    def after(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params, conn.connection.dbapi_connection.in_transaction))

    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "after_cursor_execute", after)


def test_the_claim_is_the_only_write_and_commits_at_once(
    app: FastAPI, api_as: ClientFor, admin: User
) -> None:
    api = api_as(admin)  # logged in before the recording starts
    s = arrange(api, images=3)
    with recorded(app) as seen:
        assert next_image(api, s.pid) == s.image_ids[0]
    writes = [(sql, open_after) for sql, _, open_after in seen if not sql.startswith("SELECT")]
    assert len(writes) == 1, writes
    sql, open_after = writes[0]
    assert sql.startswith("INSERT INTO leases")
    # No transaction stays open after it: SQLite's write lock was held for that one
    # statement, not until the end of the request.
    assert open_after is False
    assert not any(open_after for _, _, open_after in seen)


def test_a_decision_is_one_insert_committed_at_once(
    app: FastAPI, api_as: ClientFor, admin: User
) -> None:
    api = api_as(admin)
    s = arrange(api, images=2)
    image = next_image(api, s.pid)
    assert image is not None
    with recorded(app) as seen:
        label(api, image, s.categories["wine"], key="one-insert")
    writes = [(sql, open_after) for sql, _, open_after in seen if not sql.startswith("SELECT")]
    assert [(sql.split()[0:3], open_after) for sql, open_after in writes] == [
        (["INSERT", "INTO", "annotations"], False)
    ]
    body = api.get(f"/api/v1/images/{image}").json()
    assert (body["status"], body["category_id"]) == ("labeled", s.categories["wine"])
    assert next_image(api, s.pid) != image  # the lease is gone with the label


@pytest.mark.parametrize(
    "params",
    [
        {"strategy": "sequential"},
        {"strategy": "random"},
        {"mode": "review"},
        {"mode": "rejected"},
        {"mode": "disagreements"},
    ],
)
def test_every_queue_query_uses_an_index(
    app: FastAPI, api_as: ClientFor, admin: User, manager: User, params: dict[str, str]
) -> None:
    s = arrange(api_as(admin), images=4)
    boss = api_as(admin)
    assert boss.patch(f"/api/v1/projects/{s.pid}", json={"overlap_percent": 100}).status_code == 200
    join(boss, s.pid, manager.username, "manager")
    # Every pool has an image: a first label waits for a second (from someone else), a
    # label and a rejection wait for review, and one disagreement.
    label(boss, s.image_ids[0], s.categories["wine"])
    label(boss, s.image_ids[1], s.categories["wine"])
    label(api_as(manager), s.image_ids[1], s.categories["beer"])
    assert boss.post(
        f"/api/v1/images/{s.image_ids[2]}/annotations", json={"rejected": True}
    ).is_success
    api = api_as(manager)
    with recorded(app) as seen:
        resp = api.get(f"/api/v1/projects/{s.pid}/queue/next", params=params)
        assert resp.status_code == 200, resp.text
    engine = app.state.engine
    plans: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for sql, parameters, _ in seen:
            if "images" in sql and sql.startswith(("SELECT", "INSERT")):
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters).all()
                plans[sql] = [str(row[-1]) for row in rows]
    assert plans, "queue/next ran no query on images"
    for sql, plan in plans.items():
        # SEARCH is a lookup or a range of an index; SCAN of a table is a full pass, and
        # so is a SEARCH of images narrowed by nothing but their project.
        scans = [step for step in plan if step.startswith("SCAN") and "anon" not in step]
        scans += [step for step in plan if PROJECT_WIDE.search(step)]
        assert not scans, f"{sql}\n{plan}"
        if sql.startswith("INSERT INTO leases"):  # the claim looks its candidates up by id
            assert "SEARCH images USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
