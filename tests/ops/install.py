"""A populated install to back up: real flower photos, people, labels, history, runs.

Everything a backup must carry is here at least once: labels and rejections with
reasons, undo history, categories with guidelines, members, pinned examples, a TIFF
(which gets a display copy), a succeeded training run with its model files, and cached
embeddings in a shard.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image as PILImage
from sqlalchemy import MetaData, create_engine, select

from app.auth import service as auth_service
from app.auth.models import Role
from app.config import Settings
from app.db import utcnow
from app.images.models import Image
from app.main import create_app
from app.training.embeddings import record
from app.training.models import RunMode, RunStatus, TrainingRun
from tests.conftest import PASSWORD
from tests.support.datasets import FLOWERS12
from workers.ml.shards import write_shard

FLOWERS = FLOWERS12
SPECIES = ("daisy", "dandelion", "buttercup")
CONTENT_DIRS = ("images", "thumbnails", "display", "embeddings", "models")


@dataclass
class Install:
    project_id: int
    image_ids: list[int] = field(default_factory=list)
    run_id: int = 0
    tiff_id: int = 0


def _token(api: TestClient, username: str) -> dict[str, str]:
    resp = api.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


def _flower_zip(per_species: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for species in SPECIES:
            for path in sorted((FLOWERS / "train" / species).iterdir())[:per_species]:
                archive.write(path, f"{species}/{path.name}")
    return buffer.getvalue()


def _tiff() -> bytes:
    source = sorted((FLOWERS / "test" / "daisy").iterdir())[0]
    out = io.BytesIO()
    PILImage.open(source).convert("RGB").save(out, "TIFF")
    return out.getvalue()


def populate(settings: Settings, per_species: int = 8) -> Install:
    app = create_app(settings)
    try:
        with app.state.sessionmaker() as db:
            for name, role in (
                ("root", Role.admin),
                ("mona", Role.manager),
                ("lena", Role.labeler),
            ):
                auth_service.create_user(db, name, PASSWORD, role)
            db.commit()
        with TestClient(app) as api:
            return _arrange(app, api, settings, per_species)
    finally:
        app.state.engine.dispose()


def _arrange(app: Any, api: TestClient, settings: Settings, per_species: int) -> Install:
    mona, lena = _token(api, "mona"), _token(api, "lena")
    resp = api.post(
        "/api/v1/projects", json={"name": "Flowers", "description": "Spring"}, headers=mona
    )
    assert resp.status_code == 201, resp.text
    out = Install(int(resp.json()["id"]))
    base = f"/api/v1/projects/{out.project_id}"
    member = api.post(f"{base}/members", json={"username": "lena", "role": "labeler"}, headers=mona)
    assert member.status_code == 201, member.text
    assert api.patch(base, json={"auto_train_every": 0}, headers=mona).status_code == 200
    family = api.post(
        f"{base}/categories",
        json={"name": "Asteraceae", "description": "Composite flower heads."},
        headers=mona,
    ).json()["id"]
    cats: dict[str, int] = {}
    for species in SPECIES:
        parent = family if species != "buttercup" else None
        body = {"name": species, "parent_id": parent, "description": f"Only **{species}**."}
        made = api.post(f"{base}/categories", json=body, headers=mona)
        assert made.status_code == 201, made.text
        cats[species] = int(made.json()["id"])
    files = [
        ("files", ("flowers.zip", _flower_zip(per_species), "application/zip")),
        ("files", ("scan.tiff", _tiff(), "image/tiff")),
    ]
    uploaded = api.post(f"{base}/images?mode=sync", files=files, headers=mona)
    assert uploaded.status_code == 200, uploaded.text
    imported = uploaded.json()["imported"]
    assert not uploaded.json()["errors"], uploaded.json()
    by_name = {i["filename"]: int(i["id"]) for i in imported}
    out.image_ids = sorted(by_name.values())
    out.tiff_id = by_name["scan.tiff"]
    for species in SPECIES:
        names = sorted(n for n in by_name if n.startswith(f"{species}/"))
        # The first of each species is rejected, the second left unlabeled.
        for index, name in enumerate(names):
            if index == 1:
                continue
            body: dict[str, Any] = {"category_id": cats[species]}
            if index == 0:
                body = {"rejected": True, "reason": f"blurry {species}"}
            made = api.post(f"/api/v1/images/{by_name[name]}/annotations", json=body, headers=lena)
            assert made.status_code == 201, made.text
    pin = {"image_id": by_name[sorted(by_name)[2]], "kind": "positive"}
    pinned = api.post(f"/api/v1/categories/{cats['buttercup']}/examples", json=pin, headers=mona)
    assert pinned.status_code == 201, pinned.text
    out.run_id = _trained_run(app, settings, out)
    return out


def _trained_run(app: Any, settings: Settings, out: Install) -> int:
    """A succeeded run with model files and cached embeddings, as a worker leaves them."""
    with app.state.sessionmaker() as db:
        run = TrainingRun(
            project_id=out.project_id,
            mode=RunMode.linear,
            backbone="efficientnet_lite0",
            status=RunStatus.succeeded,
            phase="done",
            progress=1.0,
            metrics={"accuracy": 0.9},
            finished_at=utcnow(),
        )
        db.add(run)
        db.flush()
        folder = settings.data_dir / "models" / str(run.id)
        folder.mkdir(parents=True)
        (folder / "model.pt").write_bytes(np.random.default_rng(1).bytes(300_000))
        (folder / "model.json").write_text(json.dumps({"run_id": run.id}))
        ids = db.scalars(select(Image.id).where(Image.project_id == out.project_id)).all()
        shard = write_shard(
            settings.data_dir / "embeddings" / "efficientnet_lite0",
            np.random.default_rng(2).random((len(ids), 8)),
        )
        record(db, "efficientnet_lite0", shard, [(i, r) for r, i in enumerate(ids)], [])
        db.commit()
        return int(run.id)


def table_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order: what "everything is there" means."""
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return {
                name: sorted(tuple(row) for row in conn.execute(table.select()))
                for name, table in meta.tables.items()
            }
    finally:
        engine.dispose()


def stored_files(data_dir: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under the data dir's content folders."""
    found = {}
    for name in CONTENT_DIRS:
        for path in sorted((data_dir / name).rglob("*")):
            if path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                found[path.relative_to(data_dir).as_posix()] = digest
    return found
