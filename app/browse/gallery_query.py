"""The gallery's query: every filter is a URL parameter, so back, reload and links work.

The image page gets the same parameters in its ``list`` parameter, so its previous and
next links walk the list it was opened from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import get_args
from urllib.parse import parse_qs, urlencode

from app.images import service
from app.images.models import ImageStatus
from app.images.params import parse_flag, parse_page, parse_percent
from app.training.prediction_queries import PredictionFilter
from app.web.forms import FormError, parse_id

SORTS: tuple[str, ...] = get_args(service.Sort)
STATUSES = ("all", *(s.value for s in ImageStatus))
MAX_LIST = 1000  # characters of a ``list`` parameter: a gallery URL's query is far shorter
MAX_SEARCH = 100  # characters of a filename search


@dataclass(frozen=True)
class GalleryQuery:
    """Everything the gallery shows is in its URL: these are its query parameters."""

    status: str = "all"
    category: int | None = None
    batch: int | None = None
    group: int | None = None
    near: bool = False
    sort: str = "newest"
    page: int = 1
    # The newest model's view: predicted as (a sub-tree), confidence in percent, and
    # whether the prediction contradicts the label.
    predicted: int | None = None
    min_conf: int | None = None
    max_conf: int | None = None
    disagrees: bool = False
    q: str = ""  # part of the filename, any case

    @classmethod
    def parse(
        cls,
        status: str,
        category: str,
        batch: str,
        group: str,
        near: str,
        sort: str,
        page: str,
        predicted: str = "",
        min_conf: str = "",
        max_conf: str = "",
        disagrees: str = "",
        q: str = "",
    ) -> GalleryQuery:
        status = status.strip() or "all"
        if status not in STATUSES:
            raise FormError(f"Status: {status[:40]!r} is not one of {', '.join(STATUSES)}.")
        sort = sort.strip() or "newest"
        if sort not in SORTS:
            raise FormError(f"Sort: {sort[:40]!r} is not one of {', '.join(SORTS)}.")
        low = parse_percent("Confidence from", min_conf)
        high = parse_percent("Confidence to", max_conf)
        if low is not None and high is not None and low > high:
            raise FormError(f"Confidence: from {low}% is above to {high}%; nothing could match.")
        q = q.strip()
        if len(q) > MAX_SEARCH or any(ord(ch) < 32 for ch in q):
            raise FormError(
                f"Filename: at most {MAX_SEARCH} printable characters; shorten the search."
            )
        return cls(
            status=status,
            category=parse_id("Category", category),
            batch=parse_id("Import", batch),
            group=parse_id("Duplicate group", group),
            near=parse_flag(near),
            sort=sort,
            page=parse_page(page),
            predicted=parse_id("Predicted as", predicted),
            min_conf=low,
            max_conf=high,
            disagrees=parse_flag(disagrees),
            q=q,
        )

    @classmethod
    def from_list(cls, raw: str) -> GalleryQuery:
        """The query a gallery handed to an image page in its ``list`` parameter."""
        if len(raw) > MAX_LIST:
            raise FormError(f"List: longer than {MAX_LIST} characters; open it from the gallery.")
        values = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

        def get(key: str) -> str:
            return values.get(key, "")

        return cls.parse(
            get("status"), get("category"), get("batch"), get("group"), get("near"),
            get("sort"), "1", get("predicted"), get("min_conf"), get("max_conf"),
            get("disagrees"), get("q"),
        )  # fmt: skip

    def image_filter(self) -> service.ImageFilter:
        status = None if self.status == "all" else ImageStatus(self.status)
        return service.ImageFilter(status, self.category, self.batch, self.group, self.near)

    def prediction_filter(self) -> PredictionFilter:
        return PredictionFilter(
            category_id=self.predicted,
            min_confidence=None if self.min_conf is None else self.min_conf / 100,
            max_confidence=None if self.max_conf is None else self.max_conf / 100,
            disagrees=self.disagrees,
        )

    def params(self) -> dict[str, str]:
        """The non-default parameters, in a stable order: short, shareable URLs."""
        out: dict[str, str] = {}
        if self.q:
            out["q"] = self.q
        if self.status != "all":
            out["status"] = self.status
        if self.category is not None:
            out["category"] = str(self.category)
        if self.batch is not None:
            out["batch"] = str(self.batch)
        if self.group is not None:
            out["group"] = str(self.group)
        if self.near:
            out["near"] = "1"
        if self.predicted is not None:
            out["predicted"] = str(self.predicted)
        if self.min_conf is not None:
            out["min_conf"] = str(self.min_conf)
        if self.max_conf is not None:
            out["max_conf"] = str(self.max_conf)
        if self.disagrees:
            out["disagrees"] = "1"
        if self.sort != "newest":
            out["sort"] = self.sort
        if self.page != 1:
            out["page"] = str(self.page)
        return out

    def url(self, project_id: int, **changes: object) -> str:
        query = urlencode(replace(self, **changes).params())  # type: ignore[arg-type]
        return f"/projects/{project_id}/images" + (f"?{query}" if query else "")

    @property
    def list_param(self) -> str:
        """The list as the image page gets it: the query without its page."""
        return urlencode(replace(self, page=1).params())

    def image_url(self, image_id: int) -> str:
        """An image's page, whose previous / next walk this list (plain for the default)."""
        listed = self.list_param
        return f"/images/{image_id}" + (f"?{urlencode({'list': listed})}" if listed else "")

    @property
    def filtered(self) -> bool:
        return bool({k: v for k, v in self.params().items() if k not in ("sort", "page")})

    @property
    def by_prediction(self) -> bool:
        return self.prediction_filter().active
