"""The labeling screen in the insights' review queues: offered to the project's managers
only, with the verdict panel and the queue's keys; and every query of those queues is
served by an index."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from app.auth.models import Role
from tests.conftest import ClientFor, UserFactory
from tests.insights.review_rows import crew, empty_run, write_issues, write_outliers
from tests.labeling.helpers import arrange, join, label
from tests.labeling.test_label_pages import settings_of
from tests.labeling.test_queue_plan import PROJECT_WIDE, recorded

QUEUES = ("label_issues", "odd_pictures")


def test_managers_are_offered_both_queues_and_labelers_neither(
    browser_as: ClientFor, api_as: ClientFor, make_user: UserFactory
) -> None:
    boss = make_user(Role.manager)
    s = arrange(api_as(boss), images=1)
    worker = make_user(Role.labeler)
    join(api_as(boss), s.pid, worker.username, "labeler")
    manager_page, labeler_page = browser_as(boss), browser_as(worker)
    base = f"/projects/{s.pid}/label"
    for mode in QUEUES:
        assert f'<option value="{mode}">' in manager_page.get(base).text
        assert f'value="{mode}"' not in labeler_page.get(base).text
        assert labeler_page.get(f"{base}?mode={mode}").status_code == 400
    issues = manager_page.get(f"{base}?mode=label_issues")
    assert issues.status_code == 200
    assert settings_of(issues.text)["mode"] == "label_issues"
    assert '<h2 id="review-heading">Label issue</h2>' in issues.text
    assert "Given label:" in issues.text
    assert "Suggested:" in issues.text
    assert "keep the given label" in issues.text  # the keys help
    odd = manager_page.get(f"{base}?mode=odd_pictures")
    assert '<h2 id="review-heading">Odd picture</h2>' in odd.text
    assert settings_of(odd.text)["out_of_scope"] == "out of scope"
    assert "<kbd>Delete</kbd>" in odd.text
    # The other queues carry no verdict panel.
    assert "review-heading" not in manager_page.get(f"{base}?mode=review").text


@pytest.mark.parametrize("mode", QUEUES)
def test_every_review_queue_query_uses_an_index(
    app: FastAPI, api_as: ClientFor, make_user: UserFactory, db: Session, mode: str
) -> None:
    c = crew(api_as, make_user, images=4)
    for image in c.s.image_ids[:3]:
        label(c.boss, image, c.wine)
    run = empty_run(db, c.s.pid, [(c.wine, "wine"), (c.beer, "beer")])
    write_issues(db, c.s.pid, run, [(i, c.wine, c.beer, 0.5, True) for i in c.s.image_ids[:3]])
    write_outliers(db, c.s.pid, run, [(i, 0.5) for i in c.s.image_ids])
    with recorded(app) as seen:
        resp = c.boss.get(f"/api/v1/projects/{c.s.pid}/queue/next", params={"mode": mode})
        assert resp.status_code == 200, resp.text
    plans: dict[str, list[str]] = {}
    with app.state.engine.connect() as conn:
        for sql, parameters, _ in seen:
            if sql.startswith(("SELECT", "INSERT")) and ("images" in sql or "training_runs" in sql):
                rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters).all()
                plans[sql] = [str(row[-1]) for row in rows]
    assert any("label_issues" in sql or "outlier_scores" in sql for sql in plans), plans
    for sql, plan in plans.items():
        # A SELECT of subqueries alone reads its one "constant row": not a table.
        scans = [
            step
            for step in plan
            if step.startswith("SCAN") and "anon" not in step and step != "SCAN CONSTANT ROW"
        ]
        scans += [step for step in plan if PROJECT_WIDE.search(step)]
        assert not scans, f"{sql}\n{plan}"
