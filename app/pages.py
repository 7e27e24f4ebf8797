"""The HTML pages. Every unsafe method is CSRF-checked at the router."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from app.auth.deps import PageUser
from app.auth.pages import router as auth_pages
from app.browse import tiles
from app.browse.pages import router as browse_pages
from app.images.pages import router as image_pages
from app.imports.pages import router as import_pages
from app.insights import overview_view
from app.insights.agreement_pages import router as agreement_pages
from app.insights.agreement_view import slot_for_page as agreement_slot
from app.insights.map_pages import router as map_pages
from app.labeling import training_port
from app.labeling.overlap import open_disputes_for_page
from app.labeling.pages import router as labeling_pages
from app.labeling.taxonomy_pages import router as taxonomy_pages
from app.openapi import docs_page
from app.projects.pages import PAGE_EXTRAS as PROJECT_PAGE_EXTRAS
from app.projects.pages import router as project_pages
from app.training.pages import router as training_pages
from app.web.csrf import verify_csrf

# Higher domains' counts on the project page (projects sits below labeling).
PROJECT_PAGE_EXTRAS["open_disputes"] = open_disputes_for_page
PROJECT_PAGE_EXTRAS["overview"] = overview_view.for_page
# The labeling grid's tiles show the newest model's predictions (training sits above).
training_port.install_tiles(tiles.tiles)
PROJECT_PAGE_EXTRAS["agreement"] = agreement_slot

pages_router = APIRouter(dependencies=[Depends(verify_csrf)], include_in_schema=False)
pages_router.include_router(auth_pages)
pages_router.include_router(project_pages)
pages_router.include_router(taxonomy_pages)
pages_router.include_router(browse_pages)
pages_router.include_router(image_pages)
pages_router.include_router(import_pages)
pages_router.include_router(labeling_pages)
pages_router.include_router(training_pages)
pages_router.include_router(map_pages)
pages_router.include_router(agreement_pages)


@pages_router.get("/docs")
def api_docs(request: Request, _user: PageUser) -> Response:
    return docs_page()
