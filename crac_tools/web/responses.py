"""Request context and the responses every route shares (one not-found answer for missing and embargoed)."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from .site import Ctx, Site


def site_of(request: Request) -> Site:
    """The :class:`~crac_tools.web.site.Site` of the app."""
    return request.app.state.site


def begin(request: Request) -> tuple[Site, Ctx]:
    """Identify the caller (raises on an invalid token or a broken configuration)."""
    site = site_of(request)
    ctx = site.identify(request.cookies, request.headers.get("authorization"))
    request.state.authenticated = ctx.user is not None
    request.state.ctx = ctx
    return site, ctx


def base_url(site: Site, request: Request) -> str:
    """The server's address for absolute links (``serve.public_url``, else the request's), without a final ``/``."""
    return (site.config.public_url or str(request.base_url)).rstrip("/")


def is_api(request: Request) -> bool:
    """Whether the request is for the JSON API."""
    return request.url.path == "/api" or request.url.path.startswith("/api/")


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a template with the caller's identity and form token."""
    site = site_of(request)
    ctx = getattr(request.state, "ctx", None)
    user = ctx.user if ctx else None
    csrf = site.auth.csrf_token(ctx.sid) if ctx and ctx.sid else ""
    info = site.project.config.project
    html = site.templates.get_template(name).render(user=user, csrf=csrf, project=info, **context)
    return HTMLResponse(html, status_code=status)


def error(request: Request, status: int, message: str, headers: dict | None = None) -> Response:
    """An error answer (JSON under ``/api``, HTML elsewhere)."""
    if is_api(request):
        return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)
    return render(request, "error.html", status=status, status_code=status, message=message) if _has_ctx(
        request) else HTMLResponse(f"<!doctype html><title>{status}</title><p>{_esc(message)}</p>", status,
                                   headers=headers)


def _has_ctx(request: Request) -> bool:
    return getattr(request.state, "ctx", None) is not None


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: The one body of a not-found answer under /api.
NOT_FOUND_JSON = json.dumps({"error": "not found", "status": 404}).encode()


def not_found(request: Request) -> Response:
    """The not-found answer: identical for missing and embargoed things (status, body, headers)."""
    if is_api(request):
        return Response(NOT_FOUND_JSON, 404, media_type="application/json")
    if _has_ctx(request):
        return render(request, "error.html", status=404, status_code=404, message="Not found.")
    return HTMLResponse("<!doctype html><title>Not found</title><p>Not found.</p>", 404)


def private_json(obj: Any, status: int = 200) -> JSONResponse:
    """A JSON answer (cache headers are set by the app's middleware from the caller's identity)."""
    return JSONResponse(obj, status_code=status)
