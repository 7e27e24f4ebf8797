"""`curator import`: a real subprocess on a real folder, flowers12 included."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.config import Settings
from app.images.models import Image, ImageStatus, ImportBatch
from app.labeling.models import Annotation
from app.projects import service as projects
from app.taxonomy.models import Category
from tests.conftest import UserFactory
from tests.images import corpus
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from tests.support.processes import curator_cmd, curator_env

FLOWERS = FLOWERS12 / "train"


def run_import(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        curator_cmd("import", *args),
        env=curator_env(settings.data_dir, COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def project(db: Session, make_user: UserFactory) -> int:
    owner = make_user(Role.admin, "admin")
    project = projects.create_project(db, owner, "Flowers")
    db.commit()
    return project.id


def count(db: Session, model: type[object], *where: object) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


@pytest.mark.slow
def test_flowers12_with_labels_from_folders_then_a_second_run_adds_nothing(
    settings: Settings, db: Session, project: int
) -> None:
    require(FLOWERS.is_dir(), f"the flowers12 dataset is missing at {FLOWERS}")
    first = run_import(settings, "Flowers", str(FLOWERS), "--labels-from-folders")
    assert first.returncode == 0, first.stderr
    # train/ holds 720 files, two of them byte-identical (iris/image_0422.jpg and
    # image_0469.jpg): 719 images, and the copy is reported, not imported twice.
    assert "719 imported, 1 already in (skipped), 0 errors, 719 labeled" in first.stdout
    assert count(db, Category) == 12
    assert count(db, Image) == 719
    assert count(db, Image, Image.status == ImageStatus.labeled) == 719
    names = set(db.scalars(select(Category.name)))
    assert names == {p.name for p in FLOWERS.iterdir()}
    iris = db.scalar(select(Category.id).where(Category.name == "iris"))
    assert count(db, Image, Image.category_id == iris) == 59
    imported = db.scalars(select(Annotation.source).distinct()).all()
    assert imported == ["imported"]

    second = run_import(settings, "1", str(FLOWERS), "--labels-from-folders")
    assert second.returncode == 0, second.stderr
    assert "0 imported, 720 already in (skipped), 0 errors, 0 labeled" in second.stdout
    assert count(db, Image) == 719
    assert count(db, Annotation) == 719
    assert count(db, Category) == 12
    assert [b.source for b in db.scalars(select(ImportBatch))] == ["cli", "cli"]


def test_a_folder_with_bad_files_and_a_labels_csv(
    settings: Settings, db: Session, project: int, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    (folder / "a.jpg").write_bytes(corpus.jpeg(seed=1))
    (folder / "sub" / "b.png").write_bytes(corpus.png_rgba())
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden" / "c.jpg").write_bytes(corpus.jpeg(seed=3))
    (folder / "empty.jpg").write_bytes(b"")
    labels = tmp_path / "labels.csv"
    labels.write_text("filename,category_path\na.jpg,glass/wine\nsub/b.png,glass\nnope.jpg,glass\n")
    result = run_import(
        settings, "flowers", str(folder), "--workers", "2", "--labels-csv", str(labels)
    )
    assert result.returncode == 0, result.stderr
    assert "2 imported, 0 already in (skipped), 2 errors" in result.stdout
    assert "notes.txt" in result.stderr
    assert "empty.jpg" in result.stderr
    assert "2 applied, 0 unchanged, 1 errors" in result.stdout
    assert "no image named 'nope.jpg'" in result.stderr
    assert count(db, Image) == 2
    assert count(db, Image, Image.status == ImageStatus.labeled) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("Nope", "."), "No project with id or name 'Nope'"),
        (("Flowers", ".", "--user", "ghost"), "No user 'ghost'"),
        (("Flowers", "/does/not/exist"), "does not exist"),
    ],
)
def test_clear_errors(
    settings: Settings, project: int, args: tuple[str, ...], message: str
) -> None:
    result = run_import(settings, *args)
    assert result.returncode != 0
    assert message in " ".join(result.stderr.split()), result.stderr


def test_an_archived_project_is_refused(
    settings: Settings, db: Session, project: int, admin: User, tmp_path: Path
) -> None:
    projects.update_project(db, db.get_one(projects.Project, project), archived=True)
    db.commit()
    result = run_import(settings, "Flowers", str(tmp_path))
    assert result.returncode == 1
    assert "archived" in result.stderr
