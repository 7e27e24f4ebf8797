"""The image pages through a logged-in browser client: gallery, image, duplicates, imports."""

from __future__ import annotations

import re
from datetime import timedelta
from html import escape

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Role, User
from app.browse import gallery_view
from app.config import Settings
from app.db import make_engine, make_sessionmaker, utcnow
from app.images import duplicates_view
from app.images.models import BatchStatus, Image, ImageStatus, ImportBatch, ImportIssue
from app.imports import jobs
from app.labeling import service as labeling
from app.labeling.models import AnnotationSource
from tests.conftest import ClientFor, UserFactory, csrf_from
from tests.images import corpus

Part = tuple[str, tuple[str, bytes, str]]


def jpeg_part(name: str, seed: int) -> Part:
    return ("files", (name, corpus.jpeg(seed=seed), "image/jpeg"))


def new_project(api: TestClient, name: str = "Glassware") -> int:
    resp = api.post("/api/v1/projects", json={"name": name})
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


def upload(api: TestClient, pid: int, parts: list[Part]) -> dict[str, int]:
    """Upload; returns {filename: image id} of what was imported."""
    resp = api.post(f"/api/v1/projects/{pid}/images", files=parts)
    assert resp.status_code == 200, resp.text
    return {i["filename"]: i["id"] for i in resp.json()["imported"]}


def add_category(api: TestClient, pid: int, name: str, parent: int | None = None) -> int:
    body: dict[str, object] = {"name": name, "parent_id": parent}
    resp = api.post(f"/api/v1/projects/{pid}/categories", json=body)
    assert resp.status_code == 201, resp.text
    return int(resp.json()["id"])


def label(db: Session, image_id: int, user: User, **decision: object) -> None:
    image = db.get_one(Image, image_id)
    labeling.annotate(db, image, user.id, **decision)  # type: ignore[arg-type]
    db.commit()


def tile_ids(html: str) -> list[int]:
    """The image ids of the gallery's tiles, in page order."""
    grid = html.split('aria-label="Images"', 1)
    if len(grid) == 1:
        return []
    return [int(i) for i in re.findall(r'<a class="thumb" href="/images/(\d+)[?"]', grid[1])]


def post_keep(client: TestClient, pid: int, group: int, image_id: int, token: str) -> object:
    return client.post(
        f"/projects/{pid}/duplicates/{group}/keep",
        data={"csrf_token": token, "image_id": str(image_id)},
    )


def near_duplicates(api: TestClient, pid: int) -> dict[str, int]:
    """An original, a resized copy and a re-encoded copy (one group), and one stranger."""
    picture = corpus.photo(seed=5)
    return upload(
        api,
        pid,
        [
            ("files", ("orig.jpg", corpus.encode(picture, "JPEG", quality=92), "image/jpeg")),
            ("files", ("small.jpg", corpus.encode(picture.resize((250, 188)), "JPEG"), "")),
            ("files", ("recoded.webp", corpus.encode(picture, "WEBP", quality=60), "")),
            jpeg_part("stranger.jpg", 41),
        ],
    )


@pytest.fixture
def api(api_as: ClientFor, admin: User) -> TestClient:
    return api_as(admin)


@pytest.fixture
def web(browser_as: ClientFor, admin: User) -> TestClient:
    return browser_as(admin)


def test_an_empty_gallery_says_how_to_add_images(api: TestClient, web: TestClient) -> None:
    pid = new_project(api)
    html = web.get(f"/projects/{pid}/images").text
    assert "No images yet: drop files on the" in html
    assert "curator import" in html


def test_the_gallery_shows_lazy_thumbnails_that_link_to_each_image(
    api: TestClient, web: TestClient
) -> None:
    pid = new_project(api)
    ids = upload(api, pid, [jpeg_part(f"img{i}.jpg", i) for i in range(3)])
    resp = web.get(f"/projects/{pid}/images")
    assert resp.status_code == 200
    html = resp.text
    assert tile_ids(html) == sorted(ids.values(), reverse=True)  # newest first
    one = ids["img1.jpg"]
    # 500x375 photos: thumbnails of at most 256 px, with their real size for the layout.
    assert (
        f'<img loading="lazy" decoding="async" src="/api/v1/images/{one}/thumbnail" '
        f'alt="img1.jpg" width="256" height="192">'
    ) in html
    assert "3 images" in html
    assert re.search(r"Unlabeled <span class=\"count\">3</span>", html)


def test_gallery_filters_by_status_category_subtree_import_and_group(
    api: TestClient, web: TestClient, db: Session, admin: User
) -> None:
    pid = new_project(api)
    first = upload(api, pid, [jpeg_part(f"a{i}.jpg", i) for i in range(4)])
    dups = near_duplicates(api, pid)
    glass = add_category(api, pid, "glass")
    wine = add_category(api, pid, "wine glass", glass)
    mug = add_category(api, pid, "mug")
    label(db, first["a0.jpg"], admin, category_id=glass)
    label(db, first["a1.jpg"], admin, category_id=wine)
    label(db, first["a2.jpg"], admin, category_id=mug)
    label(db, first["a3.jpg"], admin, rejected=True, reason="blurry")
    gallery = f"/projects/{pid}/images"

    def shown(**params: str) -> set[int]:
        resp = web.get(gallery, params=params)
        assert resp.status_code == 200, resp.text
        return set(tile_ids(resp.text))

    assert shown(status="labeled") == {first["a0.jpg"], first["a1.jpg"], first["a2.jpg"]}
    assert shown(status="rejected") == {first["a3.jpg"]}
    assert shown(status="unlabeled") == set(dups.values())
    assert shown(status="all") == set(first.values()) | set(dups.values())
    # A category takes its whole sub-tree.
    assert shown(category=str(glass)) == {first["a0.jpg"], first["a1.jpg"]}
    assert shown(category=str(wine)) == {first["a1.jpg"]}
    assert shown(category=str(glass), status="rejected") == set()
    # Batches: the first upload's import.
    batch = db.get_one(Image, first["a0.jpg"]).batch_id
    assert batch is not None
    assert shown(batch=str(batch)) == set(first.values())
    group = db.get_one(Image, dups["orig.jpg"]).dup_group_id
    near = {dups["orig.jpg"], dups["small.jpg"], dups["recoded.webp"]}
    assert shown(group=str(group)) == near
    assert shown(near="1") == near
    # Blank fields mean "any", as the GET form sends them.
    assert len(shown(status="all", category="", batch="", group="", near="")) == 8

    html = web.get(gallery, params={"category": str(wine)}).text
    # The form shows the state it was loaded with; the tree is indented.
    assert f'<option value="{wine}" selected>&nbsp;&nbsp;glass/wine glass</option>' in html
    assert f'<option value="{glass}">glass</option>' in html
    assert "1 image," in html
    # Each thumbnail wears its label: a colored mark with the path, or "rejected".
    labeled = web.get(gallery, params={"status": "labeled"}).text
    assert "labeled glass/wine glass" in labeled
    assert (
        'class="mark mark-rejected">rejected<'
        in web.get(gallery, params={"status": "rejected"}).text
    )


def test_pages_of_the_gallery_keep_their_filters_and_sort(
    api: TestClient, web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gallery_view, "PAGE_SIZE", 2)
    pid = new_project(api)
    ids = upload(api, pid, [jpeg_part(f"{n}.jpg", i) for i, n in enumerate("cebda")])
    by_name = [ids[f"{n}.jpg"] for n in "abcde"]
    gallery = f"/projects/{pid}/images"

    first = web.get(gallery, params={"sort": "filename", "status": "unlabeled"}).text
    assert tile_ids(first) == by_name[:2]
    assert "page 1 of 3" in first
    next_link = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert next_link is not None
    url = next_link.group(1).replace("&amp;", "&")
    assert url == f"{gallery}?status=unlabeled&sort=filename&page=2"
    second = web.get(url).text
    assert tile_ids(second) == by_name[2:4]
    prev_link = re.search(r'<a rel="prev" href="([^"]+)"', second)
    assert prev_link is not None
    assert prev_link.group(1).replace("&amp;", "&") == f"{gallery}?status=unlabeled&sort=filename"
    assert tile_ids(web.get(gallery, params={"sort": "filename", "page": "3"}).text) == by_name[4:]
    assert tile_ids(web.get(gallery, params={"sort": "oldest"}).text) == sorted(ids.values())[:2]
    assert tile_ids(web.get(gallery).text) == sorted(ids.values(), reverse=True)[:2]
    past = web.get(gallery, params={"page": "9"})
    assert past.status_code == 200
    assert "No images on this page" in past.text


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"status": "bogus"}, 400, "Status: &#39;bogus&#39; is not one of all, unlabeled"),
        ({"sort": "id; drop table"}, 400, "Sort:"),
        ({"category": "abc"}, 400, "Category: &#39;abc&#39; is not a valid id"),
        ({"category": "-3"}, 400, "Category:"),
        ({"batch": "99999999999"}, 400, "Import:"),
        ({"group": "1.5"}, 400, "Duplicate group:"),
        ({"page": "0"}, 400, "Page:"),
        ({"page": "x" * 500}, 400, ""),
        ({"category": "424242"}, 404, "No category"),
        ({"batch": "424242"}, 404, "No import #424242 in this project."),
    ],
)
def test_bad_gallery_filters_get_a_clear_error_page(
    api: TestClient, web: TestClient, params: dict[str, str], status: int, message: str
) -> None:
    pid = new_project(api)
    resp = web.get(f"/projects/{pid}/images", params=params)
    assert resp.status_code == status, resp.text
    assert "text/html" in resp.headers["content-type"]
    assert message in resp.text


def test_categories_and_imports_of_another_project_are_not_found(
    api: TestClient, web: TestClient
) -> None:
    mine, other = new_project(api, "Mine"), new_project(api, "Other")
    theirs = add_category(api, other, "theirs")
    upload(api, other, [jpeg_part("x.jpg", 1)])
    resp = web.get(f"/projects/{mine}/images", params={"category": str(theirs)})
    assert resp.status_code == 404
    batch = web.get(f"/projects/{other}/images").text
    batch_id = re.search(r'<option value="(\d+)">#\d+ x\.jpg</option>', batch)
    assert batch_id is not None
    resp = web.get(f"/projects/{mine}/images", params={"batch": batch_id.group(1)})
    assert resp.status_code == 404


def test_the_image_page_shows_the_image_its_metadata_and_its_history(
    api: TestClient, web: TestClient, db: Session, admin: User, make_user: UserFactory
) -> None:
    pid = new_project(api)
    ids = near_duplicates(api, pid)
    iid = ids["small.jpg"]
    glass = add_category(api, pid, "glass")
    wine = add_category(api, pid, "wine glass", glass)
    other = make_user(Role.manager, "otto")
    label(db, iid, admin, category_id=glass, source=AnnotationSource.imported)
    label(db, iid, other, category_id=wine)
    label(db, iid, other, rejected=True, reason="out of scope")
    label(db, iid, admin)
    label(db, iid, admin, rejected=True, reason="blurry")
    image = db.get_one(Image, iid)

    resp = web.get(f"/images/{iid}")
    assert resp.status_code == 200
    html = resp.text
    assert f'src="/api/v1/images/{iid}/display" alt="small.jpg" width="250" height="188"' in html
    assert f'href="/api/v1/images/{iid}/file"' in html
    size = "250\u00d7188 px"
    for text in ("JPEG", size, image.sha256, image.phash, f"({image.size_bytes} bytes)"):
        assert text in html
    assert f'href="/imports/{image.batch_id}"' in html
    assert f'href="/projects/{pid}/images?group={ids["orig.jpg"]}"' in html
    assert "rejected: blurry" in html.split("Label history")[0]  # the current label
    rows = re.findall(
        r"<tr>\s*<td><time[^>]*>[^<]+</time></td>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>"
        r"\s*<td>([^<]*)</td>",
        html,
    )
    assert rows == [
        ("root", "glass", "imported"),
        ("otto", "glass/wine glass", "manual"),
        ("otto", "rejected: out of scope", "manual"),
        ("root", "cleared", "manual"),
        ("root", "rejected: blurry", "manual"),
    ]
    fresh = web.get(f"/images/{ids['stranger.jpg']}").text
    assert "No labels yet" in fresh
    assert "unlabeled" in fresh


def test_images_of_other_projects_are_not_found(
    api: TestClient, browser_as: ClientFor, labeler: User
) -> None:
    pid = new_project(api)
    iid = upload(api, pid, [jpeg_part("x.jpg", 1)])["x.jpg"]
    outsider = browser_as(labeler)
    assert outsider.get(f"/images/{iid}").status_code == 404
    assert outsider.get(f"/projects/{pid}/images").status_code == 404
    assert outsider.get(f"/projects/{pid}/duplicates").status_code == 404
    assert outsider.get(f"/projects/{pid}/imports/_list").status_code == 404
    assert outsider.get("/images/999999").status_code == 404


def test_markup_in_filenames_and_category_names_is_shown_as_text(
    api: TestClient, web: TestClient, db: Session, admin: User
) -> None:
    pid = new_project(api)
    hostile = "<img src=x onerror=alert(1)>&amp;.jpg"
    iid = upload(api, pid, [("files", (hostile, corpus.jpeg(seed=3), "image/jpeg"))])[hostile]
    category = add_category(api, pid, "<script>alert(2)")
    label(db, iid, admin, category_id=category)
    escaped_name = "&lt;img src=x onerror=alert(1)&gt;&amp;amp;.jpg"
    for url in (f"/projects/{pid}/images", f"/images/{iid}", f"/projects/{pid}/imports"):
        html = web.get(url).text
        assert "<img src=x" not in html, url
        assert "<script>alert" not in html, url
    gallery = web.get(f"/projects/{pid}/images").text
    assert f'alt="{escaped_name}"' in gallery
    assert "&lt;script&gt;alert(2)" in gallery
    image = web.get(f"/images/{iid}").text
    assert f'<h1 class="filename">{escaped_name}</h1>' in image
    assert "&lt;script&gt;alert(2)" in image


def test_a_labeler_keeps_one_near_duplicate_and_the_others_are_rejected(
    api: TestClient, browser_as: ClientFor, labeler: User, db: Session
) -> None:
    pid = new_project(api)
    api.post(f"/api/v1/projects/{pid}/members", json={"username": "lena", "role": "labeler"})
    ids = near_duplicates(api, pid)
    group = ids["orig.jpg"]
    web = browser_as(labeler)
    view = web.get(f"/projects/{pid}/duplicates").text
    assert f"Group {group}" in view
    assert view.count("Keep this one") == 3
    assert "stranger.jpg" not in view
    assert f'href="/projects/{pid}/images?group={group}"' in view

    token = csrf_from(web, f"/projects/{pid}/duplicates")
    resp = post_keep(web, pid, group, ids["small.jpg"], token)
    assert resp.status_code == 303  # type: ignore[attr-defined]
    assert resp.headers["location"] == f"/projects/{pid}/duplicates#group-{group}"  # type: ignore[attr-defined]
    after = web.get(f"/projects/{pid}/duplicates").text
    assert f"Kept image {ids['small.jpg']}; rejected 2 near duplicates." in after
    statuses = {r[0]: r[1] for r in db.execute(select(Image.filename, Image.status))}
    assert statuses == {
        "orig.jpg": ImageStatus.rejected,
        "small.jpg": ImageStatus.unlabeled,
        "recoded.webp": ImageStatus.rejected,
        "stranger.jpg": ImageStatus.unlabeled,
    }
    history = web.get(f"/images/{ids['orig.jpg']}").text
    assert f"rejected: duplicate of image {ids['small.jpg']}" in history
    assert "duplicates</td>" in history


def test_keep_refuses_outsiders_forged_forms_and_mismatched_groups(
    api: TestClient,
    browser_as: ClientFor,
    make_user: UserFactory,
    web: TestClient,
    db: Session,
) -> None:
    pid = new_project(api)
    ids = near_duplicates(api, pid)
    group = ids["orig.jpg"]
    outsider = browser_as(make_user(Role.labeler, "olga"))
    token = csrf_from(outsider, "/projects")
    assert post_keep(outsider, pid, group, ids["small.jpg"], token).status_code == 404  # type: ignore[attr-defined]
    assert post_keep(web, pid, group, ids["small.jpg"], "forged").status_code == 403  # type: ignore[attr-defined]
    token = csrf_from(web, "/projects")
    stranger = post_keep(web, pid, group, ids["stranger.jpg"], token)
    assert stranger.status_code == 404  # type: ignore[attr-defined]
    assert "is not in duplicate group" in stranger.text  # type: ignore[attr-defined]
    assert post_keep(web, pid, group + 1000, ids["small.jpg"], token).status_code == 404  # type: ignore[attr-defined]
    other = new_project(api, "Other")
    assert post_keep(web, other, group, ids["small.jpg"], token).status_code == 404  # type: ignore[attr-defined]
    bad = web.post(
        f"/projects/{pid}/duplicates/{group}/keep", data={"csrf_token": token, "image_id": "x"}
    )
    assert bad.status_code == 400
    assert db.scalars(select(Image.status).distinct()).all() == [ImageStatus.unlabeled]


def test_the_duplicates_view_pages_and_says_when_there_are_none(
    api: TestClient, web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = new_project(api)
    assert "No near duplicates found" in web.get(f"/projects/{pid}/duplicates").text
    near_duplicates(api, pid)
    monkeypatch.setattr(duplicates_view, "GROUPS_PER_PAGE", 1)
    base = corpus.photo(seed=9)
    upload(
        api,
        pid,
        [
            ("files", ("b.jpg", corpus.encode(base, "JPEG"), "image/jpeg")),
            ("files", ("b-small.png", corpus.encode(base.resize((200, 150)), "PNG"), "")),
        ],
    )
    first = web.get(f"/projects/{pid}/duplicates").text
    assert "2 groups · page 1 of 2" in first
    assert "orig.jpg" in first
    assert "b.jpg" not in first
    second = web.get(f"/projects/{pid}/duplicates", params={"page": "2"}).text
    assert "b-small.png" in second
    assert "orig.jpg" not in second
    assert web.get(f"/projects/{pid}/duplicates", params={"page": "a"}).status_code == 400


def test_the_imports_list_polls_only_while_an_import_is_active(
    api: TestClient, web: TestClient, db: Session, admin: User, settings: Settings
) -> None:
    pid = new_project(api)
    assert "No imports yet." in web.get(f"/projects/{pid}/imports/_list").text
    upload(api, pid, [jpeg_part("a.jpg", 1), ("files", ("bad.jpg", b"hello", "image/jpeg"))])
    done = web.get(f"/projects/{pid}/imports/_list").text
    assert "every 1s" not in done
    assert "a.jpg and 1 more" in done
    assert "succeeded" in done
    assert re.search(r"<td>1</td>\s*<td>0</td>\s*<td>1</td>", done)  # imported, dups, errors

    queued = ImportBatch(project_id=pid, source="job", name="big.zip", status=BatchStatus.queued)
    stale = ImportBatch(
        project_id=pid,
        source="job",
        name="orphan.zip",
        status=BatchStatus.running,
        total=10,
        processed=4,
        heartbeat_at=utcnow() - timedelta(hours=1),
    )
    db.add_all([queued, stale])
    db.commit()
    active = web.get(f"/projects/{pid}/imports/_list").text
    assert 'hx-trigger="imports-changed from:body, every 1s"' in active
    assert "big.zip" in active
    # A job whose worker stopped sending heartbeats is reaped by the workers' timer (not
    # by this page view), not "running" forever.
    db.refresh(stale)
    assert stale.status is BatchStatus.running
    assert jobs.reap(make_sessionmaker(make_engine(settings.resolved_database_url)), settings) == 1
    db.refresh(stale)
    assert stale.status is BatchStatus.failed
    queued.status = BatchStatus.succeeded
    db.commit()
    assert "every 1s" not in web.get(f"/projects/{pid}/imports/_list").text
    full = web.get(f"/projects/{pid}/imports").text
    assert "orphan.zip" in full
    assert "failed" in full


def test_an_import_page_lists_its_duplicates_and_errors(
    api: TestClient, web: TestClient, db: Session
) -> None:
    pid = new_project(api)
    ids = upload(api, pid, [jpeg_part("a.jpg", 1)])
    upload(
        api,
        pid,
        [
            ("files", ("again.jpg", corpus.jpeg(seed=1), "image/jpeg")),
            ("files", ("notes.jpg", b"just some text", "image/jpeg")),
            jpeg_part("new.jpg", 2),
        ],
    )
    batch = db.scalars(select(ImportBatch).where(ImportBatch.name.startswith("again"))).one()
    html = web.get(f"/imports/{batch.id}").text
    assert "succeeded" in html
    assert f'again.jpg</span>: duplicate of <a href="/images/{ids["a.jpg"]}">' in html
    error = db.scalars(select(ImportIssue.error).where(ImportIssue.filename == "notes.jpg")).one()
    assert error
    assert "notes.jpg</span>: " + escape(error).replace("&#x27;", "&#39;") in html
    assert f'href="/projects/{pid}/images?batch={batch.id}"' in html
    assert "every 1s" not in html
    assert web.get("/imports/424242").status_code == 404


def test_the_project_page_offers_upload_and_export_to_managers_only(
    api: TestClient, web: TestClient, browser_as: ClientFor, labeler: User
) -> None:
    pid = new_project(api)
    api.post(f"/api/v1/projects/{pid}/members", json={"username": "lena", "role": "labeler"})
    html = web.get(f"/projects/{pid}").text
    assert "Drop images or .zip files here, or" in html
    assert '<input id="upload-files" class="visually-hidden" type="file" multiple' in html
    assert f'data-upload-url="/api/v1/projects/{pid}/images"' in html
    assert "Label by folder names (ImageFolder zips)" in html
    assert '<script src="/static/js/upload.js" defer></script>' in html
    assert f'hx-get="/projects/{pid}/imports/_list"' in html
    assert f'href="/projects/{pid}/images">Gallery</a>' in html
    assert f'href="/projects/{pid}/duplicates">Duplicates</a>' in html

    member = browser_as(labeler).get(f"/projects/{pid}").text
    assert "Drop images" not in member
    assert 'type="file"' not in member
    # The export hands over the whole dataset: a labeler is not offered it.
    assert "/export" not in member
    assert ">Export<" not in member
    assert f'href="/projects/{pid}/images">Gallery</a>' in member
    export = html.split('action="/api/v1/projects/', 1)[1].split("</form>", 1)[0]
    assert export.startswith(f'{pid}/export"')
    assert 'method="get"' in html.split(f'action="/api/v1/projects/{pid}/export"')[0][-80:]
    for field in (
        '<option value="imagefolder">',
        '<option value="csv">',
        '<option value="coco">',
        'name="level" type="number" min="1"',
        'name="split" type="checkbox" value="true"',
        'name="ratios" value="0.8,0.1,0.1"',
        'name="seed" type="number" value="0"',
        'name="images" type="checkbox" value="true" checked',
        "Include image files (CSV, COCO)",
        '<button type="submit" class="primary">Export</button>',
    ):
        assert field in export, field


def test_an_archived_project_shows_no_drop_zone_and_refuses_keep(
    api: TestClient, web: TestClient
) -> None:
    pid = new_project(api)
    ids = near_duplicates(api, pid)
    api.patch(f"/api/v1/projects/{pid}", json={"archived": True})
    assert "Drop images" not in web.get(f"/projects/{pid}").text
    view = web.get(f"/projects/{pid}/duplicates").text
    assert "Keep this one" not in view
    token = csrf_from(web, "/projects")
    resp = post_keep(web, pid, ids["orig.jpg"], ids["small.jpg"], token)
    assert resp.status_code == 409  # type: ignore[attr-defined]


def test_the_image_links_partial_counts_images_and_groups(api: TestClient, web: TestClient) -> None:
    pid = new_project(api)
    near_duplicates(api, pid)
    html = web.get(f"/projects/{pid}/images/_links").text
    assert re.search(r'Gallery <span class="count">4<', html)
    assert re.search(r'Duplicates <span class="count">1<', html)


def test_a_tiff_is_shown_through_its_png_rendition(api: TestClient, web: TestClient) -> None:
    pid = new_project(api)
    tiff = corpus.encode(corpus.photo(120, 80, seed=7), "TIFF")
    iid = upload(api, pid, [("files", ("scan.tiff", tiff, "image/tiff"))])["scan.tiff"]
    html = web.get(f"/images/{iid}").text
    assert f'src="/api/v1/images/{iid}/display" alt="scan.tiff"' in html
    assert "TIFF: shown here as a PNG copy" in html
    shown = web.get(f"/api/v1/images/{iid}/display")  # the page's own cookie is enough
    assert shown.status_code == 200
    assert shown.headers["content-type"] == "image/png"
