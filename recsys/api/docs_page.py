"""``/docs``: Swagger UI over ``/openapi.json``, with every asset served by this server.

FastAPI's stock page loads Swagger UI from cdn.jsdelivr.net and its favicon from
fastapi.tiangolo.com. A server on a closed network (or an operator who does not want a browser
to call third parties from an internal tool) gets a blank page. Here the same page, built by
FastAPI's own ``get_swagger_ui_html``, points at files under ``/docs/static/`` instead.

The files come from the ``fastapi-offline`` package: it ships exactly Swagger UI's
``swagger-ui-bundle.js`` and ``swagger-ui.css`` (5.x, kept current with FastAPI's CDN default)
and a favicon, and needs nothing but FastAPI. Swagger UI 5 matters: FastAPI writes OpenAPI
3.1 documents, which Swagger UI 4 (what ``swagger-ui-bundle`` still ships) refuses to render.
Only its files are used; its ``FastAPIOffline`` factory would take over building the app,
which ``create_app`` does itself.

The page and its assets need no token, like ``/openapi.json``: they describe the API and hold
no data. Other paths keep the app's JSON errors (an unknown asset is a JSON 404 as well).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
STATIC_URL = "/docs/static"
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
FAVICON = "favicon.png"


def assets_dir() -> Path:
    """The folder of Swagger UI's files inside the installed ``fastapi-offline``.

    Checked file by file so that a release that moves them stops the server at start with
    this message, instead of serving a page whose scripts all answer 404.
    """
    folder = Path(str(importlib.resources.files("fastapi_offline") / "static"))
    missing = [name for name in (SWAGGER_JS, SWAGGER_CSS, FAVICON) if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(
            f"the Swagger UI files {missing} are not in {folder}: the installed fastapi-offline"
            " does not ship them where this server expects; reinstall the pinned version"
        )
    return folder


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` and its assets at ``/docs/static/``, all from here.

    Links are prefixed with the request's ``root_path`` so the page still works behind a
    proxy that mounts the API under a sub-path, as FastAPI's own page does.
    ``app.openapi_url`` must be set (``create_app`` leaves FastAPI's ``/openapi.json``).
    """
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("/docs needs the app's OpenAPI document; openapi_url is None")
    redirect_url = app.swagger_ui_oauth2_redirect_url
    # validatorUrl null: Swagger UI's default sends the document's URL to validator.swagger.io
    # for a badge (not shown by FastAPI's BaseLayout today); switched off so that no setting
    # ever makes the page call out. An app that sets it on purpose still wins.
    parameters = {"validatorUrl": None, **(app.swagger_ui_parameters or {})}
    app.mount(STATIC_URL, StaticFiles(directory=assets_dir()), name="docs-static")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = str(request.scope.get("root_path", "")).rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC_URL}/{SWAGGER_JS}",
            swagger_css_url=f"{root}{STATIC_URL}/{SWAGGER_CSS}",
            swagger_favicon_url=f"{root}{STATIC_URL}/{FAVICON}",
            oauth2_redirect_url=f"{root}{redirect_url}" if redirect_url else None,
            swagger_ui_parameters=parameters,
        )

    if redirect_url:
        # Swagger UI's "Authorize" dialog returns here after an OAuth2 login. The API's only
        # scheme is a bearer token, so this is unused today; it costs nothing and keeps
        # the page complete if an OAuth2 scheme is ever documented.
        @app.get(redirect_url, include_in_schema=False)
        async def swagger_ui_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()
