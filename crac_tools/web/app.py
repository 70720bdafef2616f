"""The field catalog web app: :func:`create_app` builds the Starlette application of one project.

Every route is listed in :data:`ROUTES`; each handler identifies the caller and reaches data only through the
gates of :class:`~crac_tools.web.site.Site`, which ask :func:`crac_tools.web.policy.allowed`. A middleware sets
``Cache-Control: private, no-store`` on every answer to a caller presenting credentials (and ``no-cache`` otherwise,
except static files), ``Vary: Cookie, Authorization`` and the security headers; the content security policy
allows this server only, so a page that tried to load anything from a CDN would show it in the browser console.

Examples
--------
>>> from crac_tools.config import load_project
>>> app = create_app(load_project("demo"))  # doctest: +SKIP
>>> import uvicorn; uvicorn.run(app, host="127.0.0.1", port=8050)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from collections.abc import Callable

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..config import Project
from . import api, pages, plotdata, stac, tiles, zarr_store
from .responses import error, not_found
from .site import NotFound, Site, Unavailable

log = logging.getLogger(__name__)

CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'self'; "
       "form-action 'self'; base-uri 'self'; object-src 'none'")

ROUTES = [
    Route("/", pages.index, name="index"),
    Route("/search", pages.search, name="search"),
    Route("/datasets/{key}", pages.dataset_page, name="dataset"),
    Route("/datasets/{key}/plot", pages.plot_page, name="plot"),
    Route("/datasets/{key}/plotdata", plotdata.plotdata, name="plotdata"),
    Route("/datasets/{key}/quicklook/{name}", pages.quicklook, name="quicklook"),
    Route("/datasets/{key}/download", api.download, name="download"),
    Route("/files", pages.files_page, name="files"),
    Route("/files/datatable.txt", pages.datatable, name="datatable"),
    Route("/reports", pages.reports_page, name="reports"),
    Route("/reports/new", pages.report_form, name="report_form"),
    Route("/reports", pages.report_create, methods=["POST"], name="report_create"),
    Route("/reports/{station}/{rid}", pages.report_page, name="report"),
    Route("/reports/{station}/{rid}/files/{name}", pages.report_attachment, name="report_attachment"),
    Route("/login", pages.login_form, name="login_form"),
    Route("/login", pages.login, methods=["POST"], name="login"),
    Route("/logout", pages.logout, methods=["POST"], name="logout"),
    Route("/account", pages.account, name="account"),
    Route("/account", pages.account_post, methods=["POST"], name="account_post"),
    Route("/static/{path}", pages.app_static, name="static"),
    Route("/_bokeh/static/{path:path}", pages.bokeh_static, name="bokeh_static"),
    Route("/api/datasets", api.datasets, name="api_datasets"),
    Route("/api/datasets/{key}", api.dataset, name="api_dataset"),
    Route("/api/datasets/{key}/download", api.download, name="api_download"),
    Route("/api/datasets/{key}/files/{name}", api.product_file, name="api_file"),
    Route("/api/stations", api.stations, name="api_stations"),
    Route("/api/search", api.search, name="api_search"),
    Route("/api/files", api.files, name="api_files"),
    Route("/api/reports", api.reports, name="api_reports"),
    Route("/api/reports/{station}/{rid}", api.report, name="api_report"),
    Route("/api/catalog.yaml", api.intake_catalog, name="api_catalog"),
    Route("/api/stac", stac.catalog, name="stac_catalog"),
    Route("/api/stac/{key}", stac.collection, name="stac_collection"),
    Route("/api/stac/{key}/items", stac.items, name="stac_items"),
    Route("/api/stac/{key}/items/{item}", stac.item, name="stac_item"),
    Route("/zarr/{key}.zarr/{path:path}", zarr_store.zarr_key, name="zarr_key"),
    Route("/tiles/{z}/{x}/{y}.png", tiles.tile, name="tile"),
]


class _Headers:
    """ASGI middleware: cache and security headers from the caller's identity."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                if state.get("authenticated") or _presents_credentials(scope):
                    h["Cache-Control"] = "private, no-store"
                    h["Pragma"] = "no-cache"
                elif "cache-control" not in h or message.get("status", 200) != 200:
                    h["Cache-Control"] = "no-cache"
                h["Vary"] = "Cookie, Authorization"
                h["X-Content-Type-Options"] = "nosniff"
                h["X-Frame-Options"] = "SAMEORIGIN"
                h["Referrer-Policy"] = "same-origin"
                h["Content-Security-Policy"] = CSP
                h["Cross-Origin-Resource-Policy"] = "same-origin"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _presents_credentials(scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"authorization" or (name == b"cookie" and b"crac_session=" in value):
            return True
    return False


async def _not_found(request: Request, exc: Exception) -> Response:
    return not_found(request)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if exc.status_code == 404:
        return not_found(request)
    if exc.status_code == 405:
        return error(request, 405, "method not allowed", headers=None)
    return error(request, exc.status_code, str(exc.detail))


async def _unavailable(request: Request, exc: Exception) -> Response:
    return error(request, 503, "the server's access configuration is invalid; nothing is served until it is fixed")


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("error serving %s", request.url.path)
    return error(request, 500, "internal error (logged on the server)")


def _warm_imports() -> None:
    """Import what the plot view and the zarr routes need (about 1 s), so the first visitor does not wait."""
    try:
        import bokeh.embed  # noqa: F401
        import bokeh.plotting  # noqa: F401
        import zarr  # noqa: F401
    except ImportError as exc:  # the pages that need them report it themselves
        log.debug("warm-up import failed: %s", exc)


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette):
    threading.Thread(target=_warm_imports, name="crac-warm-imports", daemon=True).start()
    yield


def create_app(project: Project, now: Callable[[], dt.datetime] | None = None) -> Starlette:
    """Build the field-catalog app of ``project``.

    Parameters
    ----------
    project
        The loaded project; its ``crac.yaml`` ``serve:`` section is validated now (a bad one raises
        :class:`~crac_tools.errors.ConfigError`) and reloaded whenever the file changes.
    now
        Clock returning the current instant (timezone-aware); default: the system clock in UTC.

    Returns
    -------
    starlette.applications.Starlette

    Examples
    --------
    >>> from starlette.testclient import TestClient
    >>> client = TestClient(create_app(load_project("demo")))  # doctest: +SKIP
    >>> client.get("/api/datasets").json()["datasets"][0]["key"]  # doctest: +SKIP
    'alpha_sonic'
    """
    site = Site(project, now)
    app = Starlette(routes=list(ROUTES), exception_handlers={NotFound: _not_found, HTTPException: _http_error,
                                                             Unavailable: _unavailable, 500: _server_error},
                    lifespan=_lifespan)
    app.state.site = site
    app.add_middleware(_Headers)
    return app
