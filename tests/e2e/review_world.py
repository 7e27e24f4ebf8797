"""A project whose newest run has real insights, for the review-queue browser tests.

Real flowers12 photos of three species, imported with their folders as labels; a few of
those labels then changed to another species through the annotation API (the kind of
mistake the label-issue scorer looks for); a few generated odd pictures (noise, a flat
colour, text) added unlabeled; then a real linear run on the live worker, whose insights
phase scores both.
"""

from __future__ import annotations

import io
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import APIRequestContext, Page, Playwright, Response, expect
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.conftest import ADMIN_PASSWORD
from tests.e2e.flows import ADMIN, unique
from tests.e2e.test_label_suggestion import _ok, _upload, _zip
from tests.support.datasets import FLOWERS12
from tests.support.env import require
from tests.support.odd_pictures import make

SPECIES = ("daisy", "sunflower", "iris")
PER_SPECIES = 8
FLIPPED = 3  # labels changed to another species before the run
ODD = ("noise", "flat", "text")
RUN_TIMEOUT_S = 300.0  # the first run of a session loads the backbone on a 2-core CPU


def guideline(name: str) -> str:
    return f"How to tell **{name}** apart."


@dataclass
class World:
    pid: int
    ids: dict[str, int]  # category name -> id
    keys: dict[str, str]  # category name -> its shortcut
    filenames: dict[int, str]  # image id -> filename

    def name_of(self, category_id: int) -> str:
        return next(n for n, i in self.ids.items() if i == category_id)


def token_api(playwright: Playwright, base_url: str) -> APIRequestContext:
    login = playwright.request.new_context(base_url=base_url)
    form: dict[str, str | float | bool] = {"username": ADMIN, "password": ADMIN_PASSWORD}
    token = _ok(login.post("/api/v1/auth/token", form=form))["access_token"]
    login.dispose()
    return playwright.request.new_context(
        base_url=base_url, extra_http_headers={"Authorization": f"Bearer {token}"}
    )


def odd_zip(kinds: tuple[str, ...], per_kind: int) -> bytes:
    files: list[tuple[str, bytes]] = []
    for kind in kinds:
        for n in range(per_kind):
            buffer = io.BytesIO()
            make(kind, n).save(buffer, format="PNG")
            files.append((f"odd-{kind}-{n}.png", buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files:
            archive.writestr(name, data)
    return out.getvalue()


def wait_for_run(api: APIRequestContext, pid: int, rid: int | None = None) -> int:
    """The run ``rid`` (or the project's newest) once it has succeeded."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        runs = _ok(api.get(f"/api/v1/projects/{pid}/training-runs"))
        run = next((r for r in runs if rid is None or r["id"] == rid), None)
        if run is not None and run["status"] not in {"queued", "running"}:
            assert run["status"] == "succeeded", run
            return int(run["id"])
        assert time.monotonic() < deadline, f"no run of project {pid} ended: {runs}"
        time.sleep(0.5)


def build(api: APIRequestContext) -> World:
    require(FLOWERS12.is_dir(), f"The flowers12 dataset is missing: {FLOWERS12}")
    project = _ok(api.post("/api/v1/projects", data={"name": unique("Review queues")}))
    pid = int(project["id"])
    _ok(api.patch(f"/api/v1/projects/{pid}", data={"auto_train_every": 0}))
    photos: list[tuple[str, Path]] = [
        (f"{species}/{path.name}", path)
        for species in SPECIES
        for path in sorted((FLOWERS12 / "train" / species).glob("*.jpg"))[:PER_SPECIES]
    ]
    _upload(api, pid, "labeled.zip", _zip(photos), folders=True)
    _upload(api, pid, "odd.zip", odd_zip(ODD, 1), folders=False)
    categories = _ok(api.get(f"/api/v1/projects/{pid}/categories"))
    ids = {c["name"]: c["id"] for c in categories}
    keys = {c["name"]: c["shortcut"] for c in categories}
    for name, category_id in ids.items():
        _ok(api.patch(f"/api/v1/categories/{category_id}", data={"description": guideline(name)}))
    images = _ok(api.get(f"/api/v1/projects/{pid}/images?limit=500"))["items"]
    filenames = {int(i["id"]): str(i["filename"]) for i in images}
    daisies = sorted(i for i, f in filenames.items() if f.startswith("daisy/"))
    for image_id in daisies[:FLIPPED]:
        _ok(api.post(f"/api/v1/images/{image_id}/annotations", data={"category_id": ids["iris"]}))
    rid = int(_ok(api.post(f"/api/v1/projects/{pid}/training-runs", data={"mode": "linear"}))["id"])
    wait_for_run(api, pid, rid)
    return World(pid, ids, keys, filenames)


@dataclass
class Screen:
    """The labeling screen in one queue, and every item the server handed it."""

    page: Page
    served: list[Response]

    def image(self) -> Any:
        return self.page.get_by_role("figure", name="Image to label").get_by_role("img")

    def items(self) -> list[dict[str, Any]]:
        """The items served to this page (answers to the page left behind are gone)."""
        found = []
        for response in self.served:
            if response.status != 200:
                continue
            try:
                found.append(response.json())
            except PlaywrightError:
                continue  # an answer to the page that was navigated away from
        return found

    def shown(self, w: World) -> dict[str, Any]:
        """The queue item on screen (its filename is the image's alt text)."""
        alt = self.image().get_attribute("alt") or ""
        items = self.items()
        found: dict[str, Any] = next(
            i for i in reversed(items) if w.filenames[i["image_id"]] == alt
        )
        return found

    def next_one(self, w: World, after: int) -> dict[str, Any]:
        expect(self.image()).not_to_have_attribute("alt", w.filenames[after])
        return self.shown(w)


def open_queue(page: Page, w: World, mode: str) -> Screen:
    served: list[Response] = []
    page.on("response", lambda r: served.append(r) if "/queue/next?" in r.url else None)
    page.goto(f"/projects/{w.pid}/label?mode={mode}")
    expect(page.get_by_role("figure", name="Image to label").get_by_role("img")).to_be_visible()
    return Screen(page, served)


def stored(page: Page, image_id: int, count: int) -> dict[str, Any]:
    """The image's newest annotation once it has ``count`` of them (writes go out async)."""
    deadline = time.monotonic() + 15
    while True:
        history = _ok(page.request.get(f"/api/v1/images/{image_id}/annotations"))
        if len(history) >= count:
            newest: dict[str, Any] = history[-1]
            return newest
        assert time.monotonic() < deadline, f"image {image_id}: {history}"
        time.sleep(0.2)
