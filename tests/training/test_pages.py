"""The training pages through a logged-in browser client, on runs made by hand in the DB:
the dashboard section, a run's metrics and confusion cells, compare, start and cancel."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape as markupsafe_escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.db import utcnow
from app.training import formats, jobs
from app.training.models import (
    RunMode,
    RunStatus,
    Scoring,
    TrainingRun,
    TrainingSample,
)
from app.training.schemas import RunParams
from tests.conftest import ClientFor, UserFactory, csrf_from
from tests.labeling.helpers import Setup, arrange, join, label


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def web(browser_as: ClientFor, admin: User) -> TestClient:
    return browser_as(admin)


def labeled(
    api: TestClient, per_class: dict[str, int], images: int = 8, name: str = "Glassware"
) -> Setup:
    s = arrange(api, images=images, name=name)
    ids = iter(s.image_ids)
    for name, count in per_class.items():
        for _ in range(count):
            label(api, next(ids), s.categories[name])
    return s


def make_run(
    db: Session,
    pid: int,
    status: RunStatus = RunStatus.succeeded,
    *,
    classes: list[tuple[int, str]] | None = None,
    matrix: list[list[int]] | None = None,
    accuracy: float | None = None,
    macro_f1: float | None = None,
    f1: dict[str, float] | None = None,
    **fields: Any,
) -> TrainingRun:
    """A run as a worker would leave it, with hand-made metrics."""
    metrics = None
    if accuracy is not None:
        names = [n for _, n in classes or []]
        f1 = f1 or dict.fromkeys(names, macro_f1 or 0.0)
        metrics = {
            "accuracy": accuracy,
            "macro_f1": macro_f1,
            "labels": names,
            "confusion_matrix": matrix,
            "per_class": {
                n: {"precision": f1[n], "recall": f1[n], "f1": f1[n], "support": 3} for n in f1
            },
        }
    done = status not in (RunStatus.queued, RunStatus.running)
    run = TrainingRun(
        project_id=pid,
        mode=fields.pop("mode", RunMode.linear),
        backbone=fields.pop("backbone", "efficientnet_lite0"),
        status=status,
        phase=fields.pop("phase", "done" if status is RunStatus.succeeded else status.value),
        progress=fields.pop("progress", 1.0 if done else 0.0),
        classes=[[cid, name] for cid, name in classes] if classes else None,
        metrics=metrics,
        finished_at=utcnow() if done else None,
        heartbeat_at=fields.pop("heartbeat_at", utcnow()),
        **fields,
    )
    db.add(run)
    db.commit()
    return run


def post(web: TestClient, url: str, **data: str) -> Any:
    return web.post(url, data={"csrf_token": csrf_from(web, "/projects"), **data})


def section(web: TestClient, pid: int) -> str:
    resp = web.get(f"/projects/{pid}/training/_section")
    assert resp.status_code == 200, resp.text
    return resp.text


def test_the_dashboard_loads_the_section_whose_list_polls_only_while_a_run_is_active(
    api: TestClient, web: TestClient, db: Session, make_user: UserFactory, browser_as: ClientFor
) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    dashboard = web.get(f"/projects/{s.pid}").text
    assert f'hx-get="/projects/{s.pid}/training/_section"' in dashboard
    assert f'href="/projects/{s.pid}/training"' in dashboard  # without JavaScript: a link
    empty = section(web, s.pid)
    assert "No training runs yet" in empty
    assert "every 1s" not in empty

    form = empty.split('class="train-form"', 1)[1].split("</form>", 1)[0]
    assert 'name="csrf_token"' in form
    assert '<option value="linear" selected>Fast linear probe</option>' in form
    assert '<option value="finetune">Full fine-tuning</option>' in form
    assert '<option value="" selected>Deepest labels' in form
    assert '<option value="1">Level 1: wine, beer</option>' in form
    assert '<option value="2">' not in form  # the taxonomy is one level deep
    # Facts, not names: feature size, input size, measured speed, what it downloads.
    lite0 = re.search(r'<option value="efficientnet_lite0" selected>([^<]*)</option>', form)
    assert lite0 is not None
    assert re.fullmatch(
        r"EfficientNet-Lite0 \(timm, ImageNet\): 1280 features, 224 px, \d+ images/s on CPU, "
        r"offline",
        lite0.group(1),
    )
    assert re.search(
        r"VGG-16 [^<]*: 4096 features, 224 px, \d+ images/s on CPU, downloads 528 MB", form
    )
    advanced = form.split("<summary>Advanced settings</summary>", 1)[1]
    for name in RunParams.model_fields:
        assert f'name="{name}"' in advanced
    assert 'name="folds" type="number" step="1" min="2" max="20"' in advanced

    done = make_run(
        db, s.pid, classes=[(1, "wine"), (2, "beer")], accuracy=0.875, macro_f1=0.8612,
        label_count=4, device="cpu",
    )  # fmt: skip
    running = make_run(
        db, s.pid, RunStatus.running, phase="training", progress=0.423, eta_seconds=80,
        label_count=4,
    )  # fmt: skip
    live = section(web, s.pid)
    assert 'hx-trigger="every 1s"' in live
    rows = live.split("<tbody>", 1)[1].split("</tbody>", 1)[0].split("<tr>")[1:]
    assert len(rows) == 2
    assert f"#{running.id}</a>" in rows[0]  # newest first
    assert "training" in rows[0]
    assert 'value="42"' in rows[0]
    assert "42% · ETA 1 min 20 s" in rows[0]
    assert f"Cancel run #{running.id}" in rows[0]
    assert "0.875" in rows[1]
    assert "0.861" in rows[1]
    assert "cpu" in rows[1]
    assert "Cancel" not in rows[1]
    assert f'Latest model: <a href="/projects/{s.pid}/runs/{done.id}">run #{done.id}</a>' in live

    lena = make_user(Role.labeler, "lena")
    join(api, s.pid, "lena")
    as_labeler = section(browser_as(lena), s.pid)
    assert "train-form" not in as_labeler
    assert "Cancel run" not in as_labeler
    assert f"#{running.id}</a>" in as_labeler

    running.status = RunStatus.succeeded
    db.commit()
    still = web.get(f"/projects/{s.pid}/runs/_list").text
    assert "every 1s" not in still
    assert "Cancel run" not in still


def test_pages_show_a_silent_worker_s_run_failed_once_the_reaper_ends_it(
    api: TestClient, web: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    alive = make_run(db, s.pid, RunStatus.running, heartbeat_at=utcnow())
    orphan = make_run(db, s.pid, RunStatus.running, heartbeat_at=utcnow() - timedelta(hours=1))
    # Page views only read: the orphan stays as it is until a worker's reaper runs.
    assert "every 1s" in web.get(f"/projects/{s.pid}/runs/{orphan.id}").text
    db.refresh(orphan)
    assert orphan.status is RunStatus.running
    assert jobs.reap_stale(db, stale_after=300) == 1  # what each worker's timer does
    db.commit()
    page = web.get(f"/projects/{s.pid}/runs/{orphan.id}").text
    assert "The run failed." in page
    assert "stopped responding" in page
    assert "every 1s" not in page
    listed = web.get(f"/projects/{s.pid}/runs/_list").text
    assert "every 1s" in listed  # the other run still sends heartbeats
    db.refresh(alive)
    assert alive.status is RunStatus.running


def test_the_queue_ranking_names_its_strategy_run_and_age(
    api: TestClient, web: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    run = make_run(db, s.pid, label_count=4)
    db.add(
        Scoring(
            project_id=s.pid, strategy="default", concrete="typiclust", run_id=run.id,
            pool_size=9812, seconds=0.42, created_at=utcnow() - timedelta(minutes=3),
        )
    )  # fmt: skip
    db.commit()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", section(web, s.pid)))
    assert (
        f"Queue ranked by default (typiclust) · run #{run.id}: 9,812 images in "
        "0.4 s, 3 min ago." in text
    )


def test_the_learning_curve_draws_each_succeeded_run_at_its_label_count(
    api: TestClient, web: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    assert "Learning curve" not in section(web, s.pid)
    plan = [(100, 0.9, 0.88), (10, 0.6, 0.5), (40, 0.8, 0.75)]
    runs = {n: make_run(db, s.pid, accuracy=a, macro_f1=f, label_count=n) for n, a, f in plan}
    make_run(db, s.pid, RunStatus.failed, label_count=70)
    make_run(db, s.pid, RunStatus.running, label_count=80)
    html = section(web, s.pid)
    svg = html.split('<svg class="curve-chart"', 1)[1].split("</svg>", 1)[0]
    assert 'role="img"' in svg
    assert ">Labeled images</text>" in svg
    assert ">Score (0 to 1)</text>" in svg
    circles = [
        (int(lab), float(cx), float(cy), float(v), int(rid))
        for cx, cy, rid, lab, v in re.findall(
            r'<circle class="point-accuracy" cx="([\d.]+)" cy="([\d.]+)" r="[\d.]+" '
            r'data-run="(\d+)" data-labels="(\d+)" data-value="([\d.]+)"',
            svg,
        )
    ]
    assert [(n, rid) for n, _, _, _, rid in circles] == [
        (10, runs[10].id),
        (40, runs[40].id),
        (100, runs[100].id),
    ]
    assert [v for *_, v, _ in circles] == [0.6, 0.8, 0.9]
    (_, x10, y60, _, _), (_, x40, y80, _, _), (_, x100, y90, _, _) = circles
    # Distances on the chart are proportional to the differences in labels and accuracy.
    assert (x40 - x10) / (x100 - x40) == pytest.approx(30 / 60, abs=0.01)
    assert y60 > y80 > y90  # higher accuracy is higher up
    assert (y60 - y80) / (y80 - y90) == pytest.approx(2.0, abs=0.02)
    assert len(re.findall(r'<rect class="point-macro-f1"', svg)) == 3
    table = html.split("The learning curve as a table", 1)[1]
    assert re.search(rf"#{runs[40].id}</a></th><td>40</td><td>0.800</td><td>0.750</td>", table)


def test_a_run_page_shows_parameters_report_scores_matrix_and_downloads(
    api: TestClient, web: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 3, "beer": 3})
    wine, beer = s.categories["wine"], s.categories["beer"]
    run = make_run(
        db, s.pid, classes=[(wine, "wine"), (beer, "beer")], matrix=[[2, 1], [0, 3]],
        accuracy=0.8333, macro_f1=0.8286, f1={"wine": 0.8, "beer": 0.857}, label_count=6,
        device="cpu", params={"C": 0.5, "folds": 3},
        report={"evaluation": "3-fold cross-validation", "above_level": 2,
                "small_classes": {"cup": 1}, "min_per_class": 2, "per_class": {}},
    )  # fmt: skip
    html = web.get(f"/projects/{s.pid}/runs/{run.id}").text
    assert "every 1s" not in html
    assert f"<h1>Run #{run.id}: fast linear probe, deepest labels</h1>" in html
    assert "<dt>C (regularisation)</dt><dd>0.5</dd>" in html
    assert "<dt>Device</dt><dd>cpu</dd>" in html
    assert "Evaluated by 3-fold cross-validation." in html
    assert "2 label(s) above deepest labels were left out" in html
    assert "fewer than 2 labeled images were left out: cup (1)." in html
    assert "<dt>Accuracy</dt><dd>0.833</dd>" in html
    assert "<dt>Macro-F1</dt><dd>0.829</dd>" in html
    assert re.search(r"<th scope=\"row\">beer</th><td>0.857</td><td>0.857</td><td>0.857</td>", html)
    assert f'href="/api/v1/training-runs/{run.id}/model?format=onnx"' in html
    assert f'href="/api/v1/training-runs/{run.id}/model?format=torchscript"' in html
    matrix = html.split('<table class="confusion">', 1)[1].split("</table>", 1)[0]
    headers = re.findall(r'<th scope="col" class="col-name" title="[^"]*">([^<]*)</th>', matrix)
    assert headers == ["wine", "beer"]
    links = re.findall(r"cell\?true_id=(\d+)&amp;predicted_id=(\d+)\"[^>]*>(\d+)</a>", matrix)
    assert sorted(links) == sorted(
        [(str(wine), str(wine), "2"), (str(wine), str(beer), "1"), (str(beer), str(beer), "3")]
    )
    assert '<span class="zero">0</span>' in matrix  # beer predicted as wine: no link
    assert "shade-10 correct" in matrix  # all of beer is right
    assert "shade-4 wrong" in matrix  # a third of wine went to beer


def test_a_confusion_cell_lists_its_images_as_a_page_and_as_a_panel(
    api: TestClient, web: TestClient, db: Session, api_as: ClientFor, make_user: UserFactory
) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    wine, beer = s.categories["wine"], s.categories["beer"]
    run = make_run(db, s.pid, classes=[(wine, "wine"), (beer, "beer")], matrix=[[1, 1], [0, 2]],
                   accuracy=0.75, macro_f1=0.73)  # fmt: skip
    verdicts = [(wine, beer), (wine, wine), (beer, beer), (beer, beer)]
    for image_id, (true_id, predicted_id) in zip(s.image_ids, verdicts, strict=False):
        db.add(TrainingSample(run_id=run.id, image_id=image_id, annotation_id=1,
                              true_id=true_id, predicted_id=predicted_id))  # fmt: skip
    db.commit()
    query = {"true_id": wine, "predicted_id": beer}
    page = web.get(f"/projects/{s.pid}/runs/{run.id}/cell", params=query)
    assert page.status_code == 200
    assert "labeled wine, predicted beer" in page.text
    assert re.findall(r'<a class="thumb" href="/images/(\d+)">', page.text) == [str(s.image_ids[0])]
    assert f'src="/api/v1/images/{s.image_ids[0]}/thumbnail" alt="img0.jpg"' in page.text
    panel = web.get(f"/projects/{s.pid}/runs/{run.id}/_cell", params=query).text
    assert "<html" not in panel
    assert re.findall(r'href="/images/(\d+)"', panel) == [str(s.image_ids[0])]
    both = {"true_id": beer, "predicted_id": beer}
    beers = web.get(f"/projects/{s.pid}/runs/{run.id}/_cell", params=both).text
    assert re.findall(r'href="/images/(\d+)"', beers) == [str(i) for i in s.image_ids[2:4]]
    assert (
        "No images here"
        in web.get(
            f"/projects/{s.pid}/runs/{run.id}/_cell", params={"true_id": beer, "predicted_id": wine}
        ).text
    )
    stranger = {"true_id": 999, "predicted_id": wine}
    assert web.get(f"/projects/{s.pid}/runs/{run.id}/cell", params=stranger).status_code == 404
    other = labeled(api, {"wine": 2, "beer": 2}, images=4, name="Other")
    assert web.get(f"/projects/{other.pid}/runs/{run.id}/cell", params=query).status_code == 404


def test_live_failed_and_fine_tuned_runs(api: TestClient, web: TestClient, db: Session) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    live = make_run(db, s.pid, RunStatus.running, phase="embedding", progress=0.3, eta_seconds=5)
    body = web.get(f"/projects/{s.pid}/runs/{live.id}/_body").text
    assert f'hx-get="/projects/{s.pid}/runs/{live.id}/_body" hx-trigger="every 1s"' in body
    assert "30% · ETA 5 s" in body
    assert "<html" not in body

    failed = make_run(db, s.pid, RunStatus.failed, error="RuntimeError: <weights> not found")
    html = web.get(f"/projects/{s.pid}/runs/{failed.id}").text
    assert "every 1s" not in html
    assert "RuntimeError: &lt;weights&gt; not found" in html
    assert "format=onnx" not in html

    history = [
        {"epoch": 1, "train_loss": 1.2, "val_loss": 0.9, "val_accuracy": 0.6},
        {"epoch": 2, "train_loss": 0.7, "val_loss": 0.5, "val_accuracy": 0.85},
        {"epoch": 3, "train_loss": 0.4, "val_loss": 0.6, "val_accuracy": 0.8},
    ]
    tuned = make_run(db, s.pid, mode=RunMode.finetune, classes=[(1, "wine"), (2, "beer")],
                     matrix=[[1, 0], [0, 1]], accuracy=0.85, macro_f1=0.84)  # fmt: skip
    tuned.metrics = {**(tuned.metrics or {}), "history": history, "best_epoch": 2}
    db.commit()
    html = web.get(f"/projects/{s.pid}/runs/{tuned.id}").text
    assert "full fine-tuning" in html
    assert "<dt>Best epoch</dt><dd>2</dd>" in html
    epochs = html.split('id="history-heading"', 1)[1].split("</table>", 1)[0]
    assert re.search(
        r'<tr class="best"><th scope="row">2 <span class="badge">best, kept</span></th>'
        r"<td>0.700</td><td>0.500</td><td>0.850</td>",
        epochs,
    )
    assert epochs.count('class="best"') == 1


def test_two_runs_are_compared_side_by_side(api: TestClient, web: TestClient, db: Session) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    classes = [(1, "wine"), (2, "beer")]
    a = make_run(db, s.pid, classes=classes, accuracy=0.7, macro_f1=0.65, label_count=20,
                 f1={"wine": 0.6, "beer": 0.7}, params={"C": 1.0})  # fmt: skip
    b = make_run(db, s.pid, classes=[*classes, (3, "cup")], accuracy=0.8, macro_f1=0.72,
                 label_count=50, f1={"wine": 0.75, "beer": 0.65, "cup": 0.9},
                 params={"C": 0.5})  # fmt: skip
    ticked = web.get(f"/projects/{s.pid}/runs/compare", params=[("run", b.id), ("run", a.id)])
    assert ticked.status_code == 303
    url = f"/projects/{s.pid}/runs/compare?a={a.id}&b={b.id}"
    assert ticked.headers["location"] == url
    html = web.get(url).text
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "Labeled images 20 50 +30" in text
    assert "Accuracy 0.700 0.800 +0.100" in text
    assert "Macro-F1 0.650 0.720 +0.070" in text
    assert "wine 0.600 0.750 +0.150" in text
    assert "beer 0.700 0.650 -0.050" in text
    assert "cup — 0.900 —" in text
    assert "C (regularisation) 1.0 0.5 differs" in text
    one = web.get(f"/projects/{s.pid}/runs/compare", params={"run": a.id})
    assert one.status_code == 400
    assert "Tick exactly two runs to compare; you ticked 1." in one.text
    assert web.get(f"/projects/{s.pid}/runs/compare", params={"a": a.id}).status_code == 400
    other = labeled(api, {"wine": 2, "beer": 2}, images=4, name="Other")
    elsewhere = make_run(db, other.pid)
    stray = web.get(f"/projects/{s.pid}/runs/compare", params={"a": a.id, "b": elsewhere.id})
    assert stray.status_code == 404
    listed = section(web, s.pid)
    assert '<form id="compare-runs" method="get"' in listed
    assert f'id="compare-{a.id}" name="run" value="{a.id}" form="compare-runs"' in listed


def test_a_run_is_started_from_the_form_and_returns_where_it_came_from(
    api: TestClient, web: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 3, "beer": 2})
    resp = post(web, f"/projects/{s.pid}/runs", mode="linear", level="", backbone="",
                C="0.5", folds="", next=f"/projects/{s.pid}")  # fmt: skip
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == f"/projects/{s.pid}"
    run = db.scalars(select(TrainingRun).where(TrainingRun.project_id == s.pid)).one()
    assert (run.status, run.mode, run.level, run.label_count) == (
        RunStatus.queued,
        RunMode.linear,
        None,
        5,
    )
    assert run.params == {"C": 0.5}
    assert run.backbone == "efficientnet_lite0"
    shown = web.get(f"/projects/{s.pid}").text
    assert f"Queued run #{run.id}: fast linear probe at deepest labels, on 5 labeled images." in (
        shown
    )
    fine = post(web, f"/projects/{s.pid}/runs", mode="finetune", level="1", epochs="3",
                next=f"/projects/{s.pid}/training")  # fmt: skip
    assert fine.headers["location"] == f"/projects/{s.pid}/training"
    away = post(web, f"/projects/{s.pid}/runs", mode="linear", next="https://evil.example/")
    assert away.headers["location"] == f"/projects/{s.pid}"
    runs = db.scalars(select(TrainingRun).order_by(TrainingRun.id)).all()
    assert [(r.mode, r.level, r.params) for r in runs[1:]] == [
        (RunMode.finetune, 1, {"epochs": 3}),
        (RunMode.linear, None, {}),
    ]


def test_a_refused_run_says_why_and_keeps_the_form(
    api: TestClient, web: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 3, "beer": 1})
    few = post(web, f"/projects/{s.pid}/runs", mode="linear", C="0.25")
    assert few.status_code == 422
    assert "Training needs at least 2 classes with 2 or more labeled images each" in few.text
    assert "beer: 1" in few.text
    assert 'role="alert"' in few.text
    assert 'name="C" type="number" step="any" min="0" max="10000" inputmode="decimal" ' in few.text
    assert 'value="0.25"' in few.text
    bad = post(web, f"/projects/{s.pid}/runs", mode="linear", C="-1", folds="1")
    assert bad.status_code == 400
    assert "C: Input should be greater than 0" in bad.text
    assert "Folds: Input should be greater than or equal to 2" in bad.text
    assert '<details class="advanced" open>' in bad.text
    deep = post(web, f"/projects/{s.pid}/runs", mode="linear", level="4")
    assert deep.status_code == 422
    assert "deeper than the taxonomy" in deep.text
    weird = post(web, f"/projects/{s.pid}/runs", mode="deep", backbone="../../etc")
    assert weird.status_code == 400
    assert db.scalars(select(TrainingRun)).all() == []


def test_a_run_is_cancelled_from_the_list(api: TestClient, web: TestClient, db: Session) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    queued = make_run(db, s.pid, RunStatus.queued)
    running = make_run(db, s.pid, RunStatus.running, phase="training", progress=0.5)
    resp = post(web, f"/projects/{s.pid}/runs/{queued.id}/cancel", next=f"/projects/{s.pid}")
    assert resp.headers["location"] == f"/projects/{s.pid}"
    db.refresh(queued)
    assert queued.status is RunStatus.cancelled
    assert f"Cancelled run #{queued.id}." in web.get(f"/projects/{s.pid}").text
    resp = post(web, f"/projects/{s.pid}/runs/{running.id}/cancel")
    assert resp.headers["location"] == f"/projects/{s.pid}/runs/{running.id}"
    db.refresh(running)
    assert running.cancel_requested
    assert running.status is RunStatus.running  # the worker stops it at its next report
    shown = web.get(resp.headers["location"]).text
    assert f"Run #{running.id} stops at its next checkpoint." in shown
    again = post(web, f"/projects/{s.pid}/runs/{queued.id}/cancel")
    assert again.status_code == 303
    assert "already cancelled" in web.get(again.headers["location"]).text


def test_labelers_watch_but_cannot_start_or_cancel_and_outsiders_see_nothing(
    api: TestClient, browser_as: ClientFor, make_user: UserFactory, db: Session
) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    run = make_run(db, s.pid, RunStatus.queued)
    lena, otto = make_user(Role.labeler, "lena"), make_user(Role.labeler, "otto")
    join(api, s.pid, "lena")
    labeler, outsider = browser_as(lena), browser_as(otto)
    assert labeler.get(f"/projects/{s.pid}/runs/{run.id}").status_code == 200
    assert post(labeler, f"/projects/{s.pid}/runs", mode="linear").status_code == 403
    assert post(labeler, f"/projects/{s.pid}/runs/{run.id}/cancel").status_code == 403
    for url in (
        f"/projects/{s.pid}/training",
        f"/projects/{s.pid}/training/_section",
        f"/projects/{s.pid}/runs/_list",
        f"/projects/{s.pid}/runs/{run.id}",
        f"/projects/{s.pid}/runs/{run.id}/_body",
        f"/projects/{s.pid}/runs/compare?a={run.id}&b={run.id}",
        f"/projects/{s.pid}/runs/{run.id}/cell?true_id=1&predicted_id=1",
    ):
        assert outsider.get(url).status_code == 404, url
    assert post(outsider, f"/projects/{s.pid}/runs", mode="linear").status_code == 404
    assert post(outsider, f"/projects/{s.pid}/runs/{run.id}/cancel").status_code == 404
    db.refresh(run)
    assert run.status is RunStatus.queued
    assert len(db.scalars(select(TrainingRun)).all()) == 1


def test_markup_in_category_names_is_text(api: TestClient, web: TestClient, db: Session) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    hostile = '<img src=x onerror="alert(1)">'
    run = make_run(db, s.pid, classes=[(1, hostile), (2, "beer")], matrix=[[1, 1], [0, 2]],
                   accuracy=0.75, macro_f1=0.7, report={"small_classes": {hostile: 1}})  # fmt: skip
    html = web.get(f"/projects/{s.pid}/runs/{run.id}").text
    assert hostile not in html
    shown = str(markupsafe_escape(hostile))  # &lt;img src=x onerror=&#34;alert(1)&#34;&gt;
    assert f'<th scope="col" class="col-name" title="{shown}">{shown}</th>' in html
    assert f'<th scope="row">{shown}</th>' in html
    cell = web.get(
        f"/projects/{s.pid}/runs/{run.id}/cell", params={"true_id": 1, "predicted_id": 2}
    ).text
    assert hostile not in cell


def test_the_training_page_works_without_javascript(
    api: TestClient, web: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    make_run(db, s.pid, RunStatus.running)
    html = web.get(f"/projects/{s.pid}/training").text
    assert "<h1>Training in Glassware</h1>" in html
    assert f'action="/projects/{s.pid}/runs"' in html
    assert f'name="next" value="/projects/{s.pid}/training"' in html
    # The polled list keeps the page it sits on, so its forms come back here.
    assert f"runs/_list?here=/projects/{s.pid}/training" in html


# The advanced settings as a user sees them, written out by hand rather than read from
# the schema: a setting dropped from the API, the form or the run page makes them differ.
ADVANCED_SETTINGS = [
    # name, label, step, min, max, a value to fill in
    ("C", "C (regularisation)", "any", "0", "10000", "0.5"),
    ("folds", "Folds", "1", "2", "20", "3"),
    ("epochs", "Epochs", "1", "1", "200", "4"),
    ("batch_size", "Batch size", "1", "1", "512", "16"),
    ("lr", "Learning rate", "any", "0", "1", "0.002"),
    ("backbone_lr", "Backbone learning rate", "any", "0", "1", "0.0002"),
    ("patience", "Patience", "1", "1", "50", "2"),
    ("val_fraction", "Validation share", "any", "0", "1", "0.25"),
]


def test_every_advanced_setting_is_in_the_form_reaches_the_run_and_shows_on_its_page(
    api: TestClient, web: TestClient, db: Session
) -> None:
    s = labeled(api, {"wine": 2, "beer": 2})
    advanced = section(web, s.pid).split("<summary>Advanced settings</summary>", 1)[1]
    shown = re.findall(
        r'<label for="param-(\w+)">([^<]+)</label>\s*<input id="param-\1" name="\1" '
        r'type="number" step="([^"]+)" min="([^"]*)" max="([^"]*)"',
        advanced.split("</details>", 1)[0],
    )
    assert shown == [setting[:5] for setting in ADVANCED_SETTINGS]

    filled = {name: value for name, *_, value in ADVANCED_SETTINGS}
    resp = post(web, f"/projects/{s.pid}/runs", mode="linear", **filled)
    assert resp.status_code == 303, resp.text
    run = db.scalars(select(TrainingRun).where(TrainingRun.project_id == s.pid)).one()
    assert {name: str(value) for name, value in run.params.items()} == filled
    page = web.get(f"/projects/{s.pid}/runs/{run.id}").text
    for _, shown_as, *_, value in ADVANCED_SETTINGS:
        assert f"<dt>{shown_as}</dt><dd>{value}</dd>" in page, shown_as


def test_durations_and_ages_read_naturally() -> None:
    assert [formats.duration(s) for s in (0, 45, 60, 200, 3600, 7500)] == [
        "0 s",
        "45 s",
        "1 min",
        "3 min 20 s",
        "1 h",
        "2 h 5 min",
    ]
    now = utcnow()
    assert formats.ago(now, now) == "just now"
    assert formats.ago(now - timedelta(seconds=30), now) == "30 s ago"
    assert formats.ago(now - timedelta(hours=5), now) == "5 h ago"
    assert formats.ago(now - timedelta(days=1), now) == "1 day ago"
