"""Each user's labels today, this week, and per hour, in one project.

Days and weeks are UTC (weeks start on Monday). ``per_hour`` is the number of labels
in the last 60 minutes: a current pace, which is what a team lead looks at, rather
than a day's average diluted by breaks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.db import utcnow
from app.labeling.models import Annotation, AnnotationSource
from app.labeling.schemas import Counters, UserCounter
from app.projects.models import Project

COUNTED = (AnnotationSource.manual, AnnotationSource.review)


def counters(session: Session, project: Project, now: datetime | None = None) -> Counters:
    now = now or utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())
    hour_ago = now - timedelta(hours=1)
    since = min(week, hour_ago)

    def count_since(start: datetime) -> ColumnElement[int]:
        return func.sum(case((Annotation.created_at >= start, 1), else_=0))

    rows = session.execute(
        select(
            Annotation.user_id,
            User.username,
            count_since(today),
            count_since(week),
            count_since(hour_ago),
        )
        .join(User, User.id == Annotation.user_id)
        .where(
            Annotation.project_id == project.id,
            Annotation.source.in_(COUNTED),
            Annotation.created_at >= since,
        )
        .group_by(Annotation.user_id, User.username)
        .order_by(User.username)
    ).all()
    return Counters(
        users=[
            UserCounter(
                user_id=uid,
                username=name,
                today=int(t or 0),
                week=int(w or 0),
                per_hour=float(h or 0),
            )
            for uid, name, t, w, h in rows
        ]
    )
