"""Issue 14: after a zip becomes a background import, the upload panel follows it to the
end and the project's counts (the Gallery badge) catch up, with no reload. In the trial
the panel still said "queued as import #2" 55 s after the import had finished."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from PIL import Image as PILImage
from playwright.sync_api import Page, expect

from tests.e2e.flows import create_project, log_in, unique
from tests.e2e.test_images import drop, summary
from tests.images import corpus

pytestmark = pytest.mark.e2e

FILES = 205  # more than CURATOR_SYNC_IMPORT_MAX_FILES (200): a background import


def test_the_upload_panel_follows_a_background_import_and_the_counts_catch_up(
    page: Page,
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(FILES):
            swatch = PILImage.new("RGB", (20, 14), (i % 256, (i * 5) % 256, (i * 11) % 256))
            archive.writestr(f"lot/{i:03}.png", corpus.encode(swatch, "PNG"))
    log_in(page)
    create_project(page, unique("Follow"))
    drop(page, [("lot.zip", buffer.getvalue())])
    page.evaluate("window.notReloaded = true")  # a reload would drop it

    done = summary(page)
    expect(done).to_contain_text("1 background import.")
    jobs = done.get_by_role("list", name="Background imports")
    job = jobs.get_by_role("link", name=re.compile(r"^import #\d+$"))
    number = (job.text_content() or "").removeprefix("import #")
    gallery = page.get_by_role("navigation", name="Project").get_by_role(
        "link", name=re.compile("^Gallery")
    )
    expect(gallery).to_contain_text("0")  # before the worker has taken it

    # The panel says when it is done, with the outcome, on its own.
    expect(jobs).to_contain_text(
        f"import #{number} done: {FILES} imported, 0 duplicates, 0 errors", timeout=120_000
    )
    row = page.get_by_role("listitem").filter(has_text="lot.zip").first
    expect(row).to_contain_text(f"import #{number} done")
    expect(row).not_to_contain_text("queued")
    # The Gallery badge catches up without a reload.
    expect(gallery).to_contain_text(str(FILES))
    assert page.evaluate("window.notReloaded === true")
