"""`himaya tips import` and `himaya tips summary`: reports, referrals and logs → who did what, from where.

See docs/formats.md ("Tips and IP events") for the formats read and the summary's JSON contract.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

import typer

from himaya.cli.context import AppContext, app_context
from himaya.errors import UsageError

tips_app = typer.Typer(
    help="Import tips, referrals and logs (IP events) into a case; summarise them per IP, account and "
    "person, with the ISP found offline.",
    no_args_is_help=True,
)

FORMATS = ("auto", "cybertip-xml", "cybertip-json", "upload-csv", "upload-json", "access-log")


def _ctx(ctx: typer.Context) -> AppContext:
    return app_context(ctx, "tips")


@tips_app.command("import")
def tips_import(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER")],
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Reports and logs to import.")],
    fmt: Annotated[
        str,
        typer.Option("--format", help=f"One of {', '.join(FORMATS)}; auto tells them apart by content."),
    ] = "auto",
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            help="For logs whose times carry no zone: the zone they were written in, as an IANA name "
            "(e.g. Asia/Amman); daylight-saving changes are applied. Never guessed.",
        ),
    ] = None,
    service: Annotated[
        str | None, typer.Option("--service", help="Access logs: the site or service they belong to.")
    ] = None,
) -> None:
    """Import CyberTipline-style reports (XML or JSON), referral and upload logs (CSV or JSON) and web
    access logs (combined log format) into a case. All or nothing: one malformed line refuses the whole
    import, naming the file and line, and exits 1. A file imported before into the case is skipped."""
    from himaya.attribution.importer import import_tips
    from himaya.online.service import operator

    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    app_ctx = _ctx(ctx)
    result = import_tips(
        app_ctx.store(),
        case_number,
        files,
        actor=operator(),
        fmt=fmt,
        default_zone=timezone,
        service=service,
    )
    if result.files:
        from himaya.reports.records import find_case
        from himaya.security import audit

        with app_ctx.store().transaction() as session:
            app_ctx.audit().record(
                session,
                actor=operator(),
                action=audit.TIPS_IMPORTED,
                case_id=find_case(session, case_number).id,
                detail={
                    "files": [path.name for path in files],
                    "reports": result.reports,
                    "events": result.events,
                },
            )
    app_ctx.console.print(
        f"imported {result.files} files ({result.files_skipped} imported before): {result.reports} reports, "
        f"{result.persons} persons, {result.events:,} IP events "
        f"(`himaya tips summary {case_number}`)",
        highlight=False,
    )


@tips_app.command("summary")
def tips_summary(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER")],
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Who did what from where. json: {"reports": N, "persons": [{"identifiers", "accounts"}], "ips":
    [{"ip", "events", "uploads", "matched", "first_utc", "last_utc", "ports", "asn", "org", "country",
    "flags"}], "events": [{"ip", "port", "time_utc", "event", "account", "source"}]} — IPs in canonical
    form, times in UTC ISO-8601. The ISP comes from the .mmdb files of the setting online.mmdb."""
    from himaya.attribution.summary import activity_lines, summary, to_json
    from himaya.online.hosting import IpDatabase
    from himaya.online.service import load_settings
    from himaya.reports.records import find_case

    if fmt not in ("text", "json"):
        raise UsageError("--format must be text or json")
    app_ctx = _ctx(ctx)
    store = app_ctx.store()
    settings = load_settings(store)
    with ExitStack() as stack, store.session() as session:
        ipdb = stack.enter_context(IpDatabase(settings.mmdb_paths)) if settings.mmdb_paths else None
        record = summary(session, find_case(session, case_number).id, ipdb, settings.unit_country)
    if fmt == "json":
        typer.echo(to_json(record))
        return
    typer.echo(
        f"{record['reports']} reports, {len(record['persons'])} persons, {len(record['events'])} events"
    )
    for line in activity_lines(record):
        typer.echo(line)
    if ipdb is None:
        typer.echo("(no IP database: set online.mmdb to see who holds each address)")


# --- requests to ISPs (docs/formats.md, "Requests to ISPs") -----------------------------------------

request_app = typer.Typer(
    help="One ISP request or referral: show it, record it as sent, record the answer.", no_args_is_help=True
)
tips_app.add_typer(request_app, name="request")

LANGUAGES = ("auto", "en", "ar")


@tips_app.command("requests")
def tips_requests(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER")],
    language: Annotated[
        str,
        typer.Option(
            "--language",
            help="auto (Arabic for ISPs in Arabic-speaking countries, as online.notice_language says), en "
            "or ar.",
        ),
    ] = "auto",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write REF.html and REF.pdf of every new draft here.")
    ] = None,
) -> None:
    """Draft every request due for the case's IP events: a subscriber-information request per ISP (after a
    preservation request when online.preservation_first is set), a referral to the partner channel per
    country abroad. Prints what was drafted and what was NOT, with the reason (internal address, shared
    address without a source port, no ISP known). Drafting again drafts only for events not yet covered."""
    from himaya.attribution import documents
    from himaya.attribution.requests import draft_requests, isp_label, request_events
    from himaya.attribution.summary import summary
    from himaya.online.hosting import IpDatabase
    from himaya.online.service import load_settings, operator
    from himaya.reports.records import find_case
    from himaya.security import audit

    if language not in LANGUAGES:
        raise UsageError(f"--language must be one of {', '.join(LANGUAGES)}")
    app_ctx = _ctx(ctx)
    store = app_ctx.store()
    settings = load_settings(store)
    if not settings.mmdb_paths:
        raise UsageError(
            "no IP database: set online.mmdb (GeoLite2-ASN and -Country .mmdb files) so that the ISP of "
            "every address is known, then run this again"
        )
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, str]] = []
    with ExitStack() as stack, store.transaction() as session:
        ipdb = stack.enter_context(IpDatabase(settings.mmdb_paths))
        case_id = find_case(session, case_number).id
        record = summary(session, case_id, ipdb, settings.unit_country)
        result = draft_requests(session, case_id, record, settings, actor=operator(), language=language)
        app_ctx.audit().record_many(
            session,
            [
                audit.NewAuditEvent(
                    action=audit.ISP_REQUEST_DRAFTED,
                    actor=operator(),
                    case_id=case_id,
                    detail={
                        "request": request.reference,
                        "kind": request.kind,
                        "asn": request.asn,
                        "org": request.org,
                        "country": request.country,
                        "events": len(request_events(request)),
                        "language": request.language,
                        "warnings": result.warnings.get(request.reference, []),
                    },
                )
                for request in result.drafted
            ],
        )
        written = [(request.reference, request.html) for request in result.drafted]
    echo = typer.echo
    for request in result.drafted:
        events = len(request_events(request))
        to = (
            f"{settings.partner_name} for {request.country}"
            if request.kind == "referral"
            else isp_label(request.asn, request.org, request.country)
        )
        echo(f"drafted {request.reference}: {request.kind} → {to}, {_events(events)} [{request.language}]")
        for note in result.warnings.get(request.reference, []):
            echo(f"  warning: {note}")
    for refused in result.refused:
        echo(f"NOT drafted for {refused.ip} ({_events(len(refused.events))}): {refused.reason}")
    for waiting in result.waiting:
        marks = ", ".join(f"`himaya tips request sent {ref}`" for ref in waiting.preservation)
        echo(
            f"waiting: the subscriber request to {waiting.isp} ({_events(waiting.events)}) follows the "
            f"preservation request once it is sent ({marks})"
        )
    if not result.drafted:
        echo(f"nothing new to draft ({_events(result.covered)} already covered by a request)")
    if not settings.unit_country:
        echo("note: online.unit_country is not set, so no address counts as abroad (no partner referral)")
    for reference, html in written if out is not None else []:
        assert out is not None
        (out / f"{reference}.html").write_text(html, encoding="utf-8")
        (out / f"{reference}.pdf").write_bytes(documents.render_pdf(html, what=reference))
    if out is not None and written:
        echo(f"wrote {len(written)} requests as HTML and PDF to {out}")


def _events(count: int) -> str:
    return f"{count} event" if count == 1 else f"{count} events"


@request_app.command("show")
def request_show(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(metavar="REFERENCE")],
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Also write the request as PDF to FILE.")] = None,
) -> None:
    """Print a request as recorded: to whom, its status, every event (UTC and local time) and the answer."""
    from himaya.attribution import documents
    from himaya.attribution.requests import find_request, isp_label, request_events
    from himaya.online.service import operator
    from himaya.security import audit

    app_ctx = _ctx(ctx)
    with app_ctx.store().transaction() as session:
        request = find_request(session, reference)
        echo = typer.echo
        echo(f"{request.reference}: {request.kind}, {request.status} [{request.language}]")
        if request.kind == "referral":
            echo(f"to: the partner channel, for addresses in {request.country}")
        else:
            echo(f"to: {isp_label(request.asn, request.org, request.country)}")
        built = request.ipdb_built_at.date().isoformat() if request.ipdb_built_at else "unknown"
        echo(f"IP database built: {built}")
        echo(f"drafted {str(request.created_at)[:19]} by {request.created_by}")
        if request.sent_at:
            echo(f"sent {str(request.sent_at)[:19]}")
        for event in request_events(request):
            port = event["port"] if event["port"] is not None else "-"
            flags = f" [{', '.join(event['flags'])}]" if event["flags"] else ""
            echo(
                f"  {event['ip']} port {port}  {event['time_utc']}  ({event['time_local']} {event['zone']})  "
                f"{event['event']}  {event['account'] or '-'}{flags}"
            )
        if request.status == "answered":
            echo(f"answered {str(request.answered_at)[:19]} by {request.answered_by}:")
            echo(request.response_text or "")
            if request.response_name:
                echo(f"attached file: {request.response_name} (kept encrypted in the blob store)")
        # The answer names a person: reading it is on the record, as reading tips in the app is.
        app_ctx.audit().record(
            session,
            actor=operator(),
            action=audit.TIPS_VIEWED,
            case_id=request.case_id,
            detail={"request": request.reference, "pdf": pdf is not None},
        )
        html = request.html
    if pdf is not None:
        pdf.write_bytes(documents.render_pdf(html, what=reference))
        echo(f"wrote {pdf}")


@request_app.command("sent")
def request_sent(ctx: typer.Context, reference: Annotated[str, typer.Argument(metavar="REFERENCE")]) -> None:
    """Record that the request went out (by the unit's own channel). With online.preservation_first, a sent
    preservation request lets the ISP's subscriber request be drafted (`himaya tips requests CASE`)."""
    from himaya.attribution.requests import find_request, mark_sent
    from himaya.online.service import operator
    from himaya.security import audit

    app_ctx = _ctx(ctx)
    with app_ctx.store().transaction() as session:
        request = find_request(session, reference)
        mark_sent(request)
        app_ctx.audit().record(
            session,
            actor=operator(),
            action=audit.ISP_REQUEST_SENT,
            case_id=request.case_id,
            detail={"request": reference, "kind": request.kind, "by": "hand"},
        )
    app_ctx.console.print(f"{reference} recorded as sent", highlight=False)


@request_app.command("answer")
def request_answer(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(metavar="REFERENCE")],
    subscriber_file: Annotated[
        Path | None,
        typer.Option("--subscriber-file", help="A text file with the subscriber's details as answered."),
    ] = None,
    subscriber: Annotated[
        str | None, typer.Option("--subscriber", help="The subscriber's details as answered.")
    ] = None,
    attach: Annotated[
        Path | None,
        typer.Option("--attach", help="The ISP's answer as received (a PDF, a letter): kept encrypted."),
    ] = None,
) -> None:
    """Record the answer to a sent request: the subscriber's details (--subscriber-file or --subscriber) and
    the file that came with it (--attach), which is stored encrypted in the blob store, never in clear."""
    import hashlib

    from himaya.attribution.requests import MAX_ATTACHMENT, find_request, record_answer
    from himaya.online.service import operator
    from himaya.security import audit

    if (subscriber_file is None) == (subscriber is None):
        raise UsageError(
            "give the subscriber's details with exactly one of --subscriber-file or --subscriber"
        )
    if subscriber_file is not None:
        text = _read_limited(subscriber_file, 1024 * 1024).decode("utf-8", errors="replace")
    else:
        text = subscriber or ""
    attachment = (attach.name, _read_limited(attach, MAX_ATTACHMENT)) if attach is not None else None
    app_ctx = _ctx(ctx)
    blobs = app_ctx.blobs()
    with app_ctx.store().transaction() as session:
        request = find_request(session, reference)
        record_answer(request, blobs, text=text, actor=operator(), attachment=attachment)
        detail: dict[str, object] = {"request": reference, "kind": request.kind}
        if attachment is not None:
            detail |= {"attachment": attachment[0], "sha256": hashlib.sha256(attachment[1]).hexdigest()}
        app_ctx.audit().record(
            session,
            actor=operator(),
            action=audit.ISP_REQUEST_ANSWERED,
            case_id=request.case_id,
            detail=detail,
        )
    app_ctx.console.print(f"{reference} answered and recorded against its IP events", highlight=False)


def _read_limited(path: Path, limit: int) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror}; check the path") from None
    if len(data) > limit:
        raise UsageError(f"{path} is larger than {limit:,} bytes; give the answer's text or a smaller file")
    return data
