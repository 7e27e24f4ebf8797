"""How many images the newest scored run flags, per insight queue.

The insight helpers' own ``count_flagged`` functions answer this too; until both exist
in every checkout, the overview asks here (same rule: the newest run with rows)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.insights.models import LabelIssue, OutlierScore


def _flagged(
    session: Session, table: type[LabelIssue] | type[OutlierScore], project_id: int
) -> int:
    newest = select(func.max(table.run_id)).where(table.project_id == project_id).scalar_subquery()
    count = session.scalar(
        select(func.count())
        .select_from(table)
        .where(table.run_id == newest, table.project_id == project_id, table.flagged.is_(True))
    )
    return int(count or 0)


def label_issues(session: Session, project_id: int) -> int:
    return _flagged(session, LabelIssue, project_id)


def odd_pictures(session: Session, project_id: int) -> int:
    return _flagged(session, OutlierScore, project_id)
