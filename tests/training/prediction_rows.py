"""Runs with prediction rows written directly, as a worker would leave them.

The taxonomy is two families with species under them::

    flower > daisy, rose
    tree   > oak

so that filters can be checked on sub-trees and disagreements at either level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.db import utcnow
from app.training.models import Prediction, RunMode, RunStatus, TrainingRun
from tests.labeling.helpers import Setup, arrange


@dataclass
class Forest:
    """A project whose taxonomy is two families of species, and its images."""

    setup: Setup

    @property
    def pid(self) -> int:
        return self.setup.pid

    @property
    def ids(self) -> list[int]:
        return self.setup.image_ids

    def __getitem__(self, name: str) -> int:
        return self.setup.categories[name]


def forest(api: TestClient, images: int, name: str = "Forest") -> Forest:
    """A project made by the API user (its manager) with the family > species tree."""
    s = arrange(api, images=images, name=name, cats=("flower", "tree"))
    for parent, child in (("flower", "daisy"), ("flower", "rose"), ("tree", "oak")):
        resp = api.post(
            f"/api/v1/projects/{s.pid}/categories",
            json={"name": child, "parent_id": s.categories[parent]},
        )
        assert resp.status_code == 201, resp.text
        s.categories[child] = int(resp.json()["id"])
    return Forest(s)


def reject(api: TestClient, image_id: int, reason: str = "out of scope") -> None:
    resp = api.post(
        f"/api/v1/images/{image_id}/annotations", json={"rejected": True, "reason": reason}
    )
    assert resp.status_code == 201, resp.text


def write_run(
    db: Session,
    pid: int,
    classes: list[tuple[int, str]],
    predicted: dict[int, list[float]],
    *,
    level: int | None = None,
    status: RunStatus = RunStatus.succeeded,
) -> int:
    """A run over ``classes`` whose probabilities for each image are ``predicted[image]``.

    The stored class and confidence are the most probable one, as the worker stores them.
    """
    run = TrainingRun(
        project_id=pid,
        mode=RunMode.linear,
        backbone="efficientnet_lite0",
        level=level,
        status=status,
        classes=[[cid, name] for cid, name in classes],
        finished_at=utcnow(),
    )
    db.add(run)
    db.flush()
    for image_id, probs in predicted.items():
        assert len(probs) == len(classes)
        best = int(np.argmax(probs))
        db.add(
            Prediction(
                run_id=run.id,
                image_id=image_id,
                category_id=classes[best][0],
                confidence=float(np.float16(probs[best])),
                probabilities=np.array(probs, dtype="<f2").tobytes(),
            )
        )
    db.commit()
    return run.id


def one_hot(position: int, size: int, confidence: float) -> list[float]:
    """``confidence`` on one class, the rest spread evenly over the others."""
    rest = (1 - confidence) / (size - 1)
    return [confidence if n == position else rest for n in range(size)]
