"""Six images labeled twice through the API, with known agreement figures."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from app.auth.models import User
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import label, next_image
from tests.labeling.overlap_helpers import Crew, crew, disagree


@dataclass
class Six:
    c: Crew
    boss: TestClient  # the project's manager
    images: dict[str, int]


def six_images(c: Crew, boss: TestClient) -> dict[str, int]:
    """Four agreements (wine twice, beer twice), then wine/beer, which the manager settles as
    beer, and wine/rejected, still in dispute."""
    wine, beer = c.s.categories["wine"], c.s.categories["beer"]
    said = [(wine, wine), (wine, wine), (beer, beer), (beer, beer)]
    for first, second in said:
        disagree(c, {"category_id": first}, {"category_id": second})
    settled, _ = disagree(c, {"category_id": wine}, {"category_id": beer})
    assert next_image(boss, c.s.pid, mode="disagreements") == settled
    assert label(boss, settled, beer)["source"] == "review"
    disputed, _ = disagree(c, {"category_id": wine}, {"rejected": True, "reason": "blurry"})
    return {"settled": settled, "disputed": disputed}


def make_six(api_as: ClientFor, admin: User, make_user: UserFactory) -> Six:
    c = crew(api_as, admin, make_user, images=6)
    boss = api_as(c.boss)
    return Six(c, boss, six_images(c, boss))
