"""`himaya messages summary` and `himaya messages parse`: a case's phone databases, persons and who
exchanged media with whom. The messages themselves: `himaya export CASE --format messages-jsonl`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from himaya.cli.context import AppContext, app_context

messages_app = typer.Typer(
    help="Chat, SMS and contact databases read from a case's phones: what was read, persons, and who "
    "exchanged media with whom.",
    no_args_is_help=True,
)


def _ctx(ctx: typer.Context) -> AppContext:
    return app_context(ctx, "messages")


def _audit(app_ctx: AppContext, case_id: int, what: str, detail: dict[str, Any]) -> None:
    from himaya.online.service import operator
    from himaya.security import audit

    action = audit.MESSAGES_VIEWED if what == "viewed" else audit.MESSAGES_PARSED
    with app_ctx.store().transaction() as session:
        app_ctx.audit().record(session, actor=operator(), action=action, case_id=case_id, detail=detail)


@messages_app.command("parse")
def messages_parse(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER")],
    again: Annotated[
        bool,
        typer.Option(
            "--again", help="Read every database again, parsed or not (after an upgrade of Himaya's parsers)."
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Read the case's kept databases that are not read yet (a scan does this at its end) and link every
    message's media to the case's files again. Evidence is not opened: the databases were kept, encrypted,
    by the scan."""
    from sqlalchemy import select, update

    from himaya.pipeline.artifacts import parse_case_artifacts
    from himaya.reports.records import find_case
    from himaya.store.models import ArtifactSource, EvidenceItem

    app_ctx = _ctx(ctx)
    store = app_ctx.store()
    with store.transaction() as session:
        case = find_case(session, case_number)
        case_id = case.id
        if again:
            items = select(EvidenceItem.id).where(EvidenceItem.case_id == case_id)
            session.execute(
                update(ArtifactSource)
                .where(
                    ArtifactSource.evidence_id.in_(items),
                    ArtifactSource.role == "database",
                    ArtifactSource.blob_id.is_not(None),
                )
                .values(status="pending")
            )
    summary = parse_case_artifacts(store, case_id, app_ctx.blobs(), app_ctx.console, quiet=quiet)
    _audit(
        app_ctx,
        case_id,
        "parsed",
        {"again": again, "databases": summary.parsed, "messages": summary.messages},
    )
    links = summary.links
    app_ctx.console.print(
        f"{summary.parsed} databases read ({summary.failed} unreadable, {summary.unrecognised} not "
        f"recognised): {summary.messages} messages, {summary.identities} identities; media of "
        f"{links.media_messages} messages: {links.by_path} by path, {links.by_sha256} by content hash, "
        f"{links.missing} gone",
        highlight=False,
    )


def summary_record(app_ctx: AppContext, case_number: str, limit: int) -> dict[str, Any]:
    from sqlalchemy import select

    from himaya.chats.people import OWNER, case_people
    from himaya.chats.records import iso_utc
    from himaya.reports.records import find_case
    from himaya.store.models import ArtifactSource, EvidenceItem, File

    with app_ctx.store().session() as session:
        case = find_case(session, case_number)
        sources = session.execute(
            select(ArtifactSource, File.path, EvidenceItem.name)
            .join(File, File.id == ArtifactSource.file_id)
            .join(EvidenceItem, EvidenceItem.id == ArtifactSource.evidence_id)
            .where(EvidenceItem.case_id == case.id, ArtifactSource.role == "database")
            .order_by(File.path)
        ).all()
        people = case_people(session, case.id)
    persons = sorted(people.persons.values(), key=lambda p: p.key)

    def party(key: str) -> str:
        if key == OWNER:
            return "phone owner"
        person = people.persons.get(key)
        return person.label if person else key

    return {
        "case": case_number,
        "case_id": case.id,
        "databases": [
            {
                "evidence": evidence,
                "path": path,
                "parsers": source.parsers.split(",") if source.parsers else [],
                "status": source.status,
                "messages": source.messages,
                "identities": source.identities,
                "finding": source.finding,
            }
            for source, path, evidence in sources
        ],
        "persons": [
            {
                "key": p.key,
                "names": p.names,
                "identifiers": [{"kind": kind, "value": value} for kind, value in p.identifiers],
                "sources": p.sources,
                "tips": p.tips,
            }
            for p in persons
        ],
        "exchanges": [
            {
                "from": party(e.sender),
                "to": party(e.recipient),
                "media": e.media,
                "messages": e.messages,
                "first": iso_utc(e.first),
                "last": iso_utc(e.last),
                "apps": sorted(e.apps),
            }
            for e in people.exchanges[:limit]
        ],
    }


@messages_app.command("summary")
def messages_summary(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER")],
    limit: Annotated[int, typer.Option("--limit", help="Most exchanges listed (most media first).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """The databases read (or not, and why), the persons they name (contacts merged with accounts by shared
    phone numbers, JIDs, emails) and who exchanged media with whom: counts, first and last time."""
    app_ctx = _ctx(ctx)
    record = summary_record(app_ctx, case_number, limit)
    # Persons and who exchanged pictures with whom: reading them is on the record, as in the app.
    _audit(app_ctx, record["case_id"], "viewed", {"persons": len(record["persons"]), "json": as_json})
    if as_json:
        typer.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    console = app_ctx.console
    databases = Table(title="Databases", show_lines=False)
    for column in ("evidence", "path", "read by", "status", "messages", "identities"):
        databases.add_column(column)
    for db in record["databases"]:
        databases.add_row(
            db["evidence"],
            db["path"],
            ", ".join(db["parsers"]) or "-",
            db["status"] + (f": {db['finding']}" if db["finding"] else ""),
            str(db["messages"]),
            str(db["identities"]),
        )
    console.print(databases)
    exchanges = Table(title="Who exchanged media with whom")
    for column in ("from", "to", "media", "messages", "first (UTC)", "last (UTC)", "apps"):
        exchanges.add_column(column)
    for e in record["exchanges"]:
        exchanges.add_row(
            e["from"], e["to"], str(e["media"]), str(e["messages"]), e["first"] or "-", e["last"] or "-",
            ", ".join(e["apps"]),
        )  # fmt: skip
    console.print(exchanges)
    for person in record["persons"]:
        if person["tips"]:
            names = " · ".join(person["names"]) or person["identifiers"][0]["value"]
            console.print(
                f"named in tips {', '.join(person['tips'])}: {names}", highlight=False, markup=False
            )
    console.print(
        f"{len(record['persons'])} persons; 'himaya messages summary {case_number} --json' lists them"
    )
