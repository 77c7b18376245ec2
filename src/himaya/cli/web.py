"""`himaya serve` (the review web app) and `himaya user ...` (its accounts and case assignments)."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from himaya.cli.context import AppContext
from himaya.errors import UsageError

user_app = typer.Typer(
    help="Accounts of the review web app: add people, set roles, assign cases (need-to-know), unlock.",
    no_args_is_help=True,
)


def _ctx(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, AppContext)
    return obj


def _password(password_file: Path | None, prompt: str) -> str:
    """From a file (first line) or $HIMAYA_NEW_PASSWORD, else asked twice at a prompt; never an argument."""
    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise UsageError(f"cannot read the password file {password_file}: {error.strerror}") from error
        if not lines:
            raise UsageError(f"{password_file} is empty; put the password on its first line")
        return lines[0]
    env = os.environ.get("HIMAYA_NEW_PASSWORD")
    if env:
        return env
    first = getpass.getpass(f"{prompt}: ")
    if getpass.getpass("Again: ") != first:
        raise UsageError("the two passwords differ; nothing was changed")
    return first


def _print_secret(app_ctx: AppContext, username: str, secret: str) -> None:
    from himaya.security.auth import provisioning_uri

    app_ctx.console.print(
        f"Second factor for {username}: enter this secret in an authenticator app now (shown only once):\n"
        f"  {secret}\n  {provisioning_uri(secret, username)}",
        highlight=False,
    )


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument(help="Log-in name (no spaces).")],
    role: Annotated[
        str, typer.Option("--role", help="administrator, supervisor, investigator, reviewer or auditor.")
    ] = "reviewer",
    language: Annotated[str, typer.Option("--language", help="en or ar.")] = "en",
    totp: Annotated[
        bool, typer.Option("--totp/--no-totp", help="Second factor (always on for administrators).")
    ] = False,
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="Initial password on the first line of this file.")
    ] = None,
    display_name: Annotated[str | None, typer.Option("--name", help="Full name shown in the app.")] = None,
) -> None:
    """Add a person. The password comes from --password-file, $HIMAYA_NEW_PASSWORD or a prompt."""
    from himaya.security import audit, auth

    app_ctx = _ctx(ctx)
    password = _password(password_file, f"Password for {username}")
    blob_key = app_ctx.blob_key()
    with app_ctx.store().transaction() as session:
        try:
            created = auth.create_user(
                session,
                blob_key,
                username,
                password,
                role,
                display_name=display_name,
                language=language,
                totp=totp,
            )
        except auth.AuthError as error:
            raise UsageError(str(error)) from error
        app_ctx.audit().record(
            session,
            actor=_operator(),
            action=audit.USER_CHANGED,
            detail={"user": username, "change": "created", "role": role, "via": "command line"},
        )
    app_ctx.console.print(f"user {username} added ({role})")
    if created.totp_secret:
        _print_secret(app_ctx, username, created.totp_secret)


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _find_user(session: object, username: str) -> object:
    from sqlalchemy.orm import Session

    from himaya.store.models import User

    assert isinstance(session, Session)
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise UsageError(f"no user {username!r}; `himaya user list` shows them")
    return user


@user_app.command("list")
def user_list(ctx: typer.Context) -> None:
    """People, roles, second factor and assigned cases."""
    from rich.table import Table

    from himaya.store.models import Case, CaseAssignment, User

    app_ctx = _ctx(ctx)
    table = Table("user", "role", "2FA", "active", "locked until", "cases")
    with app_ctx.store().session() as session:
        numbers = {case.id: case.number for case in session.scalars(select(Case))}
        for user in session.scalars(select(User).order_by(User.username)):
            cases = session.scalars(select(CaseAssignment.case_id).where(CaseAssignment.user_id == user.id))
            table.add_row(
                user.username,
                user.role,
                "yes" if user.totp_secret_enc else "no",
                "yes" if user.active else "no",
                str(user.locked_until or ""),
                ", ".join(sorted(numbers[c] for c in cases)),
            )
    app_ctx.console.print(table)


@user_app.command("assign")
def user_assign(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    case_numbers: Annotated[list[str], typer.Argument(metavar="CASE_NUMBER...")],
    remove: Annotated[bool, typer.Option("--remove", help="Withdraw the assignment instead.")] = False,
) -> None:
    """Give a user access to cases (need-to-know), or take it away with --remove."""
    from himaya.reports.records import find_case
    from himaya.security import audit, auth
    from himaya.store.models import User

    app_ctx = _ctx(ctx)
    with app_ctx.store().transaction() as session:
        user = _find_user(session, username)
        assert isinstance(user, User)
        for number in case_numbers:
            case = find_case(session, number)
            changed = (
                auth.unassign(session, user, case.id)
                if remove
                else auth.assign(session, user, case.id, _operator())
            )
            if changed:
                app_ctx.audit().record(
                    session,
                    actor=_operator(),
                    action=audit.CASE_ASSIGNED,
                    case_id=case.id,
                    detail={"user": username, "assigned": not remove, "via": "command line"},
                )
    verb = "withdrawn from" if remove else "assigned to"
    app_ctx.console.print(f"{username} {verb} {', '.join(case_numbers)}")


@user_app.command("role")
def user_role(
    ctx: typer.Context, username: Annotated[str, typer.Argument()], role: Annotated[str, typer.Argument()]
) -> None:
    """Change a user's role (their open sessions end)."""
    from himaya.security import audit, auth
    from himaya.store.models import User

    if role not in auth.ROLES:
        raise UsageError(f"unknown role {role!r}; roles are: {', '.join(auth.ROLES)}")
    app_ctx = _ctx(ctx)
    with app_ctx.store().transaction() as session:
        user = _find_user(session, username)
        assert isinstance(user, User)
        if role == "administrator" and not user.totp_secret_enc:
            raise UsageError(f"enrol a second factor first: himaya user totp {username}")
        old, user.role = user.role, role
        auth.end_sessions_of(session, user)
        app_ctx.audit().record(
            session,
            actor=_operator(),
            action=audit.USER_CHANGED,
            detail={"user": username, "change": "role", "from": old, "to": role, "via": "command line"},
        )
    app_ctx.console.print(f"{username} is now {role}")


@user_app.command("password")
def user_password(
    ctx: typer.Context,
    username: Annotated[str, typer.Argument()],
    password_file: Annotated[Path | None, typer.Option("--password-file")] = None,
) -> None:
    """Set a new password (their open sessions end)."""
    from himaya.security import audit, auth
    from himaya.store.models import User

    app_ctx = _ctx(ctx)
    password = _password(password_file, f"New password for {username}")
    with app_ctx.store().transaction() as session:
        user = _find_user(session, username)
        assert isinstance(user, User)
        try:
            user.password_hash = auth.hash_password(password)
        except auth.AuthError as error:
            raise UsageError(str(error)) from error
        auth.end_sessions_of(session, user)
        app_ctx.audit().record(
            session,
            actor=_operator(),
            action=audit.USER_CHANGED,
            detail={"user": username, "change": "password", "via": "command line"},
        )
    app_ctx.console.print(f"password of {username} changed")


@user_app.command("totp")
def user_totp(ctx: typer.Context, username: Annotated[str, typer.Argument()]) -> None:
    """Enrol a new second factor (the secret is printed once; the old one stops working)."""
    from himaya.security import audit, auth
    from himaya.store.models import User

    app_ctx = _ctx(ctx)
    blob_key = app_ctx.blob_key()
    with app_ctx.store().transaction() as session:
        user = _find_user(session, username)
        assert isinstance(user, User)
        secret = auth.enrol_totp(session, blob_key, user)
        app_ctx.audit().record(
            session,
            actor=_operator(),
            action=audit.USER_CHANGED,
            detail={"user": username, "change": "second factor enrolled", "via": "command line"},
        )
    _print_secret(app_ctx, username, secret)


@user_app.command("unlock")
def user_unlock(ctx: typer.Context, username: Annotated[str, typer.Argument()]) -> None:
    """Lift a lock-out after repeated failed log-ins."""
    from himaya.security import audit, auth
    from himaya.store.models import User

    app_ctx = _ctx(ctx)
    with app_ctx.store().transaction() as session:
        user = _find_user(session, username)
        assert isinstance(user, User)
        auth.unlock(session, user)
        app_ctx.audit().record(
            session,
            actor=_operator(),
            action=audit.USER_CHANGED,
            detail={"user": username, "change": "unlocked", "via": "command line"},
        )
    app_ctx.console.print(f"{username} unlocked")


def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    certfile: Annotated[
        Path | None, typer.Option("--certfile", help="TLS certificate (PEM); cookies are then Secure.")
    ] = None,
    keyfile: Annotated[Path | None, typer.Option("--keyfile", help="TLS private key (PEM).")] = None,
    behind_proxy: Annotated[
        bool,
        typer.Option(
            "--behind-proxy",
            help="A TLS-terminating reverse proxy on this machine forwards to us: trust its X-Forwarded-For "
            "and X-Forwarded-Proto from 127.0.0.1 and mark cookies Secure (docs/web.md).",
        ),
    ] = False,
    national_set: Annotated[
        str | None, typer.Option("--national-set", help="The unit's own hash set for confirmed proposals.")
    ] = None,
    recheck: Annotated[
        bool | None,
        typer.Option(
            "--recheck/--no-recheck",
            help="Re-check tracked online locations every online.scheduler_minutes while serving "
            "(default: the setting online.scheduler, off unless turned on).",
        ),
    ] = None,
) -> None:
    """Run the review web app: gallery, categorising, item view, audit trail, administration.

    Listens on 127.0.0.1 by default; to serve the unit's network, use --certfile/--keyfile (or a reverse
    proxy, see docs/web.md) and --host 0.0.0.0. Add the first administrator with `himaya user add NAME
    --role administrator`.
    """
    import uvicorn

    from himaya.hashsets.categories import CategoryMap
    from himaya.online.scheduler import RecheckScheduler
    from himaya.web.app import create_app
    from himaya.web.state import WebState

    if (certfile is None) != (keyfile is None):
        raise UsageError("--certfile and --keyfile go together")
    if host not in ("127.0.0.1", "::1", "localhost") and certfile is None and not behind_proxy:
        raise UsageError(
            f"serving on {host} without TLS would send passwords and pictures in clear; give --certfile and "
            "--keyfile, or put a TLS reverse proxy in front (--behind-proxy, docs/web.md)"
        )
    app_ctx = _ctx(ctx)
    state = WebState(
        store=app_ctx.store(),
        blobs=app_ctx.blobs(),
        blob_key=app_ctx.blob_key(),
        audit=app_ctx.audit(),
        home=app_ctx.home,
        secure_cookies=certfile is not None or behind_proxy,
        categories=CategoryMap.load(app_ctx.home),  # the unit's own label mapping, as exports use
    )
    state.load_settings(national_set)
    app = create_app(state)
    scheme = "https" if certfile else "http"
    app_ctx.console.print(f"Himaya review workspace on {scheme}://{host}:{port}/ (Ctrl-C stops it)")
    scheduler = RecheckScheduler(app_ctx.store(), forced=recheck)
    scheduler.start()
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            ssl_certfile=str(certfile) if certfile else None,
            ssl_keyfile=str(keyfile) if keyfile else None,
            proxy_headers=behind_proxy,
            forwarded_allow_ips="127.0.0.1" if behind_proxy else None,
            server_header=False,
            log_level="warning",
        )
    finally:
        scheduler.stop()
