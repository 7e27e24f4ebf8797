"""Images through the browser: drag and drop onto the project page, the gallery's filters,
and keeping one of a group of near duplicates."""

from __future__ import annotations

import base64
import io
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Literal

import pytest
from PIL import Image as PILImage
from playwright.sync_api import Browser, Dialog, Locator, Page, expect

from tests.e2e.flows import create_project, log_in, open_tab, unique
from tests.e2e.test_layout import VIEWPORTS, check_and_shoot
from tests.images import corpus

pytestmark = pytest.mark.e2e

NOT_AN_IMAGE = "not an image, or in a format Curator cannot read"

# Files made in the page from bytes, then dropped as a real drop event carries them.
DROP_JS = """
(files) => {
  const transfer = new DataTransfer();
  for (const f of files) {
    const bytes = Uint8Array.from(atob(f.data), (c) => c.charCodeAt(0));
    transfer.items.add(new File([bytes], f.name, { type: f.type }));
  }
  return transfer;
}
"""


def drop(page: Page, files: list[tuple[str, bytes]]) -> None:
    open_tab(page, "Add images")  # the drop zone's section of the project page
    payload = [
        {"name": name, "data": base64.b64encode(data).decode(), "type": ""} for name, data in files
    ]
    transfer = page.evaluate_handle(DROP_JS, payload)
    zone = page.get_by_role("group", name="Drop zone")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    zone.dispatch_event("drop", {"dataTransfer": transfer})


def summary(page: Page) -> Locator:
    return page.get_by_role("status").filter(has=page.get_by_role("heading", name="Upload summary"))


def image_folder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("animal/cat/c1.jpg", corpus.jpeg(seed=21))
        archive.writestr("animal/dog/d1.jpg", corpus.jpeg(seed=22))
        archive.writestr("plant/p1.jpg", corpus.jpeg(seed=23))
    return buffer.getvalue()


def open_from_project_nav(page: Page, name: str) -> None:
    nav = page.get_by_role("navigation", name="Project")
    nav.get_by_role("link", name=re.compile(f"^{name}")).click()


def gallery_tiles(page: Page) -> Locator:
    return page.get_by_role("list", name="Images").get_by_role("listitem")


def apply_filters(page: Page, **choices: str) -> None:
    """On the gallery: pick each filter by its visible option, then apply."""
    form = page.get_by_role("form", name="Filters")
    for label, option in choices.items():
        form.get_by_role("combobox", name=label).select_option(label=option)
    form.get_by_role("button", name="Apply filters").click()


def test_drop_images_and_a_bad_file_then_filter_the_gallery(page: Page) -> None:
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    project = unique("Dropped")
    hostile = "<img src=x onerror=alert(1)>.jpg"
    log_in(page)
    create_project(page, project)
    open_tab(page, "Add images")
    expect(page.get_by_text("Drop images or .zip files here, or")).to_be_visible()
    expect(page.get_by_label("choose files")).to_be_attached()

    drop(
        page,
        [
            ("a.jpg", corpus.jpeg(seed=11)),
            ("b.jpg", corpus.jpeg(seed=12)),
            (hostile, corpus.jpeg(seed=13)),
            ("notes.jpg", b"this is a text file, not a photo"),
        ],
    )
    done = summary(page)
    expect(done).to_contain_text("3 imported, 0 duplicates, 1 error.")
    imported = done.get_by_role("list", name="Imported")
    expect(imported.get_by_role("link")).to_have_count(3)  # in the order they finished
    for name in ("a.jpg", "b.jpg", hostile):
        expect(imported.get_by_role("link", name=name, exact=True)).to_be_visible()
    errors = done.get_by_role("list", name="Errors")
    expect(errors.get_by_role("listitem")).to_have_text([f"notes.jpg: {NOT_AN_IMAGE}"])
    uploads = page.get_by_role("list", name="Uploads")
    expect(uploads.get_by_role("progressbar")).to_have_count(4)
    expect(uploads.get_by_role("listitem").filter(has_text="notes.jpg")).to_contain_text(
        f"error: {NOT_AN_IMAGE}"
    )
    # Each file was its own import; the list (htmx) picked them up.
    recent = page.get_by_role("region", name="Recent imports")
    expect(recent.get_by_role("row")).to_have_count(5)
    expect(recent.get_by_role("row").filter(has_text="notes.jpg")).to_contain_text("succeeded")

    # Again, the same file is a duplicate with a link to its original.
    drop(page, [("a-again.jpg", corpus.jpeg(seed=11))])
    expect(done).to_contain_text("0 imported, 1 duplicate, 0 errors.")
    original = done.get_by_role("list", name="Duplicates").get_by_role("link")
    expect(original).to_have_attribute("href", re.compile(r"^/images/\d+$"))

    # An ImageFolder zip, labeled by its folders.
    page.get_by_label("Label by folder names (ImageFolder zips)").check()
    drop(page, [("folders.zip", image_folder_zip())])
    expect(done).to_contain_text("3 imported, 0 duplicates, 0 errors.")
    expect(done.get_by_role("list", name="Imported").get_by_role("link")).to_have_text(
        ["animal/cat/c1.jpg", "animal/dog/d1.jpg", "plant/p1.jpg"]
    )

    open_from_project_nav(page, "Gallery")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Gallery of {project}")
    expect(gallery_tiles(page)).to_have_count(6)
    expect(page.get_by_role("img", name=hostile, exact=True)).to_be_visible()

    apply_filters(page, Status="Unlabeled")
    expect(page).to_have_url(re.compile(r"status=unlabeled"))
    expect(gallery_tiles(page)).to_have_count(3)
    for name in ("a.jpg", "b.jpg", hostile):
        expect(page.get_by_role("img", name=name, exact=True)).to_be_visible()

    # A category takes its sub-tree; the options are the tree, indented.
    apply_filters(page, Status="All", Category="animal")
    expect(gallery_tiles(page)).to_have_count(2)
    expect(page.get_by_role("img", name="animal/cat/c1.jpg")).to_be_visible()
    expect(page.get_by_role("img", name="animal/dog/d1.jpg")).to_be_visible()
    apply_filters(page, Category="\u00a0\u00a0animal/cat")
    expect(gallery_tiles(page)).to_have_count(1)
    # The URL holds the state: a reload shows the same page and the same form.
    page.reload()
    expect(gallery_tiles(page)).to_have_count(1)
    category = page.get_by_role("combobox", name="Category")
    expect(category.locator("option:checked")).to_have_text("\u00a0\u00a0animal/cat")

    # The image page: the picture, its label and where that label came from.
    page.get_by_role("link", name="animal/cat/c1.jpg").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("animal/cat/c1.jpg")
    expect(page.get_by_role("img", name="animal/cat/c1.jpg")).to_be_visible()
    history = page.get_by_role("region", name="Label history", exact=True)
    expect(history.get_by_role("row").nth(1)).to_contain_text("animal/cat")
    expect(history.get_by_role("row").nth(1)).to_contain_text("imported")
    assert dialogs == []


def test_keep_one_of_a_group_of_near_duplicates(page: Page) -> None:
    project = unique("Near")
    picture = corpus.photo(seed=31)
    log_in(page)
    create_project(page, project)
    drop(
        page,
        [
            ("orig.jpg", corpus.encode(picture, "JPEG", quality=92)),
            ("small.jpg", corpus.encode(picture.resize((250, 188)), "JPEG", quality=70)),
            ("other.jpg", corpus.jpeg(seed=32)),
        ],
    )
    expect(summary(page)).to_contain_text("3 imported")
    nav = page.get_by_role("navigation", name="Project")
    expect(nav.get_by_role("link", name=re.compile("^Duplicates"))).to_contain_text("1")

    open_from_project_nav(page, "Duplicates")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Near duplicates in {project}")
    groups = page.get_by_role("region", name=re.compile(r"^Group \d+"))
    expect(groups).to_have_count(1)
    group = groups.first
    expect(group.get_by_role("img")).to_have_count(2)
    expect(page.get_by_role("img", name="other.jpg")).to_have_count(0)

    group.get_by_role("button", name="Keep this one for small.jpg").click()
    expect(page.get_by_role("status").first).to_contain_text(
        re.compile(r"Kept image \d+; rejected 1 near duplicates\.")
    )
    tiles = page.get_by_role("list", name=re.compile(r"^Images in group")).get_by_role("listitem")
    expect(tiles.filter(has_text="orig.jpg")).to_contain_text("rejected")
    expect(tiles.filter(has_text="small.jpg")).to_contain_text("unlabeled")

    # The gallery agrees: one rejected image, with its mark.
    page.goto(page.url.split("/duplicates")[0] + "/images?status=rejected")
    expect(gallery_tiles(page)).to_have_count(1)
    expect(page.get_by_role("img", name="orig.jpg")).to_be_visible()
    expect(gallery_tiles(page).first).to_contain_text("rejected")


def test_a_large_zip_becomes_a_background_import_that_the_list_follows(page: Page) -> None:
    # More files than CURATOR_SYNC_IMPORT_MAX_FILES (200): queued for the worker.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(205):
            color = (i % 256, (i * 7) % 256, (i * 13) % 256)
            swatch = PILImage.new("RGB", (24, 16), color)
            archive.writestr(f"many/{i:03}.png", corpus.encode(swatch, "PNG"))
    log_in(page)
    create_project(page, unique("Big"))
    drop(page, [("big.zip", buffer.getvalue())])
    done = summary(page)
    expect(done).to_contain_text("0 imported, 0 duplicates, 0 errors, 1 background import.")
    job = done.get_by_role("list", name="Background imports").get_by_role("link")
    expect(job).to_have_text(re.compile(r"^import #\d+$"))
    number = (job.text_content() or "").removeprefix("import #")
    # The list polls while the job runs, and stops with its outcome.
    row = (
        page.get_by_role("region", name="Recent imports")
        .get_by_role("row")
        .filter(has=page.get_by_role("link", name=f"#{number} big.zip"))
    )
    expect(row).to_contain_text("succeeded", timeout=90_000)
    expect(row).to_contain_text("205/205")
    job.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Import #{number}: big.zip")
    expect(page.get_by_text("No errors.")).to_be_visible()


@pytest.fixture(scope="module")
def filled_project(browser: Browser, base_url: str) -> str:
    """A project with labeled, rejected and near-duplicate images; returns its page's path."""
    context = browser.new_context(base_url=base_url)
    try:
        page = context.new_page()
        log_in(page)
        create_project(page, unique("Layout"))
        picture = corpus.photo(seed=41)
        drop(
            page,
            [
                ("orig.jpg", corpus.encode(picture, "JPEG", quality=92)),
                ("a-rather-long-file-name-without-any-spaces-at-all-0123456789.jpg",
                 corpus.encode(picture.resize((250, 188)), "JPEG")),
                ("tall.png", corpus.encode(corpus.photo(120, 400, seed=42), "PNG")),
                ("notes.jpg", b"text"),
            ],
        )  # fmt: skip
        expect(summary(page)).to_contain_text("3 imported")
        page.get_by_label("Label by folder names (ImageFolder zips)").check()
        drop(page, [("folders.zip", image_folder_zip())])
        expect(summary(page)).to_contain_text("3 imported")
        path = page.url.removeprefix(base_url).split("?")[0]  # without the ?tab= of its section
        # One rejected image, through the duplicates view.
        page.goto(f"{path}/duplicates")
        page.get_by_role("button", name="Keep this one for orig.jpg").click()
        expect(page.get_by_role("status").first).to_contain_text("rejected 1 near duplicates")
        return path
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_image_screens_fit_and_are_readable(
    browser: Browser, base_url: str, filled_project: str, scheme: Literal["light", "dark"],
    viewport: str,
) -> None:  # fmt: skip
    shots = Path(os.environ.get("CURATOR_E2E_SHOTS", Path(tempfile.gettempdir()) / "e2e-shots"))
    shots.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        base_url=base_url, color_scheme=scheme, viewport=VIEWPORTS[viewport]
    )
    try:
        page = context.new_page()
        log_in(page)
        tag = f"{viewport}-{scheme}"
        page.goto(f"{filled_project}?tab=images")  # the imports' section of the project page
        expect(page.get_by_role("region", name="Recent imports")).to_be_visible()
        check_and_shoot(page, shots, f"project-images-{tag}")
        page.goto(f"{filled_project}/images")
        expect(gallery_tiles(page)).to_have_count(6)
        check_and_shoot(page, shots, f"gallery-{tag}")
        page.get_by_role("link", name="animal/cat/c1.jpg").click()
        expect(page.get_by_role("region", name="Label history", exact=True)).to_be_visible()
        check_and_shoot(page, shots, f"image-{tag}")
        page.goto(f"{filled_project}/duplicates")
        expect(page.get_by_role("button", name=re.compile("^Keep this one"))).to_have_count(2)
        check_and_shoot(page, shots, f"duplicates-{tag}")
        page.goto(f"{filled_project}/imports")
        page.get_by_role("link", name=re.compile("notes.jpg")).click()
        expect(page.get_by_role("list", name="Files with errors")).to_contain_text("notes.jpg")
        check_and_shoot(page, shots, f"import-{tag}")
    finally:
        context.close()
