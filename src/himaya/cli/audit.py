"""`himaya audit verify` and `himaya audit list`: check and read the tamper-evident audit trail.

Reports go to standard output (not the status console on standard error): an auditor files them with
the case, e.g. `himaya audit verify > verify-2026-05-01.txt`. `verify` never creates a blob key: a new
key could not verify a single event, and would only hide that the right key is missing.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from himaya.cli.context import AppContext, app_context
from himaya.errors import HimayaError, UsageError

audit_app = typer.Typer(
    help="Verify and read the audit trail (logins, pictures shown, categories, exports, settings).",
    no_args_is_help=True,
)

_EXPECT = re.compile(r"(\d+):([0-9a-fA-F]{8,64})")


def _ctx(ctx: typer.Context) -> AppContext:
    return app_context(ctx, "audit")


def _fail(app_ctx: AppContext, error: HimayaError) -> typer.Exit:
    app_ctx.console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
    return typer.Exit(error.exit_code)


def _stdout(width: int | None = None) -> Console:
    # Piped into a file, Rich would assume 80 columns and wrap a table's cells into unreadable slivers.
    wide = None if sys.stdout.isatty() else width
    return Console(file=sys.stdout, highlight=False, soft_wrap=width is None, width=wide)


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect",
            metavar="SEQ:HASH",
            help="A head noted earlier (e.g. from the supervisor page), as seq:hash or seq:first 8+ hex "
            "digits; fails when that event is gone or changed.",
        ),
    ] = None,
) -> None:
    """Check every event's hash and link, and the trail against its checkpoint file. Exit 1 on any problem."""
    from himaya.security.audit import checkpoint_path_for, verify
    from himaya.security.crypto import load_or_create_key

    app_ctx = _ctx(ctx)
    expected: tuple[int, str] | None = None
    if expect is not None:
        match = _EXPECT.fullmatch(expect.strip())
        if match is None:
            raise _fail(app_ctx, UsageError(f"--expect {expect!r} is not SEQ:HASH (e.g. 1234:9f2c41d0)"))
        expected = (int(match.group(1)), match.group(2).lower())
    try:
        key = load_or_create_key(app_ctx.key_file, app_ctx.home, create=False).key
    except HimayaError as error:
        raise _fail(app_ctx, error) from None
    checkpoint = checkpoint_path_for(app_ctx.key_file)
    with app_ctx.store().session() as session:
        result = verify(session, key, checkpoint, expected_head=expected)

    out = _stdout()
    out.print(f"events checked: {result.events}")
    out.print(f"head: event {result.head_seq}, hash {result.head_hash}")
    out.print(f"checkpoint: {result.checkpoint} ({result.checkpoint_lines} lines of this trail checked)")
    for warning in result.warnings:
        out.print(f"warning: {escape(warning)}")
    for problem in result.problems:
        out.print(f"PROBLEM: {escape(problem)}")
    if not result.ok:
        out.print(f"audit trail NOT intact: {len(result.problems)} problem(s)")
        raise typer.Exit(1)
    out.print("audit trail intact")


@audit_app.command("list")
def audit_list(
    ctx: typer.Context,
    case: Annotated[
        list[str] | None, typer.Option("--case", metavar="CASE_NUMBER", help="Only this case (repeatable).")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only this user name.")] = None,
    action: Annotated[
        list[str] | None, typer.Option("--action", help="Only this action, e.g. picture_shown (repeatable).")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option("--since", help="From this time (UTC unless it names a zone).")
    ] = None,
    until: Annotated[datetime | None, typer.Option("--until", help="Before this time (UTC).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many events.")] = 50,
    fmt: Annotated[
        str, typer.Option("--format", help="table or jsonl (one JSON object per event).")
    ] = "table",
) -> None:
    """Show the most recent events, newest first."""
    from sqlalchemy import select

    from himaya.errors import CaseNotFoundError
    from himaya.security.audit import event_dict, query, utc_iso
    from himaya.store.models import Case

    app_ctx = _ctx(ctx)
    if fmt not in ("table", "jsonl"):
        raise _fail(app_ctx, UsageError(f"--format {fmt!r} is not one of: table, jsonl"))
    with app_ctx.store().session() as session:
        case_ids: list[int] | None = None
        numbers: dict[int, str] = {}
        if case:
            rows = session.execute(select(Case.id, Case.number).where(Case.number.in_(case))).all()
            numbers = {row.id: row.number for row in rows}
            for number in case:
                if number not in numbers.values():
                    raise _fail(app_ctx, CaseNotFoundError(number))
            case_ids = list(numbers)
        events = query(
            session,
            case_ids=case_ids,
            actor=actor,
            action=action or None,
            since=since,
            until=until,
            limit=limit,
        )
        if not numbers:
            wanted = {row.case_id for row in events if row.case_id is not None}
            if wanted:
                rows = session.execute(select(Case.id, Case.number).where(Case.id.in_(wanted))).all()
                numbers = {row.id: row.number for row in rows}

    if fmt == "jsonl":
        for row in events:
            record = event_dict(row)
            record["case"] = numbers.get(row.case_id) if row.case_id is not None else None
            typer.echo(json.dumps(record, ensure_ascii=False, sort_keys=True))
        return
    table = Table("seq", "time (UTC)", "actor", "action", "case", "file", "ip", "detail")
    for row in events:
        case_text = numbers.get(row.case_id, f"#{row.case_id}") if row.case_id is not None else ""
        table.add_row(
            str(row.seq),
            utc_iso(row.at)[:19].replace("T", " "),
            escape(row.actor or ""),
            row.action,
            escape(case_text),
            "" if row.file_id is None else str(row.file_id),
            escape(row.ip or ""),
            escape(row.detail or ""),
        )
    _stdout(width=200).print(table)
    if not events:
        app_ctx.console.print("no audit events match")
