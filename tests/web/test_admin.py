"""Administration in the app: people, assignments, roles, settings — each change an audit event."""

from __future__ import annotations

import re

from sqlalchemy import select

from himaya.store.models import AuditEvent, Case, CaseAssignment, Setting, User
from tests.builders.web_case import OTHER_CASE
from tests.web.conftest import PASSWORD, Web, post_form


def test_administrator_adds_assigns_and_changes_people(web: Web) -> None:
    admin = web.login("admin")
    page = "/admin/users"
    added = post_form(
        admin,
        "/admin/users",
        {"username": "nadia", "password": PASSWORD, "role": "reviewer", "language": "ar", "totp": "true"},
        page=page,
    )
    assert added.status_code == 200
    secret = re.search(r'id="new-secret">([A-Z2-7]{32})<', added.text)
    assert secret
    with web.store.session() as session:
        nadia = session.scalars(select(User).where(User.username == "nadia")).one()
        other = session.scalars(select(Case).where(Case.number == OTHER_CASE)).one()
    assert nadia.language == "ar" and nadia.totp_secret_enc and secret.group(1) not in nadia.totp_secret_enc
    assert (
        post_form(admin, f"/admin/users/{nadia.id}/assign", {"case_id": other.id}, page=page).status_code
        == 303
    )
    assert (
        post_form(admin, f"/admin/users/{nadia.id}/role", {"role": "investigator"}, page=page).status_code
        == 303
    )
    assert post_form(admin, f"/admin/users/{nadia.id}/role", {"role": "king"}, page=page).status_code == 400
    assert post_form(admin, f"/admin/users/{nadia.id}/active", {}, page=page).status_code == 303
    assert (
        post_form(
            admin, "/admin/settings", {"key": "national_set", "value": "TEST-NATIONAL"}, page=page
        ).status_code
        == 303
    )
    assert (
        post_form(admin, "/admin/settings", {"key": "nonsense", "value": "x"}, page=page).status_code == 400
    )
    assert (
        post_form(
            admin, "/admin/users", {"username": "nadia", "password": PASSWORD, "role": "reviewer"}, page=page
        ).status_code
        == 400
    )  # exists
    with web.store.session() as session:
        nadia = session.scalars(select(User).where(User.username == "nadia")).one()
        assert nadia.role == "investigator" and not nadia.active
        assert session.get(CaseAssignment, (nadia.id, other.id)) is not None
        assert session.get(Setting, "national_set").value == "TEST-NATIONAL"  # type: ignore[union-attr]
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert web.state.national_set == "TEST-NATIONAL"
    assert actions.count("user_changed") == 3 and "case_assigned" in actions and "setting_changed" in actions
