"""Need-to-know and log-in on every route: enumerated from the app, so a new route without a check fails.

Every route is called by someone not logged in (log-in page, or 401/403), by a reviewer assigned only to
other cases (403 on every URL of the case), and every unsafe route without a CSRF token (403).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from himaya.store.models import Case, HashProposal, User
from himaya.web.app import create_app
from tests.builders.web_case import CASE
from tests.web.conftest import Web, csrf_of

# Routes anyone may reach without logging in.
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}
# Routes that are not about one case but need a logged-in user (their own checks are tested elsewhere).
USER_ROUTES = {
    ("GET", "/"),
    ("GET", "/account"),
    ("POST", "/account/language"),
    ("POST", "/account/password"),
    ("POST", "/account/totp"),
    ("GET", "/exposure"),
    ("GET", "/proposals"),
    ("GET", "/online/stats"),
    ("GET", "/audit"),
    ("GET", "/admin/users"),
    ("POST", "/admin/users"),
    ("POST", "/admin/settings"),
    ("POST", "/admin/users/{user_id}/assign"),
    ("POST", "/admin/users/{user_id}/unassign"),
    ("POST", "/admin/users/{user_id}/role"),
    ("POST", "/admin/users/{user_id}/active"),
    ("POST", "/admin/users/{user_id}/unlock"),
    ("POST", "/proposals/{proposal_id}/confirm"),
    ("POST", "/proposals/{proposal_id}/reject"),
}


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI >= 0.16x wraps included routers
            yield from _api_routes(route.original_router.routes)


def routes(web: Web) -> list[tuple[str, str]]:
    app = create_app(web.state)
    found = [
        (method, route.path) for route in _api_routes(app.routes) for method in sorted(route.methods or ())
    ]
    assert len(found) > 20
    return found


def _fill(path: str, web: Web, file_id: int, proposal_id: int, user_id: int) -> str:
    values = {
        "case_number": CASE,
        "file_id": str(file_id),
        "evidence_id": "1",
        "proposal_id": str(proposal_id),
        "user_id": str(user_id),
        "reference": "HMY-TEST-000001",  # a notice reference (online pages)
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


def _ids(web: Web) -> tuple[int, int, int]:
    """A picture of the case, a proposal on it, and a user id to aim administration routes at."""
    from himaya.store.models import GalleryItem

    with web.store.transaction() as session:
        from himaya.review import gallery

        case_id = session.scalar(select(Case.id).where(Case.number == CASE))
        assert case_id is not None
        gallery.refresh(session, case_id)
        item = session.scalars(select(GalleryItem).where(GalleryItem.case_id == case_id)).first()
        assert item is not None
        proposal = HashProposal(
            case_id=case_id,
            file_id=item.file_id,
            sha256=item.sha256 or "0" * 64,
            category="illegal",
            proposed_by="rita",
        )
        session.add(proposal)
        session.flush()
        user_id = session.scalar(select(User.id).where(User.username == "rami"))
        assert user_id is not None
        return item.file_id, proposal.id, user_id


def test_every_route_is_classified(web: Web) -> None:
    """A new route must be added to one of the lists here (and so to the checks below)."""
    unclassified = [
        (m, p)
        for m, p in routes(web)
        if (m, p) not in PUBLIC | USER_ROUTES and not p.startswith("/cases/{case_number}")
    ]
    assert unclassified == []


def test_every_route_needs_a_log_in(web: Web) -> None:
    file_id, proposal_id, user_id = _ids(web)
    client = web.client()
    token = csrf_of(client.get("/login").text)  # a pre-session token: CSRF passes, log-in must not
    for method, path in routes(web):
        if (method, path) in PUBLIC:
            continue
        url = _fill(path, web, file_id, proposal_id, user_id)
        response = client.request(method, url, data={"csrf_token": token} if method == "POST" else None)
        assert response.status_code in (303, 401), (method, url, response.status_code)
        if response.status_code == 303:
            assert response.headers["location"] == "/login"


def test_an_unassigned_user_gets_403_on_every_url_of_the_case(web: Web) -> None:
    file_id, proposal_id, user_id = _ids(web)
    client = web.login("omar")
    token = csrf_of(client.get("/").text)
    checked = 0
    for method, path in routes(web):
        if not path.startswith("/cases/{case_number}") and "proposal_id" not in path:
            continue
        url = _fill(path, web, file_id, proposal_id, user_id)
        response = client.request(
            method,
            url,
            data={"csrf_token": token, "key": "1", "file_ids": [file_id]} if method == "POST" else None,
        )
        assert response.status_code == 403, (method, url, response.status_code)
        assert "<img" not in response.text
        checked += 1
    assert checked >= 12
    # An unknown case number answers the same 403 (case numbers cannot be probed).
    assert client.get("/cases/NO-SUCH-CASE").status_code == 403
    assert CASE not in client.get("/").text


def test_every_unsafe_route_refuses_a_post_without_csrf_token(web: Web) -> None:
    file_id, proposal_id, user_id = _ids(web)
    client = web.login("admin")
    for method, path in routes(web):
        if method in ("GET", "HEAD"):
            continue
        url = _fill(path, web, file_id, proposal_id, user_id)
        response = client.request(method, url, data={"key": "1", "file_ids": [file_id], "language": "ar"})
        assert response.status_code == 403, (method, url)
        assert "security token" in response.text
        wrong = client.request(method, url, data={"csrf_token": "0" * 64, "language": "ar"})
        assert wrong.status_code == 403, (method, url)


@pytest.mark.parametrize(
    ("user", "url", "status"),
    [
        ("audrey", f"/cases/{CASE}", 403),  # an auditor reads the trail, not the case
        ("audrey", "/audit", 200),
        ("rita", "/audit", 403),
        ("rita", "/admin/users", 403),
        ("ivan", "/admin/users", 403),
        ("admin", "/admin/users", 200),
        ("admin", f"/cases/{CASE}", 403),  # administrators manage people; cases need an assignment
        ("rita", f"/cases/{CASE}/report", 403),  # reviewers categorise; investigators export
        ("ivan", f"/cases/{CASE}/report", 200),
        ("sam", "/exposure", 200),
    ],
)
def test_roles(web_sqlite: Web, user: str, url: str, status: int) -> None:
    client = web_sqlite.login(user)
    assert client.get(url).status_code == status
