"""Per-request plumbing: the database session, who is logged in, CSRF, language, rendering, access checks.

Every page and picture goes through `require_case` (need-to-know: assigned users only) and every unsafe
request through `csrf_guard`, installed on the whole app, so that a new route is protected by default.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from himaya.security import auth
from himaya.store.models import Case, User, WebSession
from himaya.web import i18n
from himaya.web.i18n import N_
from himaya.web.labels import Labels
from himaya.web.state import WebState

SESSION_COOKIE = "himaya_session"
PRE_SESSION_COOKIE = "himaya_pre"  # binds the log-in form's CSRF token before there is a session
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_ENV = Environment(
    loader=PackageLoader("himaya.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


class LoginRequired(Exception):
    """Raised by dependencies; the app answers with a redirect to the log-in page."""


def state_of(request: Request) -> WebState:
    state = request.app.state.himaya
    assert isinstance(state, WebState)
    return state


def client_ip(request: Request) -> str | None:
    # Behind the documented reverse proxy uvicorn's --proxy-headers already put the real address here.
    return request.client.host if request.client else None


def db(request: Request) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent (so its audit events are, and the
    browser's next request sees what this answer showed): `ctx` asks for it with scope="function", since a
    request-scoped dependency with `yield` would finish after the response has gone out."""
    with state_of(request).store.transaction() as session:
        yield session


@dataclass
class Ctx:
    request: Request
    db: Session
    state: WebState
    user: User | None = None
    web_session: WebSession | None = None
    token: str | None = None
    pre_token: str | None = None
    lang: str = "en"
    set_pre_cookie: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def csrf(self) -> str:
        bound = self.token or self.pre_token or ""
        return auth.csrf_token(self.state.csrf_key, bound)

    @property
    def gettext(self) -> Callable[[str], str]:
        return i18n.gettext_for(self.lang)

    def can(self, permission: str) -> bool:
        return self.user is not None and auth.can(self.user, permission)

    def audit(
        self,
        action: str,
        *,
        case_id: int | None = None,
        file_id: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        self.state.audit.record(
            self.db,
            actor=self.user.username if self.user else None,
            action=action,
            case_id=case_id,
            file_id=file_id,
            detail=detail,
            ip=client_ip(self.request),
        )

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        gettext = i18n.gettext_for(self.lang)
        html = _ENV.get_template(template).render(
            c=self,
            _=gettext,
            gettext=gettext,
            ngettext=i18n.ngettext_for(self.lang),
            lang=self.lang,
            dir=i18n.direction(self.lang),
            labels=Labels(gettext),
            **values,
        )
        response = HTMLResponse(html, status_code=status_code)
        if self.set_pre_cookie and self.pre_token:
            response.set_cookie(
                PRE_SESSION_COOKIE,
                self.pre_token,
                httponly=True,
                samesite="strict",
                secure=self.state.secure_cookies,
                path="/",
            )
        return response


def ctx(request: Request, session: Session = Depends(db, scope="function")) -> Ctx:  # noqa: B008 - FastAPI's idiom
    """The request's context, logged in or not."""
    state = state_of(request)
    c = Ctx(request=request, db=session, state=state)
    token = request.cookies.get(SESSION_COOKIE)
    found = auth.session_for(session, token)
    if found is not None:
        c.web_session, c.user = found
        c.token = token
        c.lang = c.user.language if c.user.language in i18n.LANGUAGES else "en"
    else:
        c.lang = i18n.negotiate(request.headers.get("accept-language", ""))
        c.pre_token = request.cookies.get(PRE_SESSION_COOKIE)
        if not c.pre_token or len(c.pre_token) > 100:
            c.pre_token = secrets.token_urlsafe(24)
            c.set_pre_cookie = True
    request.state.ctx = c
    return c


def user_ctx(c: Ctx = Depends(ctx)) -> Ctx:  # noqa: B008
    """The context of a logged-in user; anyone else is sent to the log-in page."""
    if c.user is None:
        raise LoginRequired()
    return c


def require(c: Ctx, permission: str) -> None:
    if not c.can(permission):
        raise HTTPException(status_code=403, detail=N_("your role does not allow this"))


def require_case(c: Ctx, case_number: str, permission: str = "view_case") -> Case:
    """The case, if the user is assigned to it and their role allows `permission`; else 403.

    An unknown case number answers 403 too, not 404, so that case numbers cannot be probed.
    """
    assert c.user is not None
    case = c.db.scalar(select(Case).where(Case.number == case_number))
    if case is None or not auth.is_assigned(c.db, c.user, case.id) or not c.can(permission):
        raise HTTPException(status_code=403, detail=N_("you are not assigned to this case"))
    return case


async def csrf_guard(request: Request) -> None:
    """Every POST (and any other unsafe method) must carry the form's token, in the form or a header."""
    if request.method in SAFE_METHODS:
        return
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
    state = state_of(request)
    bound = request.cookies.get(SESSION_COOKIE) or request.cookies.get(PRE_SESSION_COOKIE)
    if not auth.csrf_valid(state.csrf_key, bound, presented):
        raise HTTPException(
            status_code=403,
            detail=N_("the form's security token is missing or stale; reload the page and try again"),
        )


def render_error(
    lang: str, status_code: int, message: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    gettext = i18n.gettext_for(lang)
    # Messages marked with N_() where they are raised are in the catalog; others (with values in them)
    # stay as written.
    html = _ENV.get_template("error.html").render(
        _=gettext, lang=lang, dir=i18n.direction(lang), status_code=status_code, message=gettext(message)
    )
    return HTMLResponse(html, status_code=status_code, headers=headers)
