"""Log-in and log-out. Failed log-ins are audit events too (with the name typed, never the password)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form
from fastapi.responses import RedirectResponse, Response

from himaya.security import audit, auth
from himaya.web.context import SESSION_COOKIE, Ctx, client_ip, ctx
from himaya.web.i18n import N_

router = APIRouter()

# The log-in refusals himaya.security.auth raises (that layer knows nothing of the web's catalog): marked
# here so that the page can show them translated.
LOGIN_MESSAGES = (
    N_("wrong user name, password or code"),
    N_("this account is disabled; ask an administrator"),
    N_("an administrator needs a second factor: enrol one with `himaya user totp NAME`"),
    N_("too many failed log-ins from this address; wait a few minutes"),
)


@router.get("/login")
def login_page(c: Annotated[Ctx, Depends(ctx)]) -> Response:
    if c.user is not None:
        return RedirectResponse("/", status_code=303)
    return c.render("login.html")


@router.post("/login")
def login(
    c: Annotated[Ctx, Depends(ctx)],
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    ip = client_ip(c.request)
    try:
        user = auth.authenticate(c.db, c.state.blob_key, username, password, code or None, ip)
    except auth.Throttled as error:
        c.audit(audit.LOGIN_FAILED, detail={"username": username[:100], "reason": "throttled"})
        response = c.render("login.html", status_code=429, error=str(error), username=username)
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except auth.AuthError as error:
        c.audit(audit.LOGIN_FAILED, detail={"username": username[:100], "reason": str(error)})
        return c.render("login.html", status_code=401, error=str(error), username=username)
    token = auth.start_session(c.db, user, ip, c.request.headers.get("user-agent"))
    c.user = user
    c.audit(audit.LOGIN, detail={"second_factor": user.totp_secret_enc is not None})
    redirect = RedirectResponse("/", status_code=303)
    redirect.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict", secure=c.state.secure_cookies, path="/"
    )
    return redirect


@router.post("/logout")
def logout(c: Annotated[Ctx, Depends(ctx)]) -> Response:
    if c.user is not None:
        c.audit(audit.LOGOUT)
    auth.end_session(c.db, c.token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
