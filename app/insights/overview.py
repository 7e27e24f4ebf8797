"""The figures behind the project overview: progress, class balance, labels per day,
the learning curve, the quality queues' counts and the newest model.

Each figure is one aggregate query over an index, so the overview stays fast at
100,000 images (bench/overview.py)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, cast, func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.db import utcnow
from app.images.duplicates import count_groups
from app.images.models import Image, ImageStatus
from app.insights import label_issues, outliers
from app.insights.overview_schemas import (
    AnnotatorDays,
    ClassBalance,
    ModelSummary,
    PerDay,
    Progress,
    ProjectStats,
    Quality,
    Ranking,
    RunPoint,
)
from app.labeling.counters import COUNTED
from app.labeling.models import Annotation
from app.labeling.overlap import open_disputes
from app.projects.models import Project
from app.taxonomy.service import load_tree
from app.training import curve
from app.training.formats import ranking_text
from app.training.metrics import RunMetrics, read
from app.training.models import Scoring, TrainingRun
from app.training.service import latest_models, measured_runs

DAYS = 14  # labels per day: the last two weeks
PACE_WINDOW = timedelta(hours=24)
FEW_LABELS = 10  # under this many labels a class "needs labels"
LOW_F1 = 0.7  # ... and under this F1


def progress(session: Session, project: Project, now: datetime) -> Progress:
    counts = dict(
        session.execute(
            select(Image.status, func.count())
            .where(Image.project_id == project.id)
            .group_by(Image.status)
        ).all()
    )
    labeled = int(counts.get(ImageStatus.labeled, 0))
    rejected = int(counts.get(ImageStatus.rejected, 0))
    unlabeled = int(counts.get(ImageStatus.unlabeled, 0))
    # First decisions only: a second opinion or a review does not shrink the pool.
    done, first = session.execute(
        select(func.count(), func.min(Annotation.created_at)).where(
            Annotation.project_id == project.id,
            Annotation.source.in_(COUNTED),
            Annotation.second_opinion.is_(False),
            Annotation.created_at >= now - PACE_WINDOW,
        )
    ).one()
    per_hour = hours_left = None
    if done:
        first_at = first if isinstance(first, datetime) else now
        if first_at.tzinfo is None:  # SQLite's aggregate skips the column type
            first_at = datetime.fromisoformat(str(first)).replace(tzinfo=now.tzinfo)
        hours = max(1.0, (now - first_at).total_seconds() / 3600)
        per_hour = round(done / hours, 1)
        hours_left = round(unlabeled / per_hour, 1)
    return Progress(
        total=labeled + rejected + unlabeled,
        labeled=labeled,
        unlabeled=unlabeled,
        rejected=rejected,
        per_hour=per_hour,
        hours_left=hours_left,
    )


def _class_f1(run: TrainingRun | None) -> dict[int, float]:
    """The run's F1 per category id (its classes name the ids; its metrics the names)."""
    if run is None or not run.classes:
        return {}
    per_class = run.run_metrics.per_class
    out = {}
    for entry in run.classes:
        if not isinstance(entry, list | tuple) or len(entry) != 2:
            continue
        cid, name = entry
        scores = per_class.get(str(name))
        if isinstance(cid, int) and scores is not None and scores.f1 is not None:
            out[cid] = scores.f1
    return out


def classes(session: Session, project: Project, newest: TrainingRun | None) -> list[ClassBalance]:
    tree = load_tree(session, project)
    own = dict(
        session.execute(
            select(Image.category_id, func.count())
            .where(Image.project_id == project.id, Image.category_id.is_not(None))
            .group_by(Image.category_id)
        ).all()
    )
    nodes = tree.depth_first()
    total: dict[int, int] = {}
    for node in reversed(nodes):  # children before parents
        cid = node.category.id
        total[cid] = int(own.get(cid, 0)) + sum(total[c.id] for c in tree.children.get(cid, []))
    f1 = _class_f1(newest)
    out = []
    for node in nodes:
        c = node.category
        score = f1.get(c.id)
        out.append(
            ClassBalance(
                category_id=c.id,
                name=c.name,
                path=node.path,
                parent_id=c.parent_id,
                depth=node.depth,
                own=int(own.get(c.id, 0)),
                total=total[c.id],
                f1=score,
                needs_labels=total[c.id] < FEW_LABELS or (score is not None and score < LOW_F1),
            )
        )
    return out


def _day(session: Session) -> ColumnElement[Any]:
    """The UTC calendar day of an annotation, in the database's own dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", Annotation.created_at), Date)
    return func.date(Annotation.created_at)


def per_day(session: Session, project: Project, now: datetime) -> PerDay:
    today = now.date()
    days = [today - timedelta(days=k) for k in range(DAYS - 1, -1, -1)]
    start = datetime.combine(days[0], datetime.min.time(), tzinfo=now.tzinfo)
    day = _day(session)
    rows = session.execute(
        select(Annotation.user_id, User.username, day, func.count())
        .join(User, User.id == Annotation.user_id)
        .where(
            Annotation.project_id == project.id,
            Annotation.source.in_(COUNTED),
            Annotation.created_at >= start,
        )
        .group_by(Annotation.user_id, User.username, day)
    ).all()
    index = {d.isoformat(): k for k, d in enumerate(days)}
    by_user: dict[int, AnnotatorDays] = {}
    for user_id, username, when, count in rows:
        key = when.isoformat() if isinstance(when, date) else str(when)[:10]
        if key not in index:
            continue
        entry = by_user.setdefault(
            user_id, AnnotatorDays(user_id=user_id, username=username, counts=[0] * DAYS)
        )
        entry.counts[index[key]] += int(count)
    annotators = sorted(by_user.values(), key=lambda a: (-sum(a.counts), a.username))
    return PerDay(days=list(index), annotators=annotators)


def scores(run: TrainingRun) -> RunMetrics:
    """A run's accuracy and macro-F1 only: reading its per-class figures and confusion
    matrix too (``run_metrics``) costs a millisecond a run, for figures the curve skips."""
    stored = run.metrics if isinstance(run.metrics, dict) else {}
    return read({key: stored.get(key) for key in ("accuracy", "macro_f1")})


def curve_runs(session: Session, project: Project) -> list[TrainingRun]:
    """The learning curve's runs (fewest labels first)."""
    return measured_runs(session, project.id, curve.CURVE_RUNS)


def runs(measured: list[TrainingRun]) -> list[RunPoint]:
    out = []
    for run in measured:
        m = scores(run)
        if m.accuracy is not None and m.macro_f1 is not None:
            out.append(
                RunPoint(
                    run_id=run.id,
                    labels=run.label_count or 0,
                    accuracy=m.accuracy,
                    macro_f1=m.macro_f1,
                )
            )
    return out


def _difference(before: float | None, now: float | None) -> float | None:
    return None if before is None or now is None else round(now - before, 6)


def model(newest_two: list[TrainingRun]) -> ModelSummary | None:
    if not newest_two:
        return None
    run, prev = newest_two[0], (newest_two[1] if len(newest_two) > 1 else None)
    now = run.run_metrics
    before = prev.run_metrics if prev is not None else None
    return ModelSummary(
        run_id=run.id,
        label_count=run.label_count,
        accuracy=now.accuracy,
        macro_f1=now.macro_f1,
        previous_run_id=prev.id if prev is not None else None,
        accuracy_change=_difference(before.accuracy, now.accuracy) if before else None,
        macro_f1_change=_difference(before.macro_f1, now.macro_f1) if before else None,
    )


def queue(session: Session, project: Project) -> Ranking:
    scoring = session.get(Scoring, (project.id, project.default_strategy))
    concrete = scoring.concrete if scoring else None
    run_id = scoring.run_id if scoring else None
    return Ranking(
        strategy=project.default_strategy,
        concrete=concrete,
        run_id=run_id,
        text=ranking_text(project.default_strategy, concrete, run_id),
    )


def quality(session: Session, project: Project) -> Quality:
    return Quality(
        label_issues=label_issues.count_flagged(session, project.id),
        odd_pictures=outliers.count_flagged(session, project.id),
        disagreements=open_disputes(session, project.id),
        duplicate_groups=count_groups(session, project.id),
    )


def stats(
    session: Session,
    project: Project,
    now: datetime | None = None,
    measured: list[TrainingRun] | None = None,
) -> ProjectStats:
    """Every figure; ``measured`` is the curve's runs when the caller has read them."""
    now = now or utcnow()
    newest_two = latest_models(session, project.id, 2)
    return ProjectStats(
        progress=progress(session, project, now),
        classes=classes(session, project, newest_two[0] if newest_two else None),
        per_day=per_day(session, project, now),
        runs=runs(curve_runs(session, project) if measured is None else measured),
        quality=quality(session, project),
        model=model(newest_two),
        queue=queue(session, project),
    )
