"""A project where every image gets a second opinion, with its people as users (to log
in through the browser) and as API clients."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from app.auth.models import User
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import Setup, arrange, join, next_image


@dataclass
class Crew:
    s: Setup
    admin: TestClient
    first: User  # labels every image first
    second: User  # gives the second opinions
    boss: User  # a project manager (not staff)
    first_api: TestClient
    second_api: TestClient


def crew(api_as: ClientFor, admin: User, make_user: UserFactory, images: int = 2) -> Crew:
    api = api_as(admin)
    s = arrange(api, images=images)
    assert api.patch(f"/api/v1/projects/{s.pid}", json={"overlap_percent": 100}).is_success
    a, b, m = make_user(), make_user(), make_user()
    join(api, s.pid, a.username)
    join(api, s.pid, b.username)
    join(api, s.pid, m.username, "manager")
    return Crew(s, api, a, b, m, api_as(a), api_as(b))


def disagree(c: Crew, first: dict[str, object], second: dict[str, object]) -> tuple[int, int]:
    """The first labeler decides ``first`` on the next image; the second labeler, served it
    from the queue, decides ``second``. Returns the image id and the first annotation's id."""
    image = next_image(c.first_api, c.s.pid)
    assert image is not None
    said = c.first_api.post(f"/api/v1/images/{image}/annotations", json=first)
    assert said.status_code == 201, said.text
    assert next_image(c.second_api, c.s.pid) == image
    opinion = c.second_api.post(f"/api/v1/images/{image}/annotations", json=second)
    assert opinion.status_code == 201, opinion.text
    assert opinion.json()["second_opinion"] is True
    return image, int(said.json()["id"])


def wine_then_beer(c: Crew) -> tuple[int, int]:
    wine, beer = c.s.categories["wine"], c.s.categories["beer"]
    return disagree(c, {"category_id": wine}, {"category_id": beer})
