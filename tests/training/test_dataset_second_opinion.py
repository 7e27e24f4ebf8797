"""A training set records, per image, the annotation that set its label: not a later
second opinion, which left that label as it was."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.auth.models import User
from app.projects.models import Project
from app.training import dataset
from tests.conftest import ClientFor, UserFactory
from tests.labeling.overlap_helpers import crew, wine_then_beer


def test_each_image_carries_the_annotation_that_set_its_label(
    api_as: ClientFor, admin: User, make_user: UserFactory, db: Session
) -> None:
    c = crew(api_as, admin, make_user)
    firsts = dict(wine_then_beer(c) for _ in range(2))
    data = dataset.build(db, db.get_one(Project, c.s.pid), level=None)
    assert data.labels == [c.s.categories["wine"]] * 2
    assert dict(zip(data.image_ids, data.annotation_ids, strict=True)) == firsts
