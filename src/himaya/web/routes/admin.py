"""Administration: people, roles, case assignments (need-to-know), unit settings. Every change is audited."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from himaya.errors import UsageError
from himaya.online import settings as online_settings
from himaya.security import audit, auth
from himaya.store.models import Case, CaseAssignment, Setting, User
from himaya.web.context import Ctx, require, user_ctx
from himaya.web.i18n import N_

router = APIRouter()

# Settings an administrator may change in the app, with what they mean.
SETTINGS = {
    "national_set": "the unit's own alert hash set that confirmed proposals are added to",
    # Online detection and takedown; each value is checked by himaya.online.settings before it is kept.
    **{key: "online detection and takedown (docs/online.md)" for key in online_settings.KEYS},
}


def _admin(c: Ctx) -> None:
    require(c, "manage_users")


@router.get("/admin/users")
def users_page(c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    _admin(c)
    users = list(c.db.scalars(select(User).order_by(User.username)))
    cases = list(c.db.scalars(select(Case).order_by(Case.number)))
    assignments: dict[int, list[int]] = {}
    for row in c.db.scalars(select(CaseAssignment)):
        assignments.setdefault(row.user_id, []).append(row.case_id)
    # Online settings never changed show their defaults; a stored value shows as stored.
    settings = dict(online_settings.describe(online_settings.load(c.db)))
    settings.update({row.key: row.value for row in c.db.scalars(select(Setting))})
    return c.render(
        "admin_users.html",
        users=users,
        cases=cases,
        assignments=assignments,
        roles=auth.ROLES,
        settings=settings,
        setting_help=SETTINGS,
        new_secret=None,
    )


@router.post("/admin/users")
def add_user(
    c: Annotated[Ctx, Depends(user_ctx)],
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    role: Annotated[str, Form(max_length=20)],
    language: Annotated[str, Form(max_length=5)] = "en",
    totp: Annotated[bool, Form()] = False,
) -> Response:
    _admin(c)
    try:
        created = auth.create_user(
            c.db, c.state.blob_key, username, password, role, language=language, totp=totp
        )
    except auth.AuthError as error:
        raise HTTPException(status_code=400, detail=str(error)) from error
    c.audit(audit.USER_CHANGED, detail={"user": created.user.username, "change": "created", "role": role})
    if created.totp_secret:
        return c.render(
            "admin_secret.html",
            user=created.user,
            secret=created.totp_secret,
            uri=auth.provisioning_uri(created.totp_secret, created.user.username),
        )
    return RedirectResponse("/admin/users", status_code=303)


def _user(c: Ctx, user_id: int) -> User:
    user = c.db.get(User, user_id)
    if user is None:
        raise HTTPException(status_code=404, detail=N_("no such user"))
    return user


def _case(c: Ctx, case_id: int) -> Case:
    case = c.db.get(Case, case_id)
    if case is None:
        raise HTTPException(status_code=404, detail=N_("no such case"))
    return case


@router.post("/admin/users/{user_id}/assign")
def assign_case(
    user_id: int, c: Annotated[Ctx, Depends(user_ctx)], case_id: Annotated[int, Form()]
) -> Response:
    _admin(c)
    assert c.user is not None
    user, case = _user(c, user_id), _case(c, case_id)
    if auth.assign(c.db, user, case.id, c.user.username):
        c.audit(audit.CASE_ASSIGNED, case_id=case.id, detail={"user": user.username, "assigned": True})
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}/unassign")
def unassign_case(
    user_id: int, c: Annotated[Ctx, Depends(user_ctx)], case_id: Annotated[int, Form()]
) -> Response:
    _admin(c)
    user, case = _user(c, user_id), _case(c, case_id)
    if auth.unassign(c.db, user, case.id):
        c.audit(audit.CASE_ASSIGNED, case_id=case.id, detail={"user": user.username, "assigned": False})
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}/role")
def set_role(
    user_id: int, c: Annotated[Ctx, Depends(user_ctx)], role: Annotated[str, Form(max_length=20)]
) -> Response:
    _admin(c)
    user = _user(c, user_id)
    if role not in auth.ROLES:
        raise HTTPException(status_code=400, detail=f"roles are: {', '.join(auth.ROLES)}")
    if role == "administrator" and not user.totp_secret_enc:
        raise HTTPException(
            status_code=400, detail=N_("enrol a second factor first (`himaya user totp NAME`)")
        )
    old, user.role = user.role, role
    auth.end_sessions_of(c.db, user)
    c.audit(audit.USER_CHANGED, detail={"user": user.username, "change": "role", "from": old, "to": role})
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}/active")
def set_active(
    user_id: int, c: Annotated[Ctx, Depends(user_ctx)], active: Annotated[bool, Form()] = False
) -> Response:
    _admin(c)
    user = _user(c, user_id)
    user.active = active
    if not active:
        auth.end_sessions_of(c.db, user)
    c.audit(audit.USER_CHANGED, detail={"user": user.username, "change": "active" if active else "disabled"})
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{user_id}/unlock")
def unlock_user(user_id: int, c: Annotated[Ctx, Depends(user_ctx)]) -> Response:
    _admin(c)
    user = _user(c, user_id)
    auth.unlock(c.db, user)
    c.audit(audit.USER_CHANGED, detail={"user": user.username, "change": "unlocked"})
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/settings")
def change_setting(
    c: Annotated[Ctx, Depends(user_ctx)],
    key: Annotated[str, Form(max_length=100)],
    value: Annotated[str, Form(max_length=4000)],
) -> Response:
    require(c, "change_settings")
    assert c.user is not None
    if key not in SETTINGS:
        raise HTTPException(status_code=400, detail=f"settings are: {', '.join(SETTINGS)}")
    if key in online_settings.KEYS:
        try:
            previous, new = online_settings.store(c.db, key, value, c.user.username)
        except UsageError as error:
            raise HTTPException(status_code=400, detail=str(error)) from error
        c.audit(audit.SETTING_CHANGED, detail={"setting": key, "from": previous, "to": str(new)})
        return RedirectResponse("/admin/users", status_code=303)
    row = c.db.get(Setting, key)
    old = row.value if row is not None else None
    if row is None:
        row = Setting(key=key, value=value, changed_by=c.user.username)
        c.db.add(row)
    else:
        row.value, row.changed_by, row.changed_at = value, c.user.username, auth.now()
    if key == "national_set":
        c.state.national_set = value
    c.audit(audit.SETTING_CHANGED, detail={"setting": key, "from": old, "to": value})
    return RedirectResponse("/admin/users", status_code=303)
