"""A user's own settings: language (English / Arabic), password, second factor, own exposure."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException
from fastapi.responses import RedirectResponse, Response

from himaya.security import audit, auth
from himaya.web import i18n
from himaya.web.context import Ctx, user_ctx
from himaya.web.i18n import N_
from himaya.web.routes.pictures import exposure_rows

router = APIRouter()


@router.get("/account")
def account_page(c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    return _page(c)


def _page(c: Ctx, error: str | None = None, secret: str | None = None) -> Response:
    """The account page; with an error (400), or with a new second-factor secret shown once."""
    assert c.user is not None
    return c.render(
        "account.html",
        status_code=400 if error else 200,
        error=error,
        exposure=exposure_rows(c, [c.user.id]),
        totp_secret=secret,
        totp_uri=auth.provisioning_uri(secret, c.user.username) if secret else None,
    )


@router.post("/account/language")
def set_language(
    c: Annotated[Ctx, Depends(user_ctx)],
    language: Annotated[str, Form(max_length=5)],
    next_page: Annotated[str, Form(alias="next", max_length=2000)] = "/account",
) -> Response:
    assert c.user is not None
    if language not in i18n.LANGUAGES:
        raise HTTPException(status_code=400, detail=N_("language is en or ar"))
    old = c.user.language
    c.user.language = language
    c.audit(audit.SETTING_CHANGED, detail={"setting": "language", "from": old, "to": language})
    # Back to the page the switch was pressed on (the app sends no Referer); only a path on this server.
    safe = next_page.startswith("/") and not next_page.startswith(("//", "/\\"))
    return RedirectResponse(next_page if safe else "/account", status_code=303)


@router.post("/account/password")
def change_password(
    c: Annotated[Ctx, Depends(user_ctx)],
    current: Annotated[str, Form(max_length=1000)],
    new: Annotated[str, Form(max_length=1000)],
) -> Response:
    assert c.user is not None
    if not auth.password_matches(c.user.password_hash, current):
        return _page(c, error=N_("the current password is wrong"))
    try:
        c.user.password_hash = auth.hash_password(new)
    except auth.AuthError as error:
        return _page(c, error=str(error))
    auth.end_sessions_of(c.db, c.user)
    c.audit(audit.USER_CHANGED, detail={"user": c.user.username, "change": "password"})
    return RedirectResponse("/login", status_code=303)


@router.post("/account/totp")
def enrol_totp(
    c: Annotated[Ctx, Depends(user_ctx)], current: Annotated[str, Form(max_length=1000)]
) -> Response:
    """A new second factor: shown once on this page, stored only encrypted; the old one stops working."""
    assert c.user is not None
    if not auth.password_matches(c.user.password_hash, current):
        return _page(c, error=N_("the current password is wrong"))
    secret = auth.enrol_totp(c.db, c.state.blob_key, c.user)
    c.audit(audit.USER_CHANGED, detail={"user": c.user.username, "change": "second factor enrolled"})
    return _page(c, secret=secret)
