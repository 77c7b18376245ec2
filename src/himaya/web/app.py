"""The FastAPI application: security headers on every answer, CSRF on every unsafe request, routers.

Pages are rendered on the server; the browser gets htmx and one small script, both from this server
(no CDN: the unit's network may have no internet at all, and a third-party script could read the page).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from himaya.web.context import Ctx, LoginRequired, csrf_guard, render_error
from himaya.web.routes import (
    account,
    admin,
    audit_pages,
    auth_pages,
    cases,
    gallery,
    items,
    messages,
    online,
    pictures,
    review,
    tips,
)
from himaya.web.state import WebState

STATIC = Path(__file__).parent / "static"

# No inline script or style anywhere: a file name or EXIF field that slipped past escaping still could not
# run. Pictures come only from this origin (blob: / data: are not needed).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        # Pages name evidence and pictures are evidence: nothing may stay in a browser or proxy cache.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
        if request.url.scheme == "https":
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response


def create_app(state: WebState) -> FastAPI:
    app = FastAPI(
        title="Himaya",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(csrf_guard)],
    )
    app.state.himaya = state
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    routers = (
        auth_pages, account, cases, gallery, items, pictures, review, online, tips, messages, audit_pages,
        admin,
    )  # fmt: skip
    for module in routers:
        app.include_router(module.router)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _error: LoginRequired) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        # The request's transaction is already rolled back here: the page uses no database object.
        c = getattr(request.state, "ctx", None)
        lang = c.lang if isinstance(c, Ctx) else "en"
        return render_error(lang, error.status_code, str(error.detail), getattr(error, "headers", None))

    return app
