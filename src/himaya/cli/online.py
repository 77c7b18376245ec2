"""`himaya online ...`: capture reported URLs, track what matched, notify hosts, re-check until removed.

Nothing here reaches the internet unless asked: `capture` and `recheck` fetch only the URLs given (and
the media of those pages), refuse private and local addresses unless --allow-network names them, and RDAP
look-ups happen only with the setting online.rdap. See docs/online.md.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from himaya.cli.context import AppContext, app_context
from himaya.errors import UsageError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

online_app = typer.Typer(
    help="Online detection and takedown: capture reported URLs, match their media, notify hosts, "
    "re-check until removed (docs/online.md).",
    no_args_is_help=True,
)
notice_app = typer.Typer(help="Read and settle one notice.", no_args_is_help=True)
contacts_app = typer.Typer(
    help="The unit's table of abuse contacts and partner channels.", no_args_is_help=True
)
online_app.add_typer(notice_app, name="notice")
online_app.add_typer(contacts_app, name="contacts")

AllowOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-network",
        metavar="CIDR",
        help="Also allow this network (repeatable), e.g. a lab server; private, loopback, link-local and "
        "CGNAT addresses are refused otherwise. Same as the setting online.allow_networks.",
    ),
]
FormatOption = Annotated[str, typer.Option("--format", help="text or json.")]


def _ctx(ctx: typer.Context) -> AppContext:
    return app_context(ctx, "online")


def _stdout() -> Console:
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def _audit(app_ctx: AppContext, action: str, case_id: int | None, detail: dict[str, Any]) -> None:
    with app_ctx.store().transaction() as session:
        _note(app_ctx, session, action, case_id, detail)


def _note(
    app_ctx: AppContext, session: Session, action: str, case_id: int | None, detail: dict[str, Any]
) -> None:
    """An audit event in the caller's transaction: the change and its record commit together."""
    from himaya.online.service import operator

    app_ctx.audit().record(session, actor=operator(), action=action, case_id=case_id, detail=detail)


def _case_id(app_ctx: AppContext, case_number: str) -> int:
    from himaya.reports.records import find_case

    with app_ctx.store().session() as session:
        return find_case(session, case_number).id


def _format(fmt: str) -> str:
    if fmt not in ("text", "json"):
        raise UsageError(f"--format must be text or json, not {fmt!r}")
    return fmt


# ---------------------------------------------------------------- capture


@online_app.command("capture")
def capture(
    ctx: typer.Context,
    case_number: Annotated[
        str, typer.Argument(metavar="CASE_NUMBER", help="The case the captures belong to.")
    ],
    urls: Annotated[
        list[str] | None, typer.Argument(metavar="URL...", help="Reported pages or media.")
    ] = None,
    from_file: Annotated[
        Path | None, typer.Option("--from-file", help="URLs one per line (# comments allowed).")
    ] = None,
    depth: Annotated[
        int | None,
        typer.Option(
            "--depth",
            help="1: each page and its media (default, setting online.depth); 2: also the pages it links "
            "to on the same host, and their media.",
        ),
    ] = None,
    allow_network: AllowOption = None,
    again: Annotated[
        bool, typer.Option("--again", help="Capture pages that were captured before once more.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Analysis processes (default: one per core).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Fetch reported URLs and their media, keep every exchange as WARC (encrypted), and scan the media.

    Captured media appear in `himaya export CASE --format jsonl` like any file, with `path` = the media
    URL and `evidence` = the page URL. What matched an alert hash set becomes a tracked location
    (`himaya online status CASE`). Run the same command again after an interruption: pages captured in
    full are skipped, the rest is done.
    """
    from dataclasses import replace

    from himaya.config import ScanSettings
    from himaya.online.capture import read_url_file
    from himaya.online.service import capture_and_track, load_settings, operator
    from himaya.security import audit

    app_ctx = _ctx(ctx)
    targets = list(urls or [])
    if from_file is not None:
        try:
            text = from_file.read_text(encoding="utf-8-sig")
        except OSError as error:
            raise UsageError(f"cannot read {from_file}: {error.strerror}") from None
        targets += read_url_file(text, str(from_file))
    if not targets:
        raise UsageError("give at least one URL, or --from-file with one URL per line")
    store = app_ctx.store()
    settings = load_settings(store)
    if depth is not None:
        if depth < 1:
            raise UsageError("--depth must be 1 or more")
        settings = replace(settings, depth=depth)
    scan_settings = ScanSettings(workers=workers if workers is not None else (os.cpu_count() or 1))
    try:
        summary = capture_and_track(
            store,
            app_ctx.blobs(),
            case_number,
            targets,
            settings=settings,
            scan_settings=scan_settings,
            actor=operator(),
            allow_networks=allow_network or [],
            again=again,
            console=app_ctx.console,
            quiet=quiet,
        )
    except KeyboardInterrupt:
        app_ctx.console.print(
            "[yellow]capture interrupted; the pages fetched in full are saved. Run the same command to "
            "finish: they are not fetched again."
        )
        raise typer.Exit(1) from None
    _audit(
        app_ctx,
        audit.ONLINE_CAPTURED,
        _case_id(app_ctx, case_number),
        {"pages": summary.pages, "skipped": summary.pages_skipped, "media": summary.media},
    )
    scan = summary.scan
    rate = summary.pages / summary.seconds if summary.seconds else 0.0
    app_ctx.console.print(
        f"captured {summary.pages} pages ({rate:.2f} pages/s), {summary.media} media, "
        f"{summary.bytes / 1e6:.1f} MB, {summary.fetch_errors} fetch errors; "
        f"{summary.pages_skipped} captured before (--again to capture them once more)",
        highlight=False,
    )
    if scan is not None:
        app_ctx.console.print(
            f"scan {scan.status}: {scan.files_written} files analysed, {scan.files_error} with errors, "
            f"[bold]{scan.matched_files} matching an alert hash set[/]; "
            f"{summary.locations_new} new tracked locations (`himaya online status {case_number}`)"
        )
        if scan.status == "interrupted":
            raise typer.Exit(1)


# ---------------------------------------------------------------- status and statistics


@online_app.command("status")
def status(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER")],
    fmt: FormatOption = "text",
    by_hash: Annotated[
        bool,
        typer.Option(
            "--by-hash",
            help="One entry per content (SHA-256) over all its URLs: removed only when every URL is.",
        ),
    ] = False,
) -> None:
    """Every tracked location of the case: url, page_url, status (detected | confirmed | notified |
    removed | online), server_ip, asn, org, country, first_seen_utc, removed_utc, notices (json: a list
    of objects with these keys, times in UTC ISO-8601)."""
    from himaya.online.locations import hash_records, status_records
    from himaya.reports.records import find_case

    app_ctx = _ctx(ctx)
    with app_ctx.store().session() as session:
        case_id = find_case(session, case_number).id
        records = hash_records(session, case_id) if by_hash else status_records(session, case_id)
    if _format(fmt) == "json":
        typer.echo(json.dumps(records, indent=2, ensure_ascii=False))
        return
    if by_hash:
        hashes = Table("sha256", "status", "category", "locations", "open", "hosts", "removed (UTC)")
        for h in records:
            hashes.add_row(
                h["sha256"][:16] + "…",
                h["status"],
                h["category"] or "",
                str(h["locations"]),
                str(h["open"]),
                escape(", ".join(h["hosts"])),
                h["removed_utc"] or "",
            )
        _stdout().print(hashes if records else "no tracked content in this case")
        return
    table = Table("id", "status", "url", "host", "asn", "country", "first seen (UTC)", "removed", "notices")
    for r in records:
        table.add_row(
            str(r["id"]),
            r["status"] + (" [held]" if r["hold"] else ""),
            escape(r["url"]),
            escape(r["host"]),
            str(r["asn"] or ""),
            r["country"] or "",
            r["first_seen_utc"] or "",
            r["removed_utc"] or "",
            ", ".join(n["reference"] for n in r["notices"]),
        )
    _stdout().print(table if records else "no tracked locations in this case")


@online_app.command("stats")
def stats(
    ctx: typer.Context,
    case_number: Annotated[
        str | None, typer.Argument(metavar="[CASE_NUMBER]", help="One case (default: every case).")
    ] = None,
    fmt: FormatOption = "text",
) -> None:
    """Time to removal per host and overall (median, 90th percentile, in hours from the first notice),
    notices sent, open locations, re-appearances of the same content at new URLs."""
    from himaya.online.stats import statistics

    app_ctx = _ctx(ctx)
    with app_ctx.store().session() as session:
        record = statistics(session, case_number)
    if _format(fmt) == "json":
        typer.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    out = _stdout()
    overall = record["overall"]
    out.print(
        f"locations {overall['locations']}, open {overall['open']}, removed after notice "
        f"{overall['removed_after_notice']} (median {overall['median_hours_to_removal']} h, p90 "
        f"{overall['p90_hours_to_removal']} h), removed before any notice "
        f"{overall['removed_before_notice']}; "
        f"notices sent {record['notices_sent']}; re-appearances {record['reappearances']}"
    )
    table = Table("host", "locations", "open", "removed", "median h", "p90 h")
    for host, group in record["hosts"].items():
        table.add_row(
            escape(host),
            str(group["locations"]),
            str(group["open"]),
            str(group["removed_after_notice"] + group["removed_before_notice"]),
            str(group["median_hours_to_removal"] or ""),
            str(group["p90_hours_to_removal"] or ""),
        )
    if record["hosts"]:
        out.print(table)


# ---------------------------------------------------------------- lifecycle


@online_app.command("confirm")
def confirm(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER")],
    locations: Annotated[
        list[str],
        typer.Argument(metavar="LOCATION...", help="Location ids or URLs, or `all` (every detected one)."),
    ],
    category: Annotated[
        str | None,
        typer.Option(
            "--category",
            help="Your decision on the content: illegal | harmful-abusive | age-difficult | cgi. Needed "
            "for a captured URL that matched nothing (new material), or matched without a category.",
        ),
    ] = None,
) -> None:
    """Confirm, after looking at them, that locations serve what was matched (detected → confirmed).

    A captured URL that matched no hash set can be confirmed by its URL too: it becomes a tracked
    location with --category."""
    from himaya.online.locations import confirm as confirm_locations
    from himaya.online.locations import confirm_captured, select_locations
    from himaya.online.service import hosting_lookup, load_settings, operator
    from himaya.security import audit

    app_ctx = _ctx(ctx)
    case_id = _case_id(app_ctx, case_number)
    settings = load_settings(app_ctx.store())
    actor = operator()
    from contextlib import ExitStack

    with app_ctx.store().transaction() as session, ExitStack() as stack:
        tracked = select_locations(
            session, case_id, locations, statuses=("detected",) if locations == ["all"] else ()
        )
        named = {str(loc.id) for loc in tracked} | {loc.url for loc in tracked}
        changed = confirm_locations(session, tracked, actor, category)
        for url in (s for s in locations if s not in named and s != "all"):
            if url.isdigit():
                raise UsageError(f"no tracked location {url} in this case")
            if category is None:
                raise UsageError(f"{url} is not tracked: to track it, give its category (--category)")
            changed.append(
                confirm_captured(
                    session, case_id, url, actor, hosting_lookup(session, settings, None, stack), category
                )
            )
        for location in changed:
            _note(
                app_ctx,
                session,
                audit.LOCATION_CONFIRMED,
                case_id,
                {"location": location.id, "url": location.url},
            )
        app_ctx.console.print(f"{len(changed)} locations confirmed", highlight=False)


@online_app.command("approve")
def approve(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER")],
    locations: Annotated[
        list[str],
        typer.Argument(metavar="LOCATION...", help="Location ids or URLs, or `all` (every confirmed)."),
    ],
) -> None:
    """Record a supervisor's approval to notify the hosts of confirmed locations (in the app, only a
    supervisor may; here the operating-system account is recorded)."""
    from himaya.online.locations import approve as approve_locations
    from himaya.online.locations import select_locations
    from himaya.online.service import operator
    from himaya.security import audit

    app_ctx = _ctx(ctx)
    case_id = _case_id(app_ctx, case_number)
    actor = operator()
    with app_ctx.store().transaction() as session:
        chosen = select_locations(
            session, case_id, locations, statuses=("confirmed",) if locations == ["all"] else ()
        )
        changed = approve_locations(session, chosen, actor)
        for location in changed:
            _note(
                app_ctx,
                session,
                audit.LOCATION_APPROVED,
                case_id,
                {"location": location.id, "url": location.url},
            )
    app_ctx.console.print(f"{len(changed)} locations approved for notice", highlight=False)


@online_app.command("hold")
def hold(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER")],
    reason: Annotated[str, typer.Option("--reason", help="Why no notice may go out (kept on record).")],
    host: Annotated[
        str | None,
        typer.Option("--host", help="Only this host (and its sub-domains), e.g. one run by the suspect."),
    ] = None,
    location: Annotated[int | None, typer.Option("--location", help="Only this location id.")] = None,
    unit_wide: Annotated[
        bool, typer.Option("--unit-wide", help="With --host: no case may notify this host.")
    ] = False,
) -> None:
    """Deconfliction: do not notify (the whole case by default — a covert investigation — or one host or
    location). Notices are never created for held locations until the hold is lifted."""
    from himaya.online.locations import add_hold
    from himaya.online.service import operator
    from himaya.security import audit

    app_ctx = _ctx(ctx)
    case_id = _case_id(app_ctx, case_number)
    if host and location is not None:
        raise UsageError("give --host or --location, not both")
    if unit_wide and not host:
        raise UsageError("--unit-wide applies to a --host hold")
    scope = "host" if host else "location" if location is not None else "case"
    with app_ctx.store().transaction() as session:
        made = add_hold(
            session,
            None if unit_wide else case_id,
            scope,
            host if host else str(location) if location is not None else None,
            reason,
            operator(),
        )
        _note(
            app_ctx,
            session,
            audit.HOLD_SET,
            case_id,
            {"hold": made.id, "scope": scope, "value": made.value, "reason": reason},
        )
        app_ctx.console.print(f"hold {made.id} set ({scope}); lift it with `himaya online lift {made.id}`")


@online_app.command("lift")
def lift(ctx: typer.Context, hold_id: Annotated[int, typer.Argument(metavar="HOLD_ID")]) -> None:
    """Lift a hold: notices may go out again."""
    from himaya.online.locations import lift_hold
    from himaya.online.service import operator
    from himaya.security import audit

    app_ctx = _ctx(ctx)
    with app_ctx.store().transaction() as session:
        lifted = lift_hold(session, hold_id, operator())
        _note(
            app_ctx,
            session,
            audit.HOLD_LIFTED,
            lifted.case_id,
            {"hold": lifted.id, "scope": lifted.scope, "value": lifted.value},
        )
    app_ctx.console.print(f"hold {hold_id} lifted", highlight=False)


@online_app.command("holds")
def holds(
    ctx: typer.Context,
    case_number: Annotated[str | None, typer.Argument(metavar="[CASE_NUMBER]")] = None,
) -> None:
    """Standing holds (the case's and the unit-wide ones)."""
    from himaya.online.locations import standing_holds

    app_ctx = _ctx(ctx)
    case_id = _case_id(app_ctx, case_number) if case_number else None
    with app_ctx.store().session() as session:
        rows = standing_holds(session, case_id)
        table = Table("id", "case", "scope", "value", "reason", "by", "since (UTC)")
        for h in rows:
            table.add_row(
                str(h.id),
                str(h.case_id or "unit-wide"),
                h.scope,
                escape(h.value or ""),
                escape(h.reason),
                escape(h.created_by),
                str(h.created_at)[:19],
            )
    _stdout().print(table if rows else "no standing holds")


# ---------------------------------------------------------------- notices


@online_app.command("notify")
def notify(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be created; create nothing.")
    ] = False,
    no_send: Annotated[
        bool, typer.Option("--no-send", help="Record the notices as 'to send' even if SMTP is configured.")
    ] = False,
) -> None:
    """Notices for approved locations: a removal notice per host (a preservation request first with
    online.preservation_first), or a referral to the partner channel for hosts abroad. Held locations get
    nothing. Sent over SMTP when online.smtp_host is set; otherwise recorded 'to send' for a person."""
    from himaya.online.notify import notify as run_notify
    from himaya.online.service import load_settings, operator
    from himaya.security import audit

    app_ctx = _ctx(ctx)
    case_id = _case_id(app_ctx, case_number)
    settings = load_settings(app_ctx.store())
    actor = operator()
    with app_ctx.store().transaction() as session:
        result = run_notify(session, case_id, settings, actor, send=not no_send, dry_run=dry_run)
        for notice in result.created:
            _note(
                app_ctx,
                session,
                audit.NOTICE_CREATED,
                case_id,
                {"notice": notice.reference, "kind": notice.kind, "host": notice.host},
            )
        for notice in result.sent:
            _note(
                app_ctx,
                session,
                audit.NOTICE_SENT,
                case_id,
                {"notice": notice.reference, "to": notice.recipient_email},
            )
        lines = [
            f"{n.reference}: {n.kind} to {n.recipient_name} <{n.recipient_email or 'no address'}>: {n.status}"
            + (f" ({n.error})" if n.error else "")
            for n in result.created
        ]
        for location, reason in result.held:
            lines.append(f"location {location.id} held, no notice: {reason}")
        for refused, reason in result.refused:
            lines.append(f"no notice for locations {', '.join(str(loc.id) for loc in refused)}: {reason}")
        for location in result.waiting:
            lines.append(f"location {location.id}: waits for its preservation request to be sent")
    out = _stdout()
    for line in lines or ["nothing to notify: no approved, confirmed location without a notice"]:
        out.print(escape(line))


@online_app.command("notices")
def notices_list(
    ctx: typer.Context, case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER")]
) -> None:
    """The case's notices and referrals with their status (to-send, sent, failed)."""
    from sqlalchemy import select

    from himaya.store.models import OnlineNotice

    app_ctx = _ctx(ctx)
    case_id = _case_id(app_ctx, case_number)
    with app_ctx.store().session() as session:
        rows = list(
            session.scalars(
                select(OnlineNotice).where(OnlineNotice.case_id == case_id).order_by(OnlineNotice.id)
            )
        )
        table = Table("reference", "kind", "host", "to", "language", "status", "sent (UTC)")
        for n in rows:
            table.add_row(
                n.reference,
                n.kind,
                escape(n.host),
                escape(n.recipient_email or n.recipient_name or ""),
                n.language,
                n.status,
                str(n.sent_at)[:19] if n.sent_at else "",
            )
    _stdout().print(table if rows else "no notices in this case")


@notice_app.command("show")
def notice_show(
    ctx: typer.Context,
    reference: Annotated[str, typer.Argument(metavar="REFERENCE")],
    html: Annotated[bool, typer.Option("--html", help="Print the HTML form instead of the text.")] = False,
) -> None:
    """Print a notice as recorded (to send it by hand from the unit's own mailbox)."""
    from himaya.online.notify import find_notice

    app_ctx = _ctx(ctx)
    with app_ctx.store().session() as session:
        notice = find_notice(session, reference)
        typer.echo(f"To: {notice.recipient_name} <{notice.recipient_email or ''}>")
        typer.echo(f"Subject: {notice.subject}\n")
        typer.echo(notice.body_html if html else notice.body_text)


@notice_app.command("sent")
def notice_sent(ctx: typer.Context, reference: Annotated[str, typer.Argument(metavar="REFERENCE")]) -> None:
    """Record that a person sent this notice by hand: its locations count as notified from now."""
    from himaya.online.notify import find_notice, mark_sent
    from himaya.security import audit

    app_ctx = _ctx(ctx)
    with app_ctx.store().transaction() as session:
        notice = find_notice(session, reference)
        if notice.status == "sent":
            raise UsageError(f"{reference} is already recorded as sent")
        mark_sent(session, notice)
        _note(
            app_ctx,
            session,
            audit.NOTICE_SENT,
            notice.case_id,
            {"notice": reference, "to": notice.recipient_email, "by": "hand"},
        )
    app_ctx.console.print(f"{reference} recorded as sent", highlight=False)


@notice_app.command("send")
def notice_send(ctx: typer.Context, reference: Annotated[str, typer.Argument(metavar="REFERENCE")]) -> None:
    """Send (again) a notice that is 'to send' or failed, over the configured SMTP server."""
    from himaya.online.notify import deliver, find_notice, smtp_settings
    from himaya.online.service import load_settings
    from himaya.security import audit

    app_ctx = _ctx(ctx)
    settings = load_settings(app_ctx.store())
    smtp = smtp_settings(settings)
    if smtp is None:
        raise UsageError("no SMTP server is configured: set online.smtp_host (himaya online settings)")
    with app_ctx.store().transaction() as session:
        notice = find_notice(session, reference)
        if notice.status == "sent":
            raise UsageError(f"{reference} was sent already")
        outcome = deliver(session, notice, smtp, settings.unit_email)
        if outcome == "sent":
            _note(
                app_ctx,
                session,
                audit.NOTICE_SENT,
                notice.case_id,
                {"notice": reference, "to": notice.recipient_email},
            )
        message = f"{reference}: {outcome}" + (f" ({notice.error})" if notice.error else "")
    app_ctx.console.print(escape(message), highlight=False)
    if outcome != "sent":
        raise typer.Exit(1)


# ---------------------------------------------------------------- re-checks


@online_app.command("recheck")
def recheck(
    ctx: typer.Context,
    case_numbers: Annotated[
        list[str] | None, typer.Argument(metavar="[CASE_NUMBER...]", help="Only these cases (default: all).")
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Re-check every open location now, due or not.")
    ] = False,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many locations.")] = None,
    allow_network: AllowOption = None,
    no_follow_up: Annotated[
        bool, typer.Option("--no-follow-up", help="Do not create follow-up notices this time.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Re-check due locations (every online.recheck_hours) with conditional requests: removed when the URL
    is gone (404/410, DNS) or no longer serves the matched content; a follow-up notice when still online
    online.follow_up_hours after the last notice. Safe to run from cron, e.g. hourly."""
    from himaya.online.capture import make_fetcher
    from himaya.online.recheck import recheck as run_recheck
    from himaya.online.service import load_settings, operator

    app_ctx = _ctx(ctx)
    store = app_ctx.store()
    settings = load_settings(store)
    with make_fetcher(settings, allow_network or []) as fetcher:
        summary = run_recheck(
            store,
            fetcher,
            settings,
            actor=operator(),
            case_numbers=case_numbers or [],
            every=every,
            limit=limit,
            console=app_ctx.console,
            quiet=quiet,
            follow_up=not no_follow_up,
        )
    rate = summary.checked / summary.seconds if summary.seconds else 0.0
    detail = ", ".join(f"{k} {v}" for k, v in sorted(summary.outcomes.items()))
    app_ctx.console.print(
        f"re-checked {summary.checked} locations ({rate:.0f}/s): {summary.online} still online, "
        f"{summary.removed} removed, {summary.errors} not judged ({detail or 'nothing due'}); "
        f"{summary.follow_ups} follow-up notices",
        highlight=False,
    )


# ---------------------------------------------------------------- contacts, settings, WARC


@contacts_app.command("import")
def contacts_import(ctx: typer.Context, file: Annotated[Path, typer.Argument(metavar="FILE.csv")]) -> None:
    """Import abuse contacts (CSV: name,email,country,channel,asn,domain,org_contains); a bad row refuses
    the whole file. Importing the same file name again replaces its earlier rows."""
    from himaya.online.hosting import parse_contacts_csv
    from himaya.online.locations import replace_contacts

    app_ctx = _ctx(ctx)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise UsageError(f"cannot read {file}: {error.strerror}") from None
    contacts = parse_contacts_csv(text, file.name)
    with app_ctx.store().transaction() as session:
        count = replace_contacts(session, contacts, file.name)
    app_ctx.console.print(f"{count} contacts imported from {file.name}", highlight=False)


@contacts_app.command("list")
def contacts_list(ctx: typer.Context) -> None:
    """The unit's abuse contacts."""
    from himaya.online.locations import load_contacts

    app_ctx = _ctx(ctx)
    with app_ctx.store().session() as session:
        rows = load_contacts(session)
    table = Table("name", "email", "country", "channel", "asn", "domain", "org contains")
    for c in rows:
        table.add_row(
            escape(c.name),
            escape(c.email or ""),
            c.country or "",
            c.channel,
            str(c.asn or ""),
            escape(c.domain or ""),
            escape(c.org_contains or ""),
        )
    _stdout().print(
        table if rows else "no contacts; import some with `himaya online contacts import FILE.csv`"
    )


@online_app.command("settings")
def settings_command(
    ctx: typer.Context,
    key: Annotated[str | None, typer.Argument(metavar="[KEY]", help="e.g. online.mmdb")] = None,
    value: Annotated[str | None, typer.Argument(metavar="[VALUE]")] = None,
) -> None:
    """Show the online settings, or change one (an audit event). The SMTP password is never a setting:
    $HIMAYA_SMTP_PASSWORD, or the file named by online.smtp_password_file."""
    from himaya.online import settings as online_settings
    from himaya.online.service import load_settings, operator
    from himaya.security import audit

    app_ctx = _ctx(ctx)
    store = app_ctx.store()
    if key is None or value is None:
        current = online_settings.describe(load_settings(store))
        for name, shown in current:
            if key is None or name == key:
                typer.echo(f"{name} = {shown}")
        if key is not None and key not in online_settings.KEYS:
            raise UsageError(f"unknown setting {key!r}; `himaya online settings` lists them")
        return
    with store.transaction() as session:
        previous, new = online_settings.store(session, key, value, operator())
        _note(
            app_ctx, session, audit.SETTING_CHANGED, None, {"setting": key, "from": previous, "to": str(new)}
        )
    typer.echo(f"{key} = {new}")


@online_app.command("warc")
def warc(
    ctx: typer.Context,
    case_number: Annotated[str, typer.Argument(metavar="CASE_NUMBER")],
    out: Annotated[Path, typer.Option("--out", help="The .warc.gz file to write (it holds the media).")],
    page: Annotated[str | None, typer.Option("--page", help="Only the captures of this page URL.")] = None,
) -> None:
    """Write the case's captures as one WARC file, every exchange as recorded (request, response, IP,
    time, TLS certificate, SHA-256 digests), for the court or a partner. It contains the captured media:
    an export, on record in the audit trail."""
    from himaya.online.export import write_warc
    from himaya.security import audit

    app_ctx = _ctx(ctx)
    case_id = _case_id(app_ctx, case_number)
    written = write_warc(app_ctx.store(), app_ctx.blobs(), case_id, out, page)
    _audit(app_ctx, audit.EXPORT, case_id, {"format": "warc", "out": str(out), "records": written})
    app_ctx.console.print(f"{written} exchanges written to {out}", highlight=False)
