"""Undo one bulk action of the grid as one step: every image it labeled gets back the
label it had before, by appending an undo row per image (annotations stay append-only).

The action is named by the Idempotency-Key it was sent with: the grid has it, and it is
the caller's own (keys are per user), so nobody can undo another person's action.
All or nothing: if any of its images has been decided again since (by anyone, and not
taken back), nothing is undone and the answer names those images.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.errors import Conflict, NotFound
from app.labeling.decisions import bulk_by_key, lock_images
from app.labeling.models import Annotation, AnnotationSource
from app.labeling.service import reverse, writable
from app.projects.models import Project


def undo_bulk(session: Session, user: User, project: Project, key: str) -> list[Annotation]:
    found = bulk_by_key(session, user.id, key)
    if found is None or found.project_id != project.id:
        raise NotFound("No bulk action of yours with that Idempotency-Key in this project.")
    writable(project)
    targets = list(
        session.scalars(
            select(Annotation).where(Annotation.bulk_request_id == found.id).order_by(Annotation.id)
        )
    )
    image_ids = [t.image_id for t in targets]
    lock_images(session, image_ids)
    later = list(
        session.scalars(
            select(Annotation)
            .where(Annotation.image_id.in_(image_ids), Annotation.id > min(t.id for t in targets))
            .order_by(Annotation.id)
            .execution_options(populate_existing=True)
        )
    )
    undone = {a.undoes_id for a in later if a.undoes_id is not None}
    if all(t.id in undone for t in targets):
        raise Conflict("That bulk action has already been undone.")
    by_target = {t.image_id: t.id for t in targets}
    # A decision after the action's own that still stands would be overwritten.
    changed = sorted(
        {
            a.image_id
            for a in later
            if a.id > by_target[a.image_id]
            and a.source != AnnotationSource.undo
            and a.id not in undone
        }
    )
    if changed:
        shown = ", ".join(str(i) for i in changed[:20])
        raise Conflict(
            f"Images labeled again since that action: {shown}. Change their labels one by "
            "one instead; nothing was undone."
        )
    return [reverse(session, user.id, target) for target in targets]
