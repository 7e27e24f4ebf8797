"""create_app(): the web process. It never imports torch: heavy work is a Celery task."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from app.api import api_router
from app.auth.deps import user_for_error_page
from app.broker import make_celery
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.images.files import img_origins
from app.imports.api import UPLOAD_PATHS
from app.openapi import install_openapi
from app.pages import pages_router
from app.paths import STATIC_DIR
from app.web.errors import install_error_handlers
from app.web.middleware import BodyLimitMiddleware, SecurityHeadersMiddleware, wrap_outermost

SESSION_COOKIE = "curator_session"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(
        title="Curator",
        summary="Curate image training sets: taxonomy, labeling, training, active learning.",
        version="0.1.0",
        # /docs and the schema need a login; they are served by our own routes.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = make_sessionmaker(engine)
    # A producer only: tasks are sent by name, the worker code is never imported here.
    app.state.celery = make_celery(settings)

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.resolved_secret_key(),
        session_cookie=SESSION_COOKIE,
        max_age=settings.session_max_age,
        same_site="lax",
        https_only=settings.env == "production",
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_request_bytes=settings.max_request_bytes,
        max_upload_bytes=settings.max_upload_bytes,
        uploads=UPLOAD_PATHS,
    )
    origins = img_origins(settings)  # the store's, only with presigned redirects
    wrap_outermost(app, lambda inner: SecurityHeadersMiddleware(inner, origins))
    install_error_handlers(app, current_user=user_for_error_page)
    install_openapi(app)

    app.include_router(api_router)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
