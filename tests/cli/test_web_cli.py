"""`himaya user ...` and `himaya serve`: accounts from the command line, and a real server on 127.0.0.1."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import select

from himaya.cases import create_case
from himaya.security.audit import checkpoint_path_for, verify
from himaya.security.crypto import load_or_create_key
from himaya.store.db import open_store
from himaya.store.models import AuditEvent, CaseAssignment, User
from tests.cli.test_cli import Cli

PASSWORD = "TEST-web-password-8c1"


def test_user_add_assign_role_and_unlock(
    himaya: Cli, himaya_env: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_case(open_store(himaya_env["home"]), "CYB-TEST-1")
    password_file = tmp_path / "pw.txt"
    password_file.write_text(PASSWORD + "\n")
    added = himaya("user", "add", "amira", "--role", "administrator", "--password-file", str(password_file))
    assert added.code == 0, added.text
    secret = re.search(r"\b([A-Z2-7]{32})\b", added.text)
    assert secret, "an administrator's second-factor secret is printed once"
    assert pyotp.TOTP(secret.group(1)).now().isdigit()
    monkeypatch.setenv("HIMAYA_NEW_PASSWORD", PASSWORD)
    assert himaya("user", "add", "khaled", "--role", "reviewer").code == 0
    assert himaya("user", "add", "khaled").code == 2  # exists already
    assert himaya("user", "add", "x y").code == 2
    assert himaya("user", "add", "short", "--password-file", str(tmp_path / "missing")).code != 0
    assert himaya("user", "assign", "khaled", "CYB-TEST-1").code == 0
    assert himaya("user", "assign", "khaled", "NO-SUCH-CASE").code != 0
    assert himaya("user", "role", "khaled", "administrator").code == 2  # no second factor yet
    assert himaya("user", "role", "khaled", "investigator").code == 0
    assert himaya("user", "unlock", "khaled").code == 0
    listing = himaya("user", "list")
    assert "khaled" in listing.text and "CYB-TEST-1" in listing.text and "investigator" in listing.text
    store = open_store(himaya_env["home"])
    with store.session() as session:
        khaled = session.scalar(select(User).where(User.username == "khaled"))
        assert khaled is not None and khaled.role == "investigator"
        assert session.scalar(select(CaseAssignment).where(CaseAssignment.user_id == khaled.id)) is not None
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
        details = " ".join(e.detail or "" for e in session.scalars(select(AuditEvent)))
    assert actions.count("user_changed") == 4 and actions.count("case_assigned") == 1
    assert PASSWORD not in details and secret.group(1) not in details
    key = load_or_create_key(himaya_env["key_file"], himaya_env["home"]).key
    with store.session() as session:
        assert verify(session, key, checkpoint_path_for(himaya_env["key_file"])).ok
    assert himaya("audit", "verify").code == 0


def test_serve_refuses_the_network_without_tls(himaya: Cli) -> None:
    outcome = himaya("serve", "--host", "0.0.0.0")
    assert outcome.code == 2
    assert "--certfile" in outcome.text
    assert himaya("serve", "--certfile", "x.pem").code == 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_serve_answers_on_loopback(himaya_env: dict[str, Path]) -> None:
    """The real console command, as an investigator starts it: log-in page, static htmx, headers."""
    port = _free_port()
    env = {
        **os.environ,
        "HIMAYA_HOME": str(himaya_env["home"]),
        "HIMAYA_KEY_FILE": str(himaya_env["key_file"]),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "himaya.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    output = server.stdout.read().decode() if server.stdout else ""
                    pytest.fail(f"himaya serve did not answer: {output}")
                time.sleep(0.2)
        assert page.status_code == 200 and 'name="csrf_token"' in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "htmx" in httpx.get(f"http://127.0.0.1:{port}/static/htmx.min.js", timeout=5).text
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 303
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_exports_and_reports_from_the_command_line_are_audit_events(
    himaya: Cli, himaya_env: dict[str, Path], tmp_path: Path
) -> None:
    create_case(open_store(himaya_env["home"]), "CYB-TEST-2")
    assert himaya("export", "CYB-TEST-2", "--format", "csv", "--out", str(tmp_path / "x.csv")).code == 0
    assert himaya("export", "CYB-TEST-2").code == 0
    assert himaya("report", "CYB-TEST-2", "--out", str(tmp_path / "r.html")).code == 0
    with open_store(himaya_env["home"]).session() as session:
        events = [(e.action, e.actor) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]
    assert [a for a, _ in events] == ["export", "export", "report_downloaded"]
    assert all(actor and actor.startswith("cli") for _, actor in events)
    assert himaya("audit", "verify").code == 0
