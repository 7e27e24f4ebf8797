"""The OpenAPI schema, which tells the truth about our error bodies, and the /docs page.

Every error is ``{"detail": "<sentence>"}``; validation errors add the structured
``errors`` list. FastAPI's default schema says ``detail`` is a list, so it is replaced.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from starlette.responses import HTMLResponse


class ErrorOut(BaseModel):
    detail: str


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(BaseModel):
    """422: ``errors`` is there when the request's shape was wrong, not for a domain rule."""

    detail: str
    errors: list[FieldError] = []


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


# Added to every /api/v1 route; a route may document more.
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _error("Not authenticated, or the token is invalid or expired"),
    403: _error("Authenticated, but the role does not allow this"),
    404: _error("No such resource, or not visible to this user"),
    409: _error("Conflicts with the current state, e.g. a name taken or one that reads alike"),
    413: _error("Request body too large"),
    429: _error("Too many failed logins for this username"),
}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=app.routes
            )
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            if "HTTPValidationError" in components:
                replacement = ValidationErrorOut.model_json_schema(
                    ref_template="#/components/schemas/{model}"
                )
                for name, sub in replacement.pop("$defs", {}).items():
                    components[name] = sub
                components["HTTPValidationError"] = replacement
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# Swagger UI comes from the npm registry at setup, never from a CDN at run time. Its
# start-up script is a static file that reads this JSON block (a data block is never
# executed), so the page needs no inline script under the Content-Security-Policy.
_DOCS_CONFIG = {
    "url": "/api/v1/openapi.json",
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": True,
    "showExtensions": True,
    "showCommonExtensions": True,
}

_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Curator API</title>
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
  <script type="application/json" id="docs-config">{config}</script>
  <script src="/static/vendor/swagger-ui/swagger-ui-bundle.js" defer></script>
  <script src="/static/js/docs.js" defer></script>
</head>
<body>
  <div id="swagger-ui"></div>
</body>
</html>
"""


def docs_page() -> HTMLResponse:
    config = json.dumps(_DOCS_CONFIG).replace("<", "\\u003c")
    return HTMLResponse(_DOCS_PAGE.format(config=config))
