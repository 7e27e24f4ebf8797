"""The hot routes hand work to the thread pool twice a request (app.labeling.hot_session):
once to open the session and look the caller up, once for the route itself. Four hops a
request were about a third of the web's CPU; this holds the count, not a time. Every
way out gives the connection back to the pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from app.auth.models import User
from tests.conftest import ClientFor
from tests.labeling.helpers import arrange, join


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = anyio.to_thread.run_sync

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(func, "__qualname__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    return seen


def _connections_out(client: TestClient) -> int:
    return int(client.app.state.engine.pool.checkedout())  # type: ignore[attr-defined]


def test_next_and_a_label_take_two_hops_each(
    api_as: ClientFor, admin: User, labeler: User, hops: list[str]
) -> None:
    s = arrange(api_as(admin), images=2)
    join(api_as(admin), s.pid, labeler.username)
    api = api_as(labeler)
    hops.clear()
    served = api.get(f"/api/v1/projects/{s.pid}/queue/next")
    assert served.status_code == 200, served.text
    assert len(hops) == 2, hops
    hops.clear()
    made = api.post(
        f"/api/v1/images/{served.json()['image_id']}/annotations",
        json={"category_id": s.categories["wine"]},
    )
    assert made.status_code == 201, made.text
    assert len(hops) == 2, hops
    assert _connections_out(api) == 0
    # What the route wrote was committed before the answer went out.
    history = api.get(f"/api/v1/images/{served.json()['image_id']}/annotations").json()
    assert [a["category_id"] for a in history] == [s.categories["wine"]]


def test_every_way_out_gives_the_connection_back(
    api_as: ClientFor, admin: User, labeler: User, manager: User
) -> None:
    s = arrange(api_as(admin), images=1)
    join(api_as(admin), s.pid, labeler.username)
    api = api_as(labeler)
    invalid = api.get(f"/api/v1/projects/{s.pid}/queue/next", params={"strategy": "bogus"})
    assert invalid.status_code == 422
    assert _connections_out(api) == 0
    refused = api.post(f"/api/v1/images/{s.image_ids[0]}/annotations", json={"category_id": 0})
    assert refused.status_code == 422
    assert _connections_out(api) == 0
    hidden = api_as(manager).get(f"/api/v1/projects/{s.pid}/queue/next")
    assert hidden.status_code == 404
    assert _connections_out(api) == 0
    wrong = api.post(f"/api/v1/images/{s.image_ids[0]}/annotations", json={"category_id": 10**6})
    assert wrong.status_code in (404, 422), wrong.text
    assert _connections_out(api) == 0
    # Nothing a refused call began is left half-written.
    assert api.get(f"/api/v1/images/{s.image_ids[0]}/annotations").json() == []
