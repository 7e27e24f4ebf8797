"""Login throttling: delays per address and username, per address, and a global ceiling.

Time passing is simulated by moving the recorded failures back (``elapse``), so a
test never sleeps. The first delay is 30 s here (1 s by default) so that "at once"
means well within it even on a slow machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx2 as httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import LoginFailure, Role, User
from app.auth.throttle import required_wait
from app.config import Settings
from app.main import create_app
from tests.conftest import PASSWORD, UserFactory

FIRST = 30


@pytest.fixture
def throttle_overrides() -> dict[str, int]:
    return {}


@pytest.fixture
def settings(settings: Settings, throttle_overrides: dict[str, int]) -> Settings:
    return settings.model_copy(update={"login_first_delay": FIRST, **throttle_overrides})


@pytest.fixture
def from_address(app: FastAPI) -> Iterator[dict[str, TestClient]]:
    """One TestClient per client address, made on first use."""
    clients: dict[str, TestClient] = {}
    yield clients
    for c in clients.values():
        c.close()


def attempt(
    app: FastAPI, clients: dict[str, TestClient], address: str, user: str, pw: str
) -> httpx.Response:
    if address not in clients:
        clients[address] = TestClient(app, client=(address, 40000), follow_redirects=False)
    return clients[address].post("/api/v1/auth/token", data={"username": user, "password": pw})


def elapse(db: Session, seconds: float) -> None:
    """Let time pass for the throttle: every recorded failure becomes that much older."""
    db.expire_all()
    for failure in db.scalars(select(LoginFailure)):
        failure.at -= timedelta(seconds=seconds)
    db.commit()


def retry_after(resp: httpx.Response) -> int:
    assert resp.status_code == 429, resp.text
    assert "Too many failed logins" in resp.json()["detail"]
    return int(resp.headers["retry-after"])


def about(expected: int, actual: int) -> bool:
    # Retry-After counts down from the last failure; a slow machine may lose a second or two.
    return expected - 10 < actual <= expected


def test_the_delay_doubles_after_three_failures_up_to_the_cap() -> None:
    waits = [required_wait(n, 3, 1, 900) for n in range(16)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3:13] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    assert waits[13:] == [900, 900, 900]
    assert required_wait(10**9, 3, 1, 900) == 900


def test_strangers_wrong_passwords_do_not_stop_admin_elsewhere(
    app: FastAPI, from_address: dict[str, TestClient], admin: User, db: Session
) -> None:
    wrong = 0
    for i in range(20):
        resp = attempt(app, from_address, "203.0.113.7", "root", f"guess-{i}")
        if resp.status_code == 429:
            elapse(db, retry_after(resp))  # a patient stranger
        else:
            assert resp.status_code == 401
            wrong += 1
        if wrong == 6:
            break
    assert wrong == 6
    # The stranger's own address is held up even with the right password...
    retry_after(attempt(app, from_address, "203.0.113.7", "root", PASSWORD))
    # ...but the account is not locked: the admin, from their own address, logs in.
    ok = attempt(app, from_address, "198.51.100.2", "root", PASSWORD)
    assert ok.status_code == 200, ok.text
    assert ok.json()["access_token"]


def test_the_pair_waits_longer_after_each_failure(
    app: FastAPI, from_address: dict[str, TestClient], labeler: User, db: Session
) -> None:
    here = "192.0.2.10"
    for _ in range(3):
        assert attempt(app, from_address, here, "lena", "wrong-password").status_code == 401
    waits = []
    for _ in range(4):
        wait = retry_after(attempt(app, from_address, here, "lena", "wrong-password"))
        # Refused before the password is looked at: the right one gets the same answer.
        assert about(wait, retry_after(attempt(app, from_address, here, "lena", PASSWORD)))
        waits.append(wait)
        elapse(db, wait)
        assert attempt(app, from_address, here, "lena", "wrong-password").status_code == 401
    assert about(FIRST, waits[0])
    assert [about(FIRST * 2**i, w) for i, w in enumerate(waits)] == [True] * 4
    # After the wait, the right password logs in and forgives this pair's failures.
    elapse(db, retry_after(attempt(app, from_address, here, "lena", PASSWORD)))
    assert attempt(app, from_address, here, "lena", PASSWORD).status_code == 200
    for _ in range(3):
        assert attempt(app, from_address, here, "lena", "wrong-password").status_code == 401


def test_spelling_a_name_differently_does_not_escape_its_count(
    app: FastAPI, from_address: dict[str, TestClient], labeler: User
) -> None:
    for name in ("lena", "LENA", " Lena "):
        assert attempt(app, from_address, "192.0.2.11", name, "wrong-password").status_code == 401
    retry_after(attempt(app, from_address, "192.0.2.11", "\uff4c\uff45\uff4e\uff41", "x-x-x-x-x"))


def test_spraying_many_usernames_from_one_address_is_slowed(
    app: FastAPI,
    from_address: dict[str, TestClient],
    make_user: UserFactory,
    db: Session,
) -> None:
    for i in range(2):
        make_user(Role.labeler, f"user{i}")
    names = [f"user{i}" for i in range(2)] + [f"ghost{i}" for i in range(28)]
    sprayer = "203.0.113.66"
    statuses = [attempt(app, from_address, sprayer, n, "Summer2026!").status_code for n in names]
    assert statuses[:10] == [401] * 10
    assert statuses[10:] == [429] * 20
    # Each further guess from that address waits twice as long as the one before.
    first = retry_after(attempt(app, from_address, sprayer, "ghost99", "Summer2026!"))
    assert about(FIRST, first)
    elapse(db, first)
    assert attempt(app, from_address, sprayer, "ghost99", "Summer2026!").status_code == 401
    assert about(2 * FIRST, retry_after(attempt(app, from_address, sprayer, "ghost98", "x")))
    # The address is throttled as a whole, even for a right password...
    retry_after(attempt(app, from_address, sprayer, "user1", PASSWORD))
    # ...and nobody else is.
    assert attempt(app, from_address, "198.51.100.3", "user1", PASSWORD).status_code == 200


@pytest.mark.parametrize("throttle_overrides", [{"login_global_failures_per_minute": 5}])
def test_the_global_ceiling_holds_back_failing_addresses_but_not_the_admin(
    app: FastAPI, from_address: dict[str, TestClient], admin: User, db: Session
) -> None:
    botnet = [f"203.0.113.{i}" for i in range(1, 6)]
    for address in botnet:
        assert attempt(app, from_address, address, "root", "guess-1").status_code == 401
    # Five failures this minute: every address that has failed waits, from its first one.
    for address in botnet:
        assert 0 < retry_after(attempt(app, from_address, address, "root", PASSWORD)) <= FIRST
    # An address with no failures of its own is never refused: a right password works,
    # a wrong one is answered (once), then that address waits too.
    assert attempt(app, from_address, "198.51.100.9", "root", PASSWORD).status_code == 200
    assert attempt(app, from_address, "198.51.100.8", "root", "typo").status_code == 401
    retry_after(attempt(app, from_address, "198.51.100.8", "root", PASSWORD))
    # A minute later the pressure is off and one failure is forgiven again.
    elapse(db, 61)
    assert attempt(app, from_address, botnet[0], "root", PASSWORD).status_code == 200


def test_counts_are_shared_by_every_web_process(
    app: FastAPI, settings: Settings, labeler: User
) -> None:
    other = create_app(settings)
    try:
        with (
            TestClient(app, client=("192.0.2.50", 1)) as one,
            TestClient(other, client=("192.0.2.50", 2)) as two,
        ):
            for web in (one, two, one):
                bad = {"username": "lena", "password": "wrong-password"}
                assert web.post("/api/v1/auth/token", data=bad).status_code == 401
            good = {"username": "lena", "password": PASSWORD}
            retry_after(two.post("/api/v1/auth/token", data=good))
    finally:
        other.state.engine.dispose()


def test_hostile_addresses_and_names_are_bounded(
    app: FastAPI, from_address: dict[str, TestClient], labeler: User, db: Session
) -> None:
    addresses = ("x" * 500, "::ffff:192.0.2.1", "2001:db8::1", "' OR 1=1 --")
    names = ("lena", "\u202eanel", "a" * 256, "nul\x00name")
    for address, name in zip(addresses, names, strict=True):
        resp = attempt(app, from_address, address, name, "wrong-password")
        assert resp.status_code == 401, (address, name, resp.text)
    db.expire_all()
    lengths = db.execute(
        select(
            func.max(func.length(LoginFailure.client)), func.max(func.length(LoginFailure.username))
        )
    ).one()
    assert lengths[0] <= 64
    assert lengths[1] <= 64
    assert attempt(app, from_address, "192.0.2.99", "lena", PASSWORD).status_code == 200
