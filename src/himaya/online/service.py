"""The online workflow wired together, the same for the command line and the web app."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from typing import Any

from rich.console import Console
from sqlalchemy.orm import Session

from himaya.config import ScanSettings
from himaya.online import settings as online_settings
from himaya.online.capture import CaptureSummary, capture_urls, make_fetcher
from himaya.online.fetch import Fetcher
from himaya.online.guard import Resolver
from himaya.online.hosting import AbuseContact, IpDatabase
from himaya.online.locations import HostingLookup, load_contacts, track_captures
from himaya.online.rdap import rdap_abuse_contact
from himaya.online.settings import OnlineSettings
from himaya.store.blobs import BlobStore
from himaya.store.db import Store


def operator() -> str:
    """Who acts from the command line: the operating-system account (the app names its own users)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def load_settings(store: Store) -> OnlineSettings:
    with store.session() as session:
        return online_settings.load(session)


def json_getter(fetcher: Fetcher, limit: int = 1024 * 1024) -> Callable[[str], Any]:
    """A `get_json(url)` for RDAP that goes through the guarded fetcher (SSRF rules apply to it too)."""
    import json

    from himaya.errors import OnlineError

    def get_json(url: str) -> object:
        final = fetcher.fetch(url, max_bytes=limit, headers={"Accept": "application/rdap+json"})[-1]
        if final.status != 200:
            raise OnlineError(f"RDAP look-up {url} failed: {final.error or f'HTTP {final.status}'}")
        return json.loads(final.decoded_body(limit))

    return get_json


def hosting_lookup(
    session: Session, settings: OnlineSettings, fetcher: Fetcher | None, stack: ExitStack
) -> HostingLookup:
    ipdb = stack.enter_context(IpDatabase(settings.mmdb_paths)) if settings.mmdb_paths else None
    rdap: Callable[[str], AbuseContact | None] | None = None
    if settings.rdap and fetcher is not None:
        get_json = json_getter(fetcher)

        def ask_rdap(ip: str) -> AbuseContact | None:
            from himaya.errors import OnlineError

            try:
                return rdap_abuse_contact(ip, get_json, settings.rdap_url)
            except OnlineError:
                return None  # the contact stays unknown; a person finds it

        rdap = ask_rdap

    resolve = fetcher.guard.resolver.resolve if fetcher is not None else None
    return HostingLookup(settings, ipdb, load_contacts(session), rdap, resolve)


def capture_and_track(
    store: Store,
    blobs: BlobStore,
    case_number: str,
    urls: Sequence[str],
    *,
    settings: OnlineSettings,
    scan_settings: ScanSettings,
    actor: str,
    allow_networks: Sequence[str] = (),
    again: bool = False,
    console: Console | None = None,
    quiet: bool = False,
    resolver: Resolver | None = None,
) -> CaptureSummary:
    with ExitStack() as stack:
        fetcher = stack.enter_context(make_fetcher(settings, allow_networks, resolver))

        def track(session: Session, capture_ids: list[int]) -> int:
            lookup = hosting_lookup(session, settings, fetcher, stack)
            return track_captures(session, capture_ids, lookup)

        return capture_urls(
            store,
            blobs,
            case_number,
            urls,
            settings=settings,
            fetcher=fetcher,
            scan_settings=scan_settings,
            actor=actor,
            again=again,
            console=console,
            quiet=quiet,
            after_scan=track,
        )


def track_rematched(store: Store, case_numbers: Sequence[str]) -> int:
    """After a re-match: captured media that match now (a new hash-set version) become tracked locations.

    Offline only: the hosting comes from the .mmdb database and the contacts table; nothing is fetched and
    no name is resolved, and URLs tracked before are left as they are.
    """
    from sqlalchemy import select

    from himaya.store.models import Case, OnlineCapture

    settings = load_settings(store)
    new = 0
    with store.transaction() as session, ExitStack() as stack:
        captures = list(
            session.scalars(
                select(OnlineCapture.id)
                .join(Case, Case.id == OnlineCapture.case_id)
                .where(Case.number.in_(case_numbers), OnlineCapture.status == "finished")
            )
        )
        if captures:
            lookup = hosting_lookup(session, settings, None, stack)
            new = track_captures(session, captures, lookup, only_new=True)
    return new
