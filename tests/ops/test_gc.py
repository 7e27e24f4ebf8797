"""`curator gc`: files no row names, older than an hour, are listed, then removed.

Real files in a real data dir, the real command as a subprocess; the rows come from the
same API and models the app uses.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import Role
from app.config import Settings
from app.images.models import Image
from app.images.storage import ImageStore
from app.ops.gc_cli import gc_at_start
from app.training.models import Embedding, RunMode, RunStatus, TrainingRun
from tests.conftest import ClientFor, UserFactory
from tests.images import corpus
from tests.images.helpers import file_part, new_project, upload
from tests.support.processes import REPO, curator_cmd, curator_env

HOUR = 3600
FAKE_SHA = "ab" + "0" * 62


def run_gc(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        curator_cmd("gc", *args),
        env=curator_env(settings.data_dir, COLUMNS="200"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write(path: Path, data: bytes = b"x" * 100, age: float = 2 * HOUR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    when = time.time() - age
    os.utime(path, (when, when))
    return path


def age_everything(root: Path, age: float = 2 * HOUR) -> None:
    """Make the named files old too: their rows, not their age, must keep them."""
    when = time.time() - age
    for folder, _dirs, names in os.walk(root):
        for name in names:
            os.utime(Path(folder) / name, (when, when))


def uploaded_project(api: TestClient) -> int:
    """A project with two uploaded images: their files are named by rows."""
    project = new_project(api, "Gc")
    parts = [file_part(f"p{i}.jpg", corpus.jpeg(seed=400 + i), "image/jpeg") for i in range(2)]
    upload(api, project, parts)
    return project


def test_old_orphans_are_listed_in_a_dry_run_and_removed_with_delete(
    settings: Settings, db: Session, api_as: ClientFor, make_user: UserFactory
) -> None:
    api = api_as(make_user(Role.manager, "gcmanager"))
    project = uploaded_project(api)
    data = settings.data_dir
    store = ImageStore(data)
    images = db.query(Image).filter(Image.project_id == project).all()
    assert len(images) == 2
    # A run with its model folder, and an embedding shard that a row names.
    run = TrainingRun(
        project_id=project,
        mode=RunMode.linear,
        backbone="efficientnet_lite0",
        status=RunStatus.succeeded,
    )
    db.add(run)
    db.flush()
    shard = f"{uuid.uuid4().hex}.npy"
    db.add(Embedding(image_id=images[0].id, backbone="efficientnet_lite0", shard=shard, row=0))
    db.commit()
    (data / "embeddings" / "efficientnet_lite0").mkdir(parents=True)
    np.save(data / "embeddings" / "efficientnet_lite0" / shard, np.zeros((1, 4)), False)
    write(data / "models" / str(run.id) / "model.onnx")
    named = [store.original_path(i.sha256) for i in images]
    named += [store.thumbnail_path(i.sha256, i.thumbnail_mime) for i in images]
    named += [
        data / "embeddings" / "efficientnet_lite0" / shard,
        data / "models" / str(run.id) / "model.onnx",
    ]
    age_everything(data)

    old = {
        "original": write(store.original_path(FAKE_SHA)),
        "thumbnail": write(store.thumbnail_path(FAKE_SHA, "image/webp")),
        "display": write(store.display_path(FAKE_SHA)),
        # The thumbnail of a named image in a format its row does not say.
        "thumbnail2": write(store.thumbnail_path(images[0].sha256, "image/webp"))
        if images[0].thumbnail_mime == "image/jpeg"
        else write(store.thumbnail_path(images[0].sha256, "image/jpeg")),
        "temporary": write(store.original_path(FAKE_SHA).parent / ".tmp-k1l2m3"),
        "embedding": write(data / "embeddings" / "efficientnet_lite0" / "deadbeef.npy"),
        "model": write(data / "models" / "999" / "model.onnx", b"y" * 1000),
        "partial": write(data / "models" / f".{run.id + 1}.partial" / "model.pt"),
        "staging": write(data / "staging" / "77" / "upload-0", b"z" * 500),
    }
    young = [
        write(store.original_path("cd" + "1" * 62), age=60),
        write(data / "models" / "998" / "model.onnx", age=60),
        write(data / "staging" / "78" / "upload-0", age=60),
    ]

    dry = run_gc(settings)
    assert dry.returncode == 0, dry.stderr
    for path in old.values():
        assert str(path.relative_to(data.resolve())) in dry.stdout
        assert path.exists()  # a dry run deletes nothing
    for path in [*young, *named]:
        assert str(path.relative_to(data.resolve())) not in dry.stdout
    assert re.search(r"total\W+9\W", dry.stdout), dry.stdout
    assert re.search(r"staging\W+1\W+500 bytes", dry.stdout), dry.stdout
    assert "3 unnamed files are younger than that and were kept." in dry.stdout
    assert "Dry run: nothing was deleted" in dry.stdout

    done = run_gc(settings, "--delete")
    assert done.returncode == 0, done.stderr
    assert "Deleted 9 files" in done.stdout
    assert not any(p.exists() for p in old.values())
    assert all(p.exists() for p in [*young, *named])
    # The folders of a run and an upload that no row names go with their files.
    assert not (data / "models" / "999").exists()
    assert not (data / "staging" / "77").exists()
    assert (data / "models" / str(run.id)).is_dir()
    # The app still serves every image the rows name.
    for image in images:
        assert api.get(f"/api/v1/images/{image.id}/file").status_code == 200
        assert api.get(f"/api/v1/images/{image.id}/thumbnail").status_code == 200


def test_min_age_zero_also_takes_young_orphans_but_never_named_files(
    settings: Settings, db: Session, api_as: ClientFor, make_user: UserFactory
) -> None:
    api = api_as(make_user(Role.manager, "gcmanager"))
    project = uploaded_project(api)
    store = ImageStore(settings.data_dir)
    young = write(store.original_path(FAKE_SHA), age=0)
    done = run_gc(settings, "--delete", "--min-age", "0")
    assert done.returncode == 0, done.stderr
    assert not young.exists()
    for image in db.query(Image).filter(Image.project_id == project):
        assert store.original_path(image.sha256).exists()
        assert store.thumbnail_path(image.sha256, image.thumbnail_mime).exists()


def test_content_stored_again_by_an_import_in_progress_is_kept(
    settings: Settings, db: Session
) -> None:
    """An import that reuses an old orphan's content names it only when it commits."""
    store = ImageStore(settings.data_dir)
    data = corpus.jpeg(seed=321)
    sha = hashlib.sha256(data).hexdigest()
    original = write(store.original_path(sha), data)
    thumbnail = write(store.thumbnail_path(sha, "image/jpeg"), b"thumb")
    # What ingest.prepare does before its rows are written: store the content.
    store.put(sha, data, b"thumb", "image/jpeg")
    done = run_gc(settings, "--delete")
    assert done.returncode == 0, done.stderr
    assert original.exists()
    assert thumbnail.exists()


def test_symbolic_links_never_lead_gc_outside_the_data_dir(
    settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    precious = write(outside / "precious.jpg", b"keep me")
    store = ImageStore(settings.data_dir)
    link = store.original_path(FAKE_SHA)
    link.parent.mkdir(parents=True)
    link.symlink_to(precious)
    os.utime(link, (time.time() - 2 * HOUR,) * 2, follow_symlinks=False)
    folder_link = settings.data_dir / "models" / "12"
    folder_link.parent.mkdir(parents=True)
    folder_link.symlink_to(outside, target_is_directory=True)

    done = run_gc(settings, "--delete")
    assert done.returncode == 0, done.stderr
    assert not link.is_symlink()  # the link was an orphan: it went
    assert precious.read_bytes() == b"keep me"  # what it pointed at did not
    assert sorted(p.name for p in outside.iterdir()) == ["precious.jpg"]


def test_serve_start_removes_old_orphans_and_keeps_young_ones(settings: Settings) -> None:
    store = ImageStore(settings.data_dir)
    old = write(store.original_path(FAKE_SHA))
    young = write(store.original_path("cd" + "1" * 62), age=60)
    gc_at_start(settings)
    assert not old.exists()
    assert young.exists()
