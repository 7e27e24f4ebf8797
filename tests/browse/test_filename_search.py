"""The gallery's filename search (``q=``): a case-insensitive part of the filename, kept
across pages and into the image page's previous / next; % and _ are plain characters."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.auth.models import User
from app.browse import gallery_view
from app.browse.gallery_query import GalleryQuery
from app.images.models import Image, ImageStatus
from app.projects.models import Project
from tests.conftest import ClientFor
from tests.images.test_pages import jpeg_part, new_project, tile_ids, upload

NAMES = ("Tulip_01.JPG", "tulip-02.jpg", "rose_100%.jpg", "rose_1a0.jpg", "daisy.jpg")


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def web(browser_as: ClientFor, admin: User) -> TestClient:
    return browser_as(admin)


@pytest.fixture
def gallery(api: TestClient) -> tuple[int, dict[str, int]]:
    pid = new_project(api)
    return pid, upload(api, pid, [jpeg_part(n, i) for i, n in enumerate(NAMES)])


def shown(web: TestClient, pid: int, **params: str) -> set[int]:
    resp = web.get(f"/projects/{pid}/images", params=params)
    assert resp.status_code == 200, resp.text
    return set(tile_ids(resp.text))


def test_the_search_matches_part_of_the_filename_in_any_case(
    web: TestClient, gallery: tuple[int, dict[str, int]]
) -> None:
    pid, ids = gallery
    assert shown(web, pid, q="TULIP") == {ids["Tulip_01.JPG"], ids["tulip-02.jpg"]}
    assert shown(web, pid, q="  aisy ") == {ids["daisy.jpg"]}
    assert shown(web, pid, q="no such file") == set()
    html = web.get(f"/projects/{pid}/images", params={"q": "tulip"}).text
    # The box keeps what was typed, and the filters' links keep the search.
    assert 'name="q" type="search" maxlength="100" value="tulip"' in html
    assert "Clear filters" in html


def test_percent_and_underscore_are_characters_not_wildcards(
    web: TestClient, gallery: tuple[int, dict[str, int]]
) -> None:
    pid, ids = gallery
    assert shown(web, pid, q="100%") == {ids["rose_100%.jpg"]}
    # Unescaped, "_1" would be "any character then 1" and "1%" anything after a 1.
    assert shown(web, pid, q="e_1") == {ids["rose_100%.jpg"], ids["rose_1a0.jpg"]}
    assert shown(web, pid, q="1_0") == set()
    assert shown(web, pid, q="%") == {ids["rose_100%.jpg"]}
    assert shown(web, pid, q="_") == {
        ids["Tulip_01.JPG"], ids["rose_100%.jpg"], ids["rose_1a0.jpg"]
    }  # fmt: skip
    assert shown(web, pid, q="\\") == set()


@pytest.mark.parametrize(
    ("q", "status"),
    [("x" * 101, 400), ("a\x00b", 400), ("tab\there", 400), ("'; DROP TABLE images; --", 200)],
)
def test_hostile_and_oversized_searches_get_a_clear_answer(
    web: TestClient, gallery: tuple[int, dict[str, int]], q: str, status: int
) -> None:
    pid, _ = gallery
    resp = web.get(f"/projects/{pid}/images", params={"q": q})
    assert resp.status_code == status, resp.text
    assert "text/html" in resp.headers["content-type"]
    if status == 400:
        assert "at most 100" in resp.text


def test_the_image_page_walks_the_searched_list(
    web: TestClient, gallery: tuple[int, dict[str, int]]
) -> None:
    _, ids = gallery
    query = GalleryQuery(q="rose", sort="filename")
    first = web.get(query.image_url(ids["rose_100%.jpg"])).text
    assert f'href="/images/{ids["rose_1a0.jpg"]}?' in first
    assert "1 of 2" in first
    assert f'href="/images/{ids["tulip-02.jpg"]}' not in first


def test_a_search_over_100000_images_answers_within_a_second(db: Session, api: TestClient) -> None:
    pid = new_project(api, "Big")
    project = db.get_one(Project, pid)
    rows = [
        {"project_id": pid, "filename": f"batch{i // 1000}/IMG_{i:06d}.jpg", "sha256": f"{i:064x}",
         "width": 8, "height": 8, "format": "jpeg", "size_bytes": 1, "phash": "0" * 16,
         "thumbnail_mime": "image/webp", "status": ImageStatus.unlabeled}
        for i in range(100_000)
    ]  # fmt: skip
    db.execute(insert(Image), rows)
    db.commit()
    started = time.perf_counter()
    view = gallery_view.gallery(db, project, GalleryQuery(q="img_0999"))
    elapsed = time.perf_counter() - started
    assert view.total == 100
    assert elapsed < 1.0, f"{elapsed:.2f} s"
