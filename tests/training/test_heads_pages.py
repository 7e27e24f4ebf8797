"""The head on the pages: the Train form's select and its explanations, the run page's
parameters, and the comparison of two runs."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.training.models import RunMode, RunStatus, TrainingRun
from tests.training.test_pages import api, labeled, make_run, post, section, web

__all__ = ["api", "web"]  # fixtures, used by name


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_the_form_offers_each_head_with_a_line_on_what_it_is(
    api: TestClient, web: TestClient
) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    html = section(web, s.pid)
    select_html = html[html.index('<select id="train-head"') :]
    select_html = select_html[: select_html.index("</select>")]
    assert re.findall(r'<option value="(\w+)"', select_html) == ["logreg", "svm", "mlp"]
    assert '<option value="logreg" selected>' in select_html
    assert '<label for="train-head">Head</label>' in html
    assert 'aria-describedby="train-head-help"' in select_html
    help_text = text_of(html[html.index('id="train-head-help"') :].split("</div>")[0])
    for name in ("Logistic regression:", "Linear SVM (calibrated):", "Small MLP:"):
        assert name in help_text


def test_a_run_started_from_the_form_keeps_its_head_and_fine_tuning_refuses_svm(
    api: TestClient, web: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 3, "beer": 2})
    started = post(web, f"/projects/{s.pid}/runs", mode="linear", head="mlp",
                   next=f"/projects/{s.pid}")  # fmt: skip
    assert started.status_code == 303, started.text
    run = db.scalars(select(TrainingRun).where(TrainingRun.project_id == s.pid)).one()
    assert (run.mode, run.head) == (RunMode.linear, "mlp")
    db.delete(run)
    db.commit()
    refused = post(web, f"/projects/{s.pid}/runs", mode="finetune", head="svm")
    assert refused.status_code == 400
    assert "the svm head is for the linear mode only" in refused.text
    assert '<option value="svm" selected>' in refused.text  # the form is kept as typed
    hostile = post(web, f"/projects/{s.pid}/runs", mode="linear", head="<b>svm</b>")
    assert hostile.status_code == 400
    assert "<b>svm</b>" not in hostile.text
    oversized = post(web, f"/projects/{s.pid}/runs", mode="linear", head="s" * 5000)
    assert oversized.status_code == 400
    db.expire_all()
    assert db.scalars(select(TrainingRun).where(TrainingRun.project_id == s.pid)).all() == []


def test_the_run_page_and_the_comparison_name_each_runs_head(
    api: TestClient, web: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    classes = [(1, "wine"), (2, "beer")]
    svm = make_run(db, s.pid, classes=classes, accuracy=0.7, macro_f1=0.65, head="svm")
    mlp = make_run(db, s.pid, classes=classes, accuracy=0.8, macro_f1=0.7, head="mlp")
    fine = make_run(db, s.pid, RunStatus.succeeded, classes=classes, accuracy=0.8,
                    macro_f1=0.7, mode=RunMode.finetune)  # fmt: skip
    page = text_of(web.get(f"/projects/{s.pid}/runs/{svm.id}").text)
    assert "Head linear SVM (calibrated)" in page
    page = text_of(web.get(f"/projects/{s.pid}/runs/{fine.id}").text)
    assert "Head the network's own linear layer" in page
    both = web.get(f"/projects/{s.pid}/runs/compare?a={svm.id}&b={mlp.id}")
    assert both.status_code == 200
    assert "Head linear SVM (calibrated) small MLP (one hidden layer) differs" in text_of(both.text)
    same = web.get(f"/projects/{s.pid}/runs/compare?a={svm.id}&b={svm.id}").text
    assert "Head linear SVM (calibrated) linear SVM (calibrated) same" in text_of(same)


def test_the_web_and_the_worker_know_the_same_heads() -> None:
    from typing import get_args

    from app.training.formats import HEAD_LABELS
    from app.training.schemas import HeadName
    from app.training.section import HEAD_CHOICES
    from workers.ml.heads import HEADS

    assert get_args(HeadName) == HEADS
    assert tuple(c.value for c in HEAD_CHOICES) == HEADS
    assert tuple(HEAD_LABELS) == HEADS
