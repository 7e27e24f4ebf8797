"""The map page's data: every point with what colours it, as packed typed columns.

100,000 points as JSON objects cost seconds to build, encode and parse; as ten arrays of
little-endian numbers (base64 in a small JSON envelope) they are built with numpy in a
pass, encoded in milliseconds, and become a JavaScript typed array without parsing a
number. Row i of every column is one image, in image id order.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import String, select, type_coerce
from sqlalchemy.orm import Session

from app.images.models import Image, ImageStatus
from app.insights.embedding_map import waiting
from app.insights.models import EmbeddingMapPoint, OutlierScore
from app.projects.models import Project
from app.taxonomy.service import load_tree
from app.training.models import Prediction
from app.training.prediction_queries import branch
from app.training.service import latest_model

NONE = -1  # "no value" in every column
STATUS_CODES = {
    ImageStatus.unlabeled.value: 0,
    ImageStatus.labeled.value: 1,
    ImageStatus.rejected.value: 2,
}
# Each column's name and its little-endian type (the page reads them as typed arrays).
TYPES = {
    "image_id": "<i4",
    "x": "<f4",
    "y": "<f4",
    "status": "<i1",  # STATUS_CODES
    "label": "<i4",  # category id of a labeled image, or NONE
    "prediction": "<i4",  # the run's category id, or NONE
    "disagrees": "<i1",  # 1: labeled, and the run predicts off the label's branch
    "uncertainty": "<f4",  # 0..1 normalised entropy, or NONE
    "outlier": "<f4",  # 0..1, or NONE
}
_PAIR = 2**31  # ids are 32-bit: label * _PAIR + class is one distinct integer


@dataclass(frozen=True)
class MapColumns:
    run_id: int | None
    waiting: int
    columns: dict[str, npt.NDArray[np.generic]]

    def encoded(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "waiting": self.waiting,
            "count": len(self.columns["image_id"]),
            "types": {name: TYPES[name] for name in self.columns},
            **{
                name: base64.b64encode(np.asarray(values, dtype=TYPES[name]).tobytes()).decode()
                for name, values in self.columns.items()
            },
        }


def _entropies(blobs: list[bytes]) -> npt.NDArray[np.float64]:
    """Normalised entropy of each float16 probability row (every row of one run is as
    wide as its classes), in one pass rather than a Python loop per image."""
    if not blobs:
        return np.zeros(0)
    width = len(blobs[0]) // 2
    if width < 2 or any(len(b) != 2 * width for b in blobs):
        return np.zeros(len(blobs))
    probs = np.frombuffer(b"".join(blobs), dtype="<f2").astype(np.float64).reshape(-1, width)
    probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(probs > 0, np.log(probs), 0.0)
    entropy: npt.NDArray[np.float64] = -(probs * logs).sum(axis=1) / np.log(width)
    return np.clip(entropy, 0.0, 1.0)


def _place(
    ids: npt.NDArray[np.int64], found: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Row of each ``found`` id among the sorted ``ids``, and which of them are there."""
    rows = np.searchsorted(ids, found)
    rows = np.minimum(rows, max(len(ids) - 1, 0))
    hit = ids[rows] == found if len(ids) else np.zeros(len(found), dtype=bool)
    return rows, hit


POINTS = ("image_id", "x", "y", "status", "label")
RUN = ("image_id", "prediction", "disagrees", "uncertainty", "outlier")
PARTS = {"points": POINTS, "run": RUN, "all": tuple(TYPES)}


def columns(session: Session, project: Project, part: str = "all") -> MapColumns:
    """``part``: "points" (places and labels: what the first paint needs), "run" (the
    newest run's colours), or "all"."""
    run = latest_model(session, project.id)
    # Core rows (no ORM entity loading) and the status as its stored text: at 100,000
    # rows both save a second.
    conn = session.connection()
    rows = conn.execute(
        select(
            EmbeddingMapPoint.image_id,
            EmbeddingMapPoint.x,
            EmbeddingMapPoint.y,
            type_coerce(Image.status, String),
            Image.category_id,
        )
        .join(Image, Image.id == EmbeddingMapPoint.image_id)
        .where(EmbeddingMapPoint.project_id == project.id)
        .order_by(EmbeddingMapPoint.image_id)
    ).all()
    n = len(rows)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    status = np.fromiter((STATUS_CODES.get(r[3], 0) for r in rows), dtype=np.int8, count=n)
    label = np.fromiter((r[4] if r[4] is not None else NONE for r in rows), dtype=np.int64, count=n)
    label[status != 1] = NONE
    cols: dict[str, npt.NDArray[np.generic]] = {
        "image_id": ids,
        "x": np.fromiter((r[1] for r in rows), dtype=np.float32, count=n),
        "y": np.fromiter((r[2] for r in rows), dtype=np.float32, count=n),
        "status": status,
        "label": label,
    }
    prediction = np.full(n, NONE, dtype=np.int64)
    uncertainty = np.full(n, NONE, dtype=np.float32)
    outlier = np.full(n, NONE, dtype=np.float32)
    if run is not None and n and part != "points":
        found = conn.execute(
            select(Prediction.image_id, Prediction.category_id, Prediction.probabilities).where(
                Prediction.run_id == run.id
            )
        ).all()
        at, hit = _place(ids, np.fromiter((r[0] for r in found), dtype=np.int64, count=len(found)))
        prediction[at[hit]] = np.fromiter((r[1] for r in found), dtype=np.int64, count=len(found))[
            hit
        ]
        uncertainty[at[hit]] = _entropies([bytes(r[2]) for r in found])[hit]
        scored = conn.execute(
            select(OutlierScore.image_id, OutlierScore.score).where(OutlierScore.run_id == run.id)
        ).all()
        at, hit = _place(
            ids, np.fromiter((r[0] for r in scored), dtype=np.int64, count=len(scored))
        )
        outlier[at[hit]] = np.fromiter((r[1] for r in scored), dtype=np.float32, count=len(scored))[
            hit
        ]
    cols["prediction"] = prediction
    cols["disagrees"] = _disagreements(session, project, label, prediction)
    cols["uncertainty"] = uncertainty
    cols["outlier"] = outlier
    chosen = {name: cols[name] for name in PARTS[part]}
    queued = waiting(session, project) if part != "run" else 0
    return MapColumns(run.id if run is not None else None, queued, chosen)


def _disagreements(
    session: Session,
    project: Project,
    label: npt.NDArray[np.int64],
    prediction: npt.NDArray[np.int64],
) -> npt.NDArray[np.int8]:
    """1 where an image is labeled and predicted, and the prediction is off the label's
    branch (a run at a higher level predicts the label's ancestor: that agrees)."""
    both = (label != NONE) & (prediction != NONE)
    out = np.zeros(len(label), dtype=np.int8)
    if not both.any():
        return out
    tree = load_tree(session, project)
    agreeing = np.array(
        sorted(
            lab * _PAIR + cid
            for cid in {int(c) for c in np.unique(prediction[both])}
            for lab in branch(tree, cid)
        ),
        dtype=np.int64,
    )
    pairs = label[both] * _PAIR + prediction[both]
    out[both] = ~np.isin(pairs, agreeing)
    return out
