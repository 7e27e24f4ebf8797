"""An export reports who set each image's label: never the author of a later second
opinion, which left that label as it was."""

from __future__ import annotations

import csv
import io

from app.auth.models import User
from tests.conftest import ClientFor, UserFactory
from tests.exports.helpers import export, manifest
from tests.labeling.overlap_helpers import crew, wine_then_beer


def test_the_first_label_and_its_author_are_exported_not_the_second_opinion(
    api_as: ClientFor, admin: User, make_user: UserFactory
) -> None:
    c = crew(api_as, admin, make_user)
    image, _ = wine_then_beer(c)
    archive = export(c.admin, c.s.pid, format="csv", images="false")
    rows = list(csv.DictReader(io.StringIO(archive.read("labels.csv").decode())))
    assert [(r["image_id"], r["category_path"], r["annotator"], r["source"]) for r in rows] == [
        (str(image), "wine", c.first.username, "manual")
    ]
    assert manifest(archive)["label_sources"]["by_annotator"] == {c.first.username: 1}
