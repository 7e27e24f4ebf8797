"""Names people tell apart by eye: no invisible characters, NFKC before comparing, and no
look-alike (Unicode TR39 skeleton) of a name already in the same list. Projects,
categories and usernames; over the API, through the HTML forms and the command line."""

from __future__ import annotations

import subprocess
from html import unescape
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import User
from app.names import find_lookalike, name_key, refused_character, skeleton
from app.projects.models import Project
from app.taxonomy.models import Category
from tests.conftest import PASSWORD, ClientFor, csrf_from
from tests.images import corpus
from tests.images.helpers import file_part, make_zip, new_project, upload
from tests.support.processes import REPO, curator_cmd, curator_env

CYRILLIC_P = "\u0420roject"  # Cyrillic capital ER, then Latin "roject"
# Each is refused outright (422), whatever else exists.
INVISIBLE = {
    "zero-width space": "P1\u200b",
    "RTL override": "Report\u202egnp.exe",
    "soft hyphen": "Pro\u00adject",
    "byte order mark": "\ufeffProject",
    "Hangul filler": "Pro\u3164ject",
    "line separator": "Pro\u2028ject",
    "leading combining mark": "\u0301Project",
    "zalgo": "Pro" + "\u0336\u0301\u0300\u0308\u030a\u0327" + "ject",
}


def count(db: Session, model: type[object]) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_the_skeleton_follows_tr39() -> None:
    assert skeleton("\U0001d52d\U0001d4b6\u1eff\U0001d561\U0001d552\u2113") == skeleton("paypal")
    assert skeleton(CYRILLIC_P) == skeleton("Project")
    assert skeleton("adrnin") == skeleton("admin")  # rn reads as m
    assert skeleton("Iena") == skeleton("lena") == skeleton("1ena")
    assert skeleton("Project") != skeleton("Projects")
    assert name_key("\uff30\uff32\uff2f\uff2a") == name_key("proj") == name_key("  PROJ ")
    assert name_key("Cafe\u0301") == name_key("Caf\u00e9")
    assert find_lookalike("Caf\u00e9", ["Cafe"]) is None  # an accent is a real difference
    assert find_lookalike("\u041f\u0440\u043e\u0435\u043a\u0442", ["Project"]) is None
    assert refused_character("Caf\u00e9 \u0646\u0627\u0645 \u0928\u093e\u092e") is None


@pytest.mark.parametrize("case", INVISIBLE)
def test_invisible_characters_are_refused_with_the_character_named(
    api_as: ClientFor, admin: User, db: Session, case: str
) -> None:
    api = api_as(admin)
    name = INVISIBLE[case]
    pid = new_project(api, "Host")
    for url, body in (
        ("/api/v1/projects", {"name": name}),
        (f"/api/v1/projects/{pid}/categories", {"name": name}),
        ("/api/v1/users", {"username": name, "password": PASSWORD, "role": "labeler"}),
    ):
        resp = api.post(url, json=body)
        assert resp.status_code == 422, (url, resp.text)
        detail = resp.json()["detail"]
        assert "invisible" in detail or "combining mark" in detail or "may hold only" in detail
    resp = api.patch(f"/api/v1/projects/{pid}", json={"name": name})
    assert resp.status_code == 422
    assert count(db, Project) == 1
    assert count(db, Category) == 0
    assert count(db, User) == 1


def test_the_message_names_the_hidden_character(api_as: ClientFor, admin: User) -> None:
    resp = api_as(admin).post("/api/v1/projects", json={"name": "P1\u200b"})
    assert resp.json()["detail"] == (
        "name: must not contain invisible or formatting characters (U+200B ZERO WIDTH SPACE)"
    )


@pytest.mark.parametrize(
    ("existing", "new", "says"),
    [
        ("PROJ", "\uff30\uff32\uff2f\uff2a", "already exists"),  # fullwidth
        ("\uff30\uff32\uff2f\uff2a", "proj", "already exists"),
        ("Caf\u00e9", "Cafe\u0301", "already exists"),  # composed vs combining accent
        ("Project", CYRILLIC_P, "reads like"),
        ("Project", "\u0440roject", "reads like"),  # lower-case Cyrillic er
        ("Set 1", "Set l", "reads like"),
    ],
)
def test_projects_that_read_alike_conflict(
    api_as: ClientFor, manager: User, db: Session, existing: str, new: str, says: str
) -> None:
    api = api_as(manager)
    new_project(api, existing)
    resp = api.post("/api/v1/projects", json={"name": new})
    assert resp.status_code == 409, resp.text
    assert says in resp.json()["detail"]
    other = new_project(api, "Other")
    renamed = api.patch(f"/api/v1/projects/{other}", json={"name": new})
    assert renamed.status_code == 409
    assert count(db, Project) == 2


def test_a_look_alike_of_a_hidden_project_does_not_reveal_its_name(
    api_as: ClientFor, admin: User, manager: User
) -> None:
    new_project(api_as(admin), "Secret Project")
    resp = api_as(manager).post("/api/v1/projects", json={"name": "Secret " + CYRILLIC_P})
    assert resp.status_code == 409
    detail = resp.json()["detail"]
    assert "another project" in detail
    assert "U+0420 CYRILLIC CAPITAL LETTER ER" in detail
    assert "'Secret Project'" not in detail


def test_distinct_names_in_any_script_still_go_in(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    for name in (
        "Project",
        "Projects",
        "Caf\u00e9",
        "Cafe",
        "\u041f\u0440\u043e\u0435\u043a\u0442",
    ):
        assert api.post("/api/v1/projects", json={"name": name}).status_code == 201, name
    # Renaming a project to another spelling of its own name is not a clash.
    pid = api.get("/api/v1/projects").json()[0]["id"]
    own = api.get(f"/api/v1/projects/{pid}").json()["name"]
    assert api.patch(f"/api/v1/projects/{pid}", json={"name": own.upper()}).status_code == 200


def test_names_stored_before_the_rule_keep_working(
    api_as: ClientFor, admin: User, db: Session
) -> None:
    legacy = Project(name="P1\u200b", name_key="p1\u200b", description="", created_by_id=admin.id)
    db.add(legacy)
    db.commit()
    api = api_as(admin)
    assert any(p["name"] == "P1\u200b" for p in api.get("/api/v1/projects").json())
    resp = api.patch(f"/api/v1/projects/{legacy.id}", json={"description": "still editable"})
    assert resp.status_code == 200, resp.text
    # It still holds its name: a visible twin of it is refused.
    assert api.post("/api/v1/projects", json={"name": "P1"}).status_code == 409


def test_sibling_categories_that_read_alike_conflict(api_as: ClientFor, admin: User) -> None:
    api = api_as(admin)
    pid = new_project(api, "Shop")
    url = f"/api/v1/projects/{pid}/categories"
    glass = api.post(url, json={"name": "glass"}).json()
    assert api.post(url, json={"name": "mug"}).status_code == 201
    for clash in ("GLASS", "\uff47lass", "g\u04c0ass"):  # fullwidth g; Cyrillic palochka
        resp = api.post(url, json={"name": clash})
        assert resp.status_code == 409, (clash, resp.text)
    resp = api.post(url, json={"name": "\u0441up"})  # Cyrillic es: reads as "cup"
    assert resp.status_code == 201  # no "cup" among the siblings yet
    resp = api.post(url, json={"name": "cup"})
    assert resp.status_code == 409
    assert "reads like '\u0441up'" in resp.json()["detail"]
    # The rule is per parent, as uniqueness is: the same name may sit under another parent.
    assert api.post(url, json={"name": "mug", "parent_id": glass["id"]}).status_code == 201
    mug = next(c for c in api.get(url).json() if c["path"] == "mug")
    moved = api.patch(f"/api/v1/categories/{mug['id']}", json={"name": "rnug"})
    assert moved.status_code == 200  # "rnug" vs its siblings glass and cup: fine
    back = api.patch(f"/api/v1/categories/{mug['id']}", json={"parent_id": glass["id"]})
    assert back.status_code == 409  # under glass, "rnug" reads like its "mug"


def test_a_folder_that_reads_like_a_category_is_imported_without_a_label(
    api_as: ClientFor, admin: User
) -> None:
    api = api_as(admin)
    pid = new_project(api, "Folders")
    archive = make_zip(
        [("Project/a.jpg", corpus.jpeg(seed=1)), (f"{CYRILLIC_P}/b.jpg", corpus.jpeg(seed=2))]
    )
    body = upload(api, pid, [file_part("f.zip", archive)], labels_from_folders="true")
    errors = body["errors"]
    assert len(errors) == 1, errors  # type: ignore[arg-type]
    assert errors[0]["filename"] == f"{CYRILLIC_P}/b.jpg"  # type: ignore[index]
    assert "imported without a label" in errors[0]["error"]  # type: ignore[index]
    assert "reads like 'Project'" in errors[0]["error"]  # type: ignore[index]
    categories = api.get(f"/api/v1/projects/{pid}/categories").json()
    assert [c["path"] for c in categories] == ["Project"]


@pytest.mark.parametrize(
    ("existing", "new"),
    [("lena", "Lena"), ("lena", "1ena"), ("lena", "Iena"), ("admin2", "adrnin2")],
)
def test_usernames_that_read_alike_conflict(
    api_as: ClientFor, admin: User, db: Session, existing: str, new: str
) -> None:
    api = api_as(admin)
    user = {"password": PASSWORD, "role": "labeler"}
    assert api.post("/api/v1/users", json={"username": existing, **user}).status_code == 201
    resp = api.post("/api/v1/users", json={"username": new, **user})
    assert resp.status_code == 409, resp.text
    assert count(db, User) == 2


@pytest.mark.parametrize("name", ["\uff41dmin", "\u0430dmin", "ad\u200bmin"])
def test_usernames_outside_ascii_get_a_clear_message(
    api_as: ClientFor, admin: User, name: str
) -> None:
    resp = api_as(admin).post(
        "/api/v1/users", json={"username": name, "password": PASSWORD, "role": "labeler"}
    )
    assert resp.status_code == 422
    assert "U+" in resp.json()["detail"]


def _form(web: TestClient, url: str, **data: str) -> tuple[int, str]:
    resp = web.post(url, data={"csrf_token": csrf_from(web, "/projects"), **data})
    return resp.status_code, unescape(resp.text)


def test_the_html_forms_refuse_the_same_names(
    browser_as: ClientFor, admin: User, db: Session
) -> None:
    web = browser_as(admin)
    assert _form(web, "/projects", name="Project")[0] == 303
    pid = db.scalar(select(Project.id).where(Project.name == "Project"))
    status, html = _form(web, "/projects", name="P1\u200b")
    assert status == 400
    assert "U+200B ZERO WIDTH SPACE" in html
    status, html = _form(web, "/projects", name=CYRILLIC_P)
    assert status == 409
    assert "reads like the name of another project" in html
    assert _form(web, "/projects", name="Other")[0] == 303
    other = db.scalar(select(Project.id).where(Project.name == "Other"))
    status, html = _form(web, f"/projects/{other}", name="\uff30roject")
    assert status == 409
    assert "A project named 'Project' already exists." in html

    assert _form(web, f"/projects/{pid}/taxonomy", name="glass")[0] == 303
    status, html = _form(web, f"/projects/{pid}/taxonomy", name="gl\u0430ss")
    assert status == 409
    assert "reads like 'glass'" in html
    status, html = _form(web, f"/projects/{pid}/taxonomy", name="gl\u202eass")
    assert status == 400
    assert "U+202E RIGHT-TO-LEFT OVERRIDE" in html

    status, html = _form(web, "/admin/users", username="r00t", password=PASSWORD)
    assert status == 409  # the admin here is "root"
    assert "reads like the existing user 'root'" in html
    status, html = _form(web, "/admin/users", username="ro\u200bot", password=PASSWORD)
    assert status == 400
    assert "U+200B" in html
    assert count(db, Project) == 2
    assert count(db, Category) == 1
    assert count(db, User) == 1


def test_createuser_refuses_look_alikes_and_hidden_characters(tmp_path: Path) -> None:
    def curator(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            curator_cmd("createuser", *args, "--password", "long-enough"),
            env=curator_env(tmp_path / "d"),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert curator("ops").returncode == 0
    for name, says in (
        ("OPS", "A user named 'ops' already exists."),
        ("0ps", "reads like the existing user 'ops'"),
        ("o\u200bps", "U+200B ZERO WIDTH SPACE"),
        ("\u043eps", "U+043E CYRILLIC SMALL LETTER O"),
    ):
        result = curator(name)
        assert result.returncode == 1, (name, result.stdout)
        assert says in result.stderr.replace("\n", ""), (name, result.stderr)
        assert "Traceback" not in result.stderr


def test_an_outsider_learns_nothing_of_a_projects_category_names(
    api_as: ClientFor, admin: User, manager: User
) -> None:
    pid = new_project(api_as(admin), "Private")
    url = f"/api/v1/projects/{pid}/categories"
    assert api_as(admin).post(url, json={"name": "glass"}).status_code == 201
    for name in ("glass", "gl\u0430ss", "other"):
        assert api_as(manager).post(url, json={"name": name}).status_code == 404
