"""The JSON API under /api/v1."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.auth.api import router as auth_router
from app.auth.deps import ApiUser
from app.background.health import Health
from app.background.health import report as health_report
from app.exports.api import router as exports_router
from app.images.api import router as images_router
from app.imports.api import router as imports_router
from app.insights import review_pools
from app.insights.agreement_api import router as agreement_router
from app.insights.api import router as label_issues_router
from app.insights.map_api import router as embedding_map_router
from app.insights.outliers_api import router as outliers_router
from app.insights.overview_api import router as overview_router
from app.insights.review_api import router as review_router
from app.insights.saliency_api import router as saliency_router
from app.labeling import review_port, training_port
from app.labeling.api import router as labeling_router
from app.labeling.taxonomy_api import router as taxonomy_router
from app.openapi import COMMON_ERRORS
from app.projects.api import router as projects_router
from app.training import auto, queue_inputs
from app.training.api import router as training_router

# Training sits above labeling: its queue reads and auto-train trigger are plugged in.
training_port.install(queue_inputs, after_labels=auto.maybe_train)
# Insights sit above labeling too: the label-issue and odd-picture queues' pools.
review_port.install(review_pools)

api_router = APIRouter(prefix="/api/v1", responses=COMMON_ERRORS)
api_router.include_router(auth_router)
api_router.include_router(projects_router)
api_router.include_router(taxonomy_router)
api_router.include_router(images_router)
api_router.include_router(imports_router)
api_router.include_router(exports_router)
api_router.include_router(labeling_router)
api_router.include_router(training_router)
api_router.include_router(embedding_map_router)
api_router.include_router(agreement_router)
api_router.include_router(label_issues_router)
api_router.include_router(overview_router)
api_router.include_router(outliers_router)
api_router.include_router(saliency_router)
api_router.include_router(review_router)


@api_router.get("/health", tags=["meta"], response_model=Health)
def health(request: Request) -> Health:
    """Always 200 (container checks test for it); ``status`` says ``degraded`` when the
    broker is down, no worker reported recently, or the data dir is nearly full."""
    state = request.app.state
    return health_report(state.settings, state.sessionmaker, state.celery)


@api_router.get("/openapi.json", include_in_schema=False)
def openapi_schema(request: Request, _user: ApiUser) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema
