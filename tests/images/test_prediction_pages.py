"""The newest model on the image pages: tile marks and hover text, the gallery's prediction
filters, the grid, and the image page's top classes and previous / next in its list.

Runs and predictions are written as a worker leaves them (tests/training/prediction_rows).
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.models import User
from app.browse import gallery_view
from tests.conftest import ClientFor, UserFactory
from tests.labeling.helpers import join, label
from tests.training.prediction_rows import Forest, forest, one_hot, reject, write_run


def _tiles(html: str) -> list[tuple[int, str]]:
    """(image id, the whole tile's markup) of the gallery's tiles, in page order."""
    grid = html.split('aria-label="Images"', 1)
    if len(grid) == 1:
        return []
    found = re.findall(r'<li class="tile[^"]*">(.*?)</li>', grid[1], re.S)
    return [(int(re.search(r"/images/(\d+)", t).group(1)), t) for t in found]  # type: ignore[union-attr]


def _ids(html: str) -> list[int]:
    return [i for i, _ in _tiles(html)]


def _title(tile: str) -> str | None:
    found = re.search(r'<a class="thumb"[^>]* title="([^"]*)"', tile)
    return unescape(found.group(1)) if found else None


def _arrange(api: TestClient, db: Session) -> tuple[Forest, int]:
    """8 images: daisy, rose, oak, flower, rejected, 3 unlabeled; a species-level run in
    which the rose (predicted daisy) and the oak (predicted rose) disagree."""
    f = forest(api, images=8)
    for image_id, name in zip(f.ids, ("daisy", "rose", "oak", "flower"), strict=False):
        label(api, image_id, f[name])
    reject(api, f.ids[4])
    classes = [(f["daisy"], "flower/daisy"), (f["rose"], "flower/rose"), (f["oak"], "tree/oak")]
    plan = [(0, 0.875), (0, 0.625), (1, 0.75), (1, 0.5), (2, 0.875), (2, 0.5), (0, 0.375),
            (1, 0.9375)]  # fmt: skip
    predicted = {i: one_hot(c, 3, p) for i, (c, p) in zip(f.ids, plan, strict=True)}
    return f, write_run(db, f.pid, classes, predicted, level=2)


@pytest.fixture
def api(api_as: ClientFor, manager: User) -> TestClient:
    return api_as(manager)


@pytest.fixture
def web(browser_as: ClientFor, manager: User) -> TestClient:
    return browser_as(manager)


def test_tiles_show_the_prediction_on_hover_and_mark_disagreements(
    api: TestClient, web: TestClient, db: Session
) -> None:
    f, _ = _arrange(api, db)
    tiles = dict(_tiles(web.get(f"/projects/{f.pid}/images").text))
    assert _title(tiles[f.ids[0]]) == "Model: flower/daisy, 88% confident"
    assert _title(tiles[f.ids[1]]) == (
        "Model: flower/daisy, 62% confident; it disagrees with the label"
    )
    marked = {i for i, t in tiles.items() if "data-disagrees" in t}
    assert marked == {f.ids[1], f.ids[2]}  # not the refined flower, nor unlabeled or rejected
    assert "the model disagrees: it predicts flower/rose (75%)" in tiles[f.ids[2]]
    assert _title(tiles[f.ids[5]]) == "Model: tree/oak, 50% confident"


def test_without_a_model_tiles_are_plain_and_the_model_filters_are_disabled(
    api: TestClient, web: TestClient
) -> None:
    f = forest(api, images=2)
    html = web.get(f"/projects/{f.pid}/images").text
    assert all(_title(t) is None and "data-disagrees" not in t for _, t in _tiles(html))
    assert '<fieldset class="model-filters" disabled' in html
    assert "No model yet" in html
    filtered = web.get(f"/projects/{f.pid}/images", params={"disagrees": "1"})
    assert filtered.status_code == 200
    assert _ids(filtered.text) == []
    assert "No model has been trained yet" in filtered.text


def test_gallery_filters_by_prediction_confidence_and_disagreement(
    api: TestClient, web: TestClient, db: Session
) -> None:
    f, _ = _arrange(api, db)
    gallery = f"/projects/{f.pid}/images"

    def shown(**params: str) -> list[int]:
        resp = web.get(gallery, params={"sort": "oldest", **params})
        assert resp.status_code == 200, resp.text
        return _ids(resp.text)

    assert shown(predicted=str(f["flower"])) == [f.ids[n] for n in (0, 1, 2, 3, 6, 7)]
    assert shown(predicted=str(f["oak"])) == [f.ids[4], f.ids[5]]
    assert shown(min_conf="75") == [f.ids[n] for n in (0, 2, 4, 7)]
    assert shown(max_conf="50") == [f.ids[n] for n in (3, 5, 6)]
    assert shown(min_conf="50", max_conf="75") == [f.ids[n] for n in (1, 2, 3, 5)]
    assert shown(disagrees="1") == [f.ids[1], f.ids[2]]
    # With the other filters: labeled images predicted as roses, or disagreeing ones.
    assert shown(predicted=str(f["rose"]), status="labeled") == [f.ids[2], f.ids[3]]
    assert shown(disagrees="1", category=str(f["tree"])) == [f.ids[2]]
    # Blank fields mean "any", as the form sends them.
    assert len(shown(predicted="", min_conf="", max_conf="", disagrees="")) == 8
    # The form shows what it was loaded with.
    html = web.get(gallery, params={"predicted": f["rose"], "min_conf": "50",
                                    "disagrees": "1"}).text  # fmt: skip
    assert re.search(rf'<option value="{f["rose"]}" selected>[^<]*flower/rose</option>', html)
    assert re.search(r'name="min_conf" type="number"[^>]* value="50"', html)
    assert 'name="disagrees" type="checkbox" value="1" checked' in html
    assert "Clear filters" in html


def test_prediction_filters_survive_paging_and_reach_the_image_page(
    api: TestClient, web: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gallery_view, "PAGE_SIZE", 2)
    f, _ = _arrange(api, db)
    first = web.get(f"/projects/{f.pid}/images", params={"predicted": f["flower"],
                                                         "min_conf": "50"}).text  # fmt: skip
    assert _ids(first) == [f.ids[7], f.ids[3]]  # newest first of 0, 1, 2, 3 and 7
    link = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert link is not None
    url = unescape(link.group(1))
    assert parse_qs(urlsplit(url).query) == {
        "predicted": [str(f["flower"])], "min_conf": ["50"], "page": ["2"]
    }  # fmt: skip
    assert _ids(web.get(url).text) == [f.ids[2], f.ids[1]]
    # A tile opens its image with the list it came from (the page left out).
    href = unescape(re.findall(r'<a class="thumb" href="([^"]+)"', first)[0])
    assert urlsplit(href).path == f"/images/{f.ids[7]}"
    listed = parse_qs(urlsplit(href).query)["list"][0]
    assert parse_qs(listed) == {"predicted": [str(f["flower"])], "min_conf": ["50"]}
    # The unfiltered gallery links plainly.
    plain = web.get(f"/projects/{f.pid}/images").text
    assert f'<a class="thumb" href="/images/{f.ids[-1]}" title=' in plain


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        ({"min_conf": "150"}, 400, "Confidence from: &#39;150&#39; is not a percentage"),
        ({"max_conf": "-5"}, 400, "Confidence to:"),
        ({"min_conf": "0.5"}, 400, "Confidence from:"),
        ({"min_conf": "abc"}, 400, "Confidence from:"),
        ({"min_conf": "80", "max_conf": "20"}, 400, "from 80% is above to 20%"),
        ({"predicted": "x"}, 400, "Predicted as:"),
        ({"predicted": "99999999999"}, 400, "Predicted as:"),
        ({"predicted": "424242"}, 404, "No category"),
        ({"min_conf": "9" * 500}, 400, ""),
    ],
)
def test_bad_prediction_filters_get_a_clear_error_page(
    api: TestClient, web: TestClient, db: Session, params: dict[str, str], status: int,
    message: str,
) -> None:  # fmt: skip
    f, _ = _arrange(api, db)
    resp = web.get(f"/projects/{f.pid}/images", params=params)
    assert resp.status_code == status, resp.text
    assert "text/html" in resp.headers["content-type"]
    assert message in resp.text


def test_a_category_of_another_project_is_no_prediction_filter(
    api: TestClient, web: TestClient, db: Session
) -> None:
    f, _ = _arrange(api, db)
    other = forest(api, images=1, name="Other")
    resp = web.get(f"/projects/{f.pid}/images", params={"predicted": other["oak"]})
    assert resp.status_code == 404


def test_the_grid_shows_the_same_marks_and_hover_text(
    api: TestClient, web: TestClient, db: Session
) -> None:
    f, _ = _arrange(api, db)
    html = web.get(f"/projects/{f.pid}/grid", params={"status": "labeled"}).text
    tiles = re.findall(r'<li class="tile[^"]*">(.*?)</li>', html, re.S)
    by_id = {int(re.search(r'data-image-id="(\d+)"', t).group(1)): t for t in tiles}  # type: ignore[union-attr]
    assert sorted(by_id) == f.ids[:4]
    assert {i for i, t in by_id.items() if "data-disagrees" in t} == {f.ids[1], f.ids[2]}
    assert 'title="Model: flower/rose, 50% confident"' in by_id[f.ids[3]]


def test_the_image_page_shows_the_newest_run_s_top_three(
    api: TestClient, web: TestClient, db: Session
) -> None:
    f, _ = _arrange(api, db)
    html = web.get(f"/images/{f.ids[1]}").text  # a rose the model takes for a daisy
    model = html.split('id="model-heading"', 1)[1].split("</section>", 1)[0]
    rows = re.findall(r'<li><span class="class-name">(?:<svg.*?</svg> )?([^<]+)</span>.*?'
                      r'<span class="probability">([^<]+)</span></li>', model, re.S)  # fmt: skip
    assert rows == [("flower/daisy", "62.5%"), ("flower/rose", "18.8%"), ("tree/oak", "18.8%")]
    assert "The model disagrees with the label" in model
    agreeing = web.get(f"/images/{f.ids[0]}").text
    assert "The model disagrees" not in agreeing
    # A newer run is the one shown; an image it did not predict says so.
    classes = [(f["flower"], "flower"), (f["tree"], "tree")]
    newer = write_run(db, f.pid, classes, {f.ids[0]: [0.25, 0.75]}, level=1)
    html = web.get(f"/images/{f.ids[0]}").text
    assert f"(run #{newer})" in html
    assert re.search(r"tree</span>.*?75\.0%.*?flower</span>.*?25\.0%", html, re.S)
    assert "The model disagrees with the label" in html  # a daisy is no tree
    assert f"Run #{newer} did not predict this image" in web.get(f"/images/{f.ids[1]}").text


def test_the_image_page_without_a_model_says_so(api: TestClient, web: TestClient) -> None:
    f = forest(api, images=1)
    assert "No model yet" in web.get(f"/images/{f.ids[0]}").text


def _nav(html: str) -> tuple[str | None, str | None, str]:
    nav = html.split('aria-label="This list"', 1)[1].split("</nav>", 1)[0]
    prev = re.search(r'<a rel="prev" href="([^"]+)"', nav)
    nxt = re.search(r'<a rel="next" href="([^"]+)"', nav)
    text = re.sub(r"<[^>]+>", "", nav)
    return (
        unescape(prev.group(1)) if prev else None,
        unescape(nxt.group(1)) if nxt else None,
        " ".join(unescape(text).split()),
    )


def test_previous_and_next_walk_the_list_the_image_was_opened_from(
    api: TestClient, web: TestClient, db: Session
) -> None:
    f, _ = _arrange(api, db)
    # The images predicted as flowers with at least 50%, oldest first: 0, 1, 2, 3, 7.
    gallery = web.get(f"/projects/{f.pid}/images", params={
        "predicted": f["flower"], "min_conf": "50", "sort": "oldest"}).text  # fmt: skip
    href = unescape(re.findall(r'<a class="thumb" href="([^"]+)"', gallery)[1])
    prev, nxt, text = _nav(web.get(href).text)
    assert "Image 2 of 5" in text
    assert prev is not None
    assert nxt is not None
    assert urlsplit(prev).path == f"/images/{f.ids[0]}"
    assert urlsplit(nxt).path == f"/images/{f.ids[2]}"
    assert parse_qs(urlsplit(nxt).query) == parse_qs(urlsplit(href).query)  # same list
    last_prev, last_next, last_text = _nav(web.get(f"/images/{f.ids[7]}?"
                                                   + urlsplit(href).query).text)  # fmt: skip
    assert (last_next, "Image 5 of 5" in last_text) == (None, True)
    assert last_prev is not None
    assert urlsplit(last_prev).path == f"/images/{f.ids[3]}"
    # An image that left the list (relabeled, rejected...) still has its neighbours.
    outside = web.get(f"/images/{f.ids[5]}?" + urlsplit(href).query).text
    o_prev, o_next, o_text = _nav(outside)
    assert "Not in this list (5 images)" in o_text
    assert o_prev is not None
    assert urlsplit(o_prev).path == f"/images/{f.ids[3]}"
    assert o_next is not None
    assert urlsplit(o_next).path == f"/images/{f.ids[7]}"
    # Without a list: the whole gallery, newest first.
    prev, nxt, text = _nav(web.get(f"/images/{f.ids[3]}").text)
    assert "Image 5 of 8" in text
    assert prev == f"/images/{f.ids[4]}"
    assert nxt == f"/images/{f.ids[2]}"


def test_the_back_link_opens_the_gallery_page_holding_the_image(
    api: TestClient, web: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gallery_view, "PAGE_SIZE", 2)
    f, _ = _arrange(api, db)
    html = web.get(f"/images/{f.ids[0]}", params={"list": "sort=filename"}).text
    back = re.search(r'<a href="([^"]+)">Back to the gallery</a>', html)
    assert back is not None
    # img0.jpg is first by name: page 1, which leaves the page out of the URL.
    assert unescape(back.group(1)) == f"/projects/{f.pid}/images?sort=filename"
    html = web.get(f"/images/{f.ids[5]}", params={"list": "sort=filename"}).text
    back = re.search(r'<a href="([^"]+)">Back to the gallery</a>', html)
    assert back is not None
    assert unescape(back.group(1)).endswith("sort=filename&page=3")
    prev, nxt, _ = _nav(html)
    assert prev is not None
    assert urlsplit(prev).path == f"/images/{f.ids[4]}"
    assert nxt is not None
    assert urlsplit(nxt).path == f"/images/{f.ids[6]}"


@pytest.mark.parametrize(
    ("listed", "status"),
    [
        ("sort=sideways", 400),
        ("status=lost", 400),
        ("min_conf=101", 400),
        ("predicted=424242", 404),
        ("category=abc", 400),
        ("x" * 1001, 400),
    ],
)
def test_a_bad_list_parameter_gets_a_clear_error_page(
    api: TestClient, web: TestClient, db: Session, listed: str, status: int
) -> None:
    f, _ = _arrange(api, db)
    resp = web.get(f"/images/{f.ids[0]}", params={"list": listed})
    assert resp.status_code == status, resp.text
    assert "text/html" in resp.headers["content-type"]


def test_labelers_see_the_model_and_the_label_keys_outsiders_nothing(
    api: TestClient, db: Session, browser_as: ClientFor, make_user: UserFactory
) -> None:
    f, run = _arrange(api, db)
    member, outsider = make_user(), make_user()
    join(api, f.pid, member.username)
    page = browser_as(member).get(f"/images/{f.ids[1]}")
    assert page.status_code == 200
    assert f"(run #{run})" in page.text
    assert f'data-category="{f["daisy"]}"' in page.text
    assert "data-reject aria-keyshortcuts" in page.text
    assert "/static/js/image-page.js" in page.text
    stranger = browser_as(outsider)
    assert stranger.get(f"/images/{f.ids[1]}").status_code == 404
    assert stranger.get(f"/projects/{f.pid}/images", params={"disagrees": "1"}).status_code == 404


def test_an_archived_project_shows_the_model_but_no_label_buttons(
    api: TestClient, web: TestClient, db: Session
) -> None:
    f, _ = _arrange(api, db)
    api.patch(f"/api/v1/projects/{f.pid}", json={"archived": True})
    html = web.get(f"/images/{f.ids[1]}").text
    assert "The model disagrees with the label" in html
    assert '<button type="button" data-category=' not in html
    assert "data-reject aria-keyshortcuts" not in html


def test_markup_in_category_names_is_text_in_titles_and_top_classes(
    api: TestClient, web: TestClient, db: Session
) -> None:
    f = forest(api, images=1)
    evil = api.post(f"/api/v1/projects/{f.pid}/categories",
                    json={"name": '"><script>alert(1)'}).json()["id"]  # fmt: skip
    write_run(db, f.pid, [(evil, "evil"), (f["oak"], "tree/oak")], {f.ids[0]: [0.75, 0.25]})
    for url in (f"/projects/{f.pid}/images", f"/images/{f.ids[0]}", f"/projects/{f.pid}/grid"):
        html = web.get(url, params={"status": "all"} if "grid" in url else {}).text
        assert "<script>alert(1)" not in html, url
        assert "&#34;&gt;&lt;script&gt;alert(1)" in html or "&quot;&gt;&lt;script&gt;" in html, url
