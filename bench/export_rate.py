"""Export rate and peak memory: `curator export` on 2,000 and 10,000 images, against zipfile.

Run: .venv/bin/python bench/export_rate.py [--sizes 2000,10000] [--workers 2]

Setup (not timed): in a fresh data dir, 500x375 JPEGs are made from the flowers12
photos (a random crop of each, resized, so every file differs), prepared by the
importer's own `app.imports.ingest.prepare` in a process pool, and recorded with
`app.imports.recorder.Recorder` as imported labels of a 2-level taxonomy (4 families of
3 species); near-duplicate grouping runs as after any import. The largest size gets
its own project, and each smaller size a project of its first images (same files).

Measured: each export runs in a fresh child process, through the real command,
`curator export PROJECT OUT --split` (ImageFolder with a stratified split, rich
progress bar and all), writing a zip on disk. The child reports its wall time and its
own peak RSS (`getrusage(RUSAGE_SELF).ru_maxrss`), both before the export (imports
done) and at the end. The baseline, in another child, is the least any export must do:
stdlib `zipfile` writing the same files (ZIP_STORED) from the store to a zip on disk,
the file list read beforehand.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PHOTOS = Path("/work/shared/datasets/flowers12/train")
REPO = Path(__file__).resolve().parents[1]


def _photo(args: tuple[int, str, str]) -> object:
    """Make image ``seed`` from a photo and prepare it as an import would."""
    from PIL import Image

    from app.images.storage import ImageStore
    from app.imports.decode import DecodeLimits
    from app.imports.ingest import prepare

    seed, photo, data_dir = args
    rng = random.Random(seed)
    with Image.open(photo) as img:
        w, h = img.size
        cw, ch = int(w * rng.uniform(0.75, 0.95)), int(h * rng.uniform(0.75, 0.95))
        x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
        out = io.BytesIO()
        made = img.convert("RGB").crop((x, y, x + cw, y + ch)).resize((500, 375))
        made.putpixel((0, 0), (seed % 256, seed // 256 % 256, 0))  # equal crops still differ
        made.save(out, "JPEG", quality=88)
    name = f"{Path(photo).parent.name}/{seed}.jpg"
    return prepare(name, out.getvalue(), ImageStore(Path(data_dir)), DecodeLimits(), ())


def setup(data_dir: Path, sizes: list[int], workers: int) -> dict[int, int]:
    """Projects of each size, labeled; returns size -> project id."""
    from app.auth import service as auth
    from app.auth.models import Role
    from app.db import make_engine, make_sessionmaker
    from app.images.models import BatchStatus, ImportBatch
    from app.imports.ingest import Prepared
    from app.imports.near_duplicates import group_new_images
    from app.imports.recorder import Recorder
    from app.migrate import upgrade
    from app.projects.service import create_project
    from app.taxonomy.transfer import ensure_paths

    url = f"sqlite:///{data_dir / 'curator.db'}"
    upgrade(url)
    species = sorted(p.name for p in PHOTOS.iterdir() if p.is_dir())
    family = {s: f"family-{i // 3 + 1}" for i, s in enumerate(species)}
    photos = {s: sorted(str(f) for f in (PHOTOS / s).iterdir()) for s in species}
    jobs = []
    for i in range(max(sizes)):
        s = species[i % len(species)]
        jobs.append((i, photos[s][(i // len(species)) % len(photos[s])], str(data_dir)))
    with Pool(workers) as pool:
        prepared = [p for p in pool.imap(_photo, jobs, chunksize=64) if isinstance(p, Prepared)]
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    projects: dict[int, int] = {}
    with sessions() as session:
        user = auth.create_user(session, "bench", "bench-password", Role.admin)
        for size in sorted(sizes):
            project = create_project(session, user, f"Export bench {size}")
            batch = ImportBatch(
                project_id=project.id, source="cli", name="bench", status=BatchStatus.running
            )
            session.add(batch)
            session.flush()
            items = prepared[:size]
            paths = {(family[p.name.split("/")[0]], p.name.split("/")[0]) for p in items}
            categories = dict(ensure_paths(session, project, paths))
            recorder = Recorder(session, batch, user.id, categories)
            for start in range(0, len(items), 500):
                recorder.record(
                    [(p, (family[p.name.split("/")[0]], p.name.split("/")[0]))
                     for p in items[start : start + 500]]
                )  # fmt: skip
                session.commit()
            group_new_images(session, project.id, 6)
            session.commit()
            projects[size] = project.id
    engine.dispose()
    return projects


def child_export(data_dir: str, project: str, out: str) -> None:
    os.environ.update({"CURATOR_DATA_DIR": data_dir, "CURATOR_ENV": "test"})
    # What the command imports lazily, imported first: the growth reported is the run's.
    import alembic.command  # noqa: F401
    import rich.progress  # noqa: F401
    from typer.testing import CliRunner

    import app.exports.writers
    import app.migrate  # noqa: F401
    from app.cli import cli

    before = peak_rss_kb()
    start = time.perf_counter()
    result = CliRunner().invoke(cli, ["export", project, out, "--split"])
    seconds = time.perf_counter() - start
    if result.exit_code != 0:
        raise SystemExit(f"export failed: {result.output}")
    manifest = json.loads(_read_member(out, "manifest.json"))
    report(seconds, before, manifest["counts"]["total"], out)


def child_baseline(data_dir: str, project: str, out: str) -> None:
    import zipfile

    from sqlalchemy import select

    from app.db import make_engine, make_sessionmaker
    from app.images.models import Image, ImageStatus
    from app.images.storage import ImageStore

    store = ImageStore(Path(data_dir))
    engine = make_engine(f"sqlite:///{Path(data_dir) / 'curator.db'}")
    with make_sessionmaker(engine)() as session:
        rows = session.execute(
            select(Image.id, Image.sha256).where(
                Image.project_id == int(project), Image.status == ImageStatus.labeled
            )
        ).all()
    before = peak_rss_kb()
    start = time.perf_counter()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as archive:
        for image_id, sha256 in rows:
            archive.write(store.original_path(sha256), f"{image_id}.jpg")
    report(time.perf_counter() - start, before, len(rows), out)


def _read_member(path: str, name: str) -> bytes:
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def peak_rss_kb() -> int:
    """This process's peak RSS since exec.

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: Linux carries the forking parent's peak
    over into the child's, which would report the setup's memory, not the export's.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def report(seconds: float, rss_before_kb: int, images: int, out: str) -> None:
    peak = peak_rss_kb()
    size = Path(out).stat().st_size
    print(json.dumps({"seconds": seconds, "images": images, "bytes": size,
                      "rss_before_kb": rss_before_kb, "rss_peak_kb": peak}))  # fmt: skip


def run_child(kind: str, data_dir: Path, project: int, out: Path) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", kind, str(data_dir), str(project), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{done.stdout}\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    out.unlink()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="2000,10000")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--child", nargs=4, metavar=("KIND", "DATA", "PROJECT", "OUT"))
    args = parser.parse_args()
    if args.child:
        kind, data, project, out = args.child
        (child_export if kind == "export" else child_baseline)(data, project, out)
        return
    if not PHOTOS.is_dir():
        raise SystemExit(f"needs the flowers12 photos at {PHOTOS}")
    sizes = [int(s) for s in args.sizes.split(",")]
    data_dir = Path(tempfile.mkdtemp(prefix="curator-export-bench-"))
    try:
        start = time.perf_counter()
        projects = setup(data_dir, sizes, args.workers)
        print(f"setup: {max(sizes)} JPEG 500x375 prepared and labeled "
              f"({time.perf_counter() - start:.0f} s, not timed below)")  # fmt: skip
        print("export: `curator export PROJECT OUT --split` (imagefolder, 0.8/0.1/0.1), "
              "in a fresh process each; baseline: zipfile.write of the same files")  # fmt: skip
        for size in sorted(sizes):
            out = data_dir / "out.zip"
            ours = run_child("export", data_dir, projects[size], out)
            base = run_child("baseline", data_dir, projects[size], out)
            mb = ours["bytes"] / 2**20
            rate, base_rate = ours["images"] / ours["seconds"], base["images"] / base["seconds"]
            print(f"\n{int(ours['images'])} images, zip {mb:.1f} MB")
            for label, r, res in (("curator export", rate, ours), ("zipfile", base_rate, base)):
                grew = (res["rss_peak_kb"] - res["rss_before_kb"]) / 1024
                speed = res["bytes"] / 2**20 / res["seconds"]
                peak = res["rss_peak_kb"] / 1024
                print(f"  {label:<14}: {r:7.0f} images/s {speed:6.1f} MB/s  "
                      f"peak RSS {peak:6.1f} MB (+{grew:.1f} MB in the run)")  # fmt: skip
            print(f"  ratio export/baseline: {rate / base_rate:.2f}")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
