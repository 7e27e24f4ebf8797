"""Migration a1c2e3d4f501: each project's creator becomes a manager member of it.

Projects made before access came from membership alone may lack their creator's
membership (a global manager saw everything, so removing them changed nothing). After the
upgrade the creator manages them as a member, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, text

from app.db import make_engine
from app.migrate import downgrade, upgrade

BEFORE = "8d4e3f0a5b64"
THIS = "a1c2e3d4f501"
CREATED = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _user(conn: Connection, username: str, role: str) -> int:
    return conn.execute(
        text(
            "INSERT INTO users (username, password_hash, role, is_active, security_stamp, "
            "created_at) VALUES (:u, 'x', :r, :a, 's', :t) RETURNING id"
        ),
        {"u": username, "r": role, "a": True, "t": CREATED},
    ).scalar_one()


def _project(conn: Connection, name: str, creator: int | None) -> int:
    return conn.execute(
        text(
            "INSERT INTO projects (name, name_key, description, created_by_id, created_at) "
            "VALUES (:n, :k, '', :c, :t) RETURNING id"
        ),
        {"n": name, "k": name.lower(), "c": creator, "t": CREATED},
    ).scalar_one()


def _member(conn: Connection, project: int, user: int, role: str) -> None:
    conn.execute(
        text(
            "INSERT INTO memberships (project_id, user_id, role, created_at) "
            "VALUES (:p, :u, :r, :t)"
        ),
        {"p": project, "u": user, "r": role, "t": CREATED},
    )


def _memberships(url: str) -> dict[tuple[str, str], str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT p.name, u.username, m.role FROM memberships m "
                    "JOIN projects p ON p.id = m.project_id JOIN users u ON u.id = m.user_id"
                )
            )
            return {(name, username): role for name, username, role in rows}
    finally:
        engine.dispose()


def test_creators_become_manager_members(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url, BEFORE)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            mona = _user(conn, "mona", "manager")
            max_ = _user(conn, "max", "manager")
            root = _user(conn, "root", "admin")
            lena = _user(conn, "lena", "labeler")
            demoted = _user(conn, "demoted", "labeler")
            # Mona's project: she was removed from it; only lena labels there.
            orphan = _project(conn, "Orphan", mona)
            _member(conn, orphan, lena, "labeler")
            # Max's: he is a member, but only as a labeler.
            labeled = _project(conn, "Labeled", max_)
            _member(conn, labeled, max_, "labeler")
            # Root's: already his manager member; nothing to add.
            kept = _project(conn, "Kept", root)
            _member(conn, kept, root, "manager")
            _project(conn, "Admins", root)
            _project(conn, "Nobody's", None)  # the creator's account was deleted
            # Made while a manager, since demoted: no access then, none now.
            _project(conn, "Demoted", demoted)
    finally:
        engine.dispose()
    assert ("Orphan", "mona") not in _memberships(url)

    upgrade(url, THIS)

    assert _memberships(url) == {
        ("Orphan", "mona"): "manager",
        ("Orphan", "lena"): "labeler",
        ("Labeled", "max"): "manager",
        ("Kept", "root"): "manager",
        ("Admins", "root"): "manager",
    }
    # Running the rest of the chain (and the app's own rules) on top still works.
    upgrade(url)
    assert _memberships(url)[("Orphan", "mona")] == "manager"


def test_the_backfill_is_dated_in_utc_and_survives_a_downgrade(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url, BEFORE)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _project(conn, "Orphan", _user(conn, "mona", "manager"))
        before = datetime.now(UTC)
        upgrade(url, THIS)
        with engine.connect() as conn:
            raw = conn.execute(text("SELECT created_at FROM memberships")).scalar_one()
    finally:
        engine.dispose()
    stamp = raw if isinstance(raw, datetime) else datetime.fromisoformat(raw)
    stamp = stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp
    assert before.replace(microsecond=0) <= stamp.astimezone(UTC) <= datetime.now(UTC)
    # The downgrade keeps the memberships; the upgrade again adds no second one.
    downgrade(url, BEFORE)
    upgrade(url, THIS)
    assert _memberships(url) == {("Orphan", "mona"): "manager"}
