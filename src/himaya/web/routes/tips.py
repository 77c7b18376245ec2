"""The Tips page of a case: reports, referrals and logs merged into who did what, from where — per IP
address, per account, per person, and as a timeline — and the form that imports more files
(docs/formats.md, "Tips and IP events").

Uploads are written to a private temporary folder under generated, sanitised names before the importer
reads them: a client's file name is never trusted as a path. The import runs within the request: it is
all or nothing and fast (about a million lines in under 20 s), so a form can wait for it.

The summary is computed again on every view (about a second for 100,000 events); a case with millions of
events would want it cached, or its tables paged in the database.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from himaya.attribution.detect import FORMATS as READ_FORMATS
from himaya.attribution.importer import ImportSummary, import_tips
from himaya.attribution.normalise import canonical_ip
from himaya.attribution.summary import summary
from himaya.errors import HimayaError
from himaya.online import settings as online_settings
from himaya.online.hosting import IpDatabase
from himaya.security import audit
from himaya.store.db import Store
from himaya.store.models import Case
from himaya.web.context import Ctx, require, require_case, user_ctx
from himaya.web.i18n import N_

router = APIRouter()

FORMATS = ("auto", *READ_FORMATS)
MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # one form; larger sets belong to `himaya tips import`
MAX_FILES = 100
TIMELINE_ROWS = 500
PORTS_SHOWN = 5
ACTIVITY_LINES = 20
STORED_NAME_LENGTH = 100
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")

# Flags from the summary, in the reader's language (marked here so that the extractor sees them).
FLAGS = {
    "proxy-reported": N_("proxy reported"),
    "hosting": N_("hosting/VPN range"),
    "abroad": N_("abroad → partner referral"),
    "shared-address-no-port": N_("shared address without port → no subscriber request"),
    "internal-address": N_("internal address"),
}
ROLES = {
    "reported": N_("reported person"),
    "victim": N_("victim"),
    "recipient": N_("intended recipient"),
}
IDENTIFIERS = {
    "email": N_("e-mail"),
    "phone": N_("phone"),
    "user_id": N_("user id"),
    "screen_name": N_("screen name"),
    "display_name": N_("display name"),
    "profile_url": N_("profile address"),
    "device_id": N_("device id"),
    "account": N_("account"),
}
FORMAT_NAMES = {
    "auto": N_("recognise by content"),
    "cybertip-xml": N_("CyberTipline report (XML)"),
    "cybertip-json": N_("CyberTipline report (JSON)"),
    "upload-csv": N_("upload log or referral list (CSV)"),
    "upload-json": N_("upload log or referral list (JSON)"),
    "access-log": N_("web server access log"),
}


# ------------------------------------------------------------------ access


def _case_for(permission: str) -> Callable[..., Case]:
    """A dependency: the case, if the user is assigned to it and may view tips; then `permission`.

    A dependency rather than a call in the handler, so that need-to-know answers 403 before an upload is
    even validated.
    """

    def dependency(case_number: str, c: Annotated[Ctx, Depends(user_ctx)]) -> Case:
        case = require_case(c, case_number, "view_tips")
        require(c, permission)
        return case

    return dependency


# ------------------------------------------------------------------ uploads


def stored_name(client_name: str | None) -> str:
    """A file name safe as one path component, kept recognisable: the importer records it as the source.

    Only [A-Za-z0-9._-] survive (a separator, a drive letter or a control character cannot), cut to 100
    characters; a name of dots alone (".", "..") or nothing becomes "upload".
    """
    safe = _UNSAFE_NAME.sub("_", client_name or "")[:STORED_NAME_LENGTH]
    return safe if safe.strip(".") else "upload"


class UploadRefused(Exception):
    """An upload the form does not take (none chosen, too many, too large); the message says which."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.status_code = status_code


def _save_uploads(uploads: list[UploadFile], folder: Path) -> list[tuple[str, Path]]:
    """Each upload copied into its own numbered folder under `folder`: (client's name, path written).

    One folder per upload, rather than a numbered prefix on the name, keeps the importer's source name
    exactly the sanitised client name while two uploads of the same name still cannot collide.
    """
    chosen = [u for u in uploads if u.filename or (u.size or 0) > 0]  # a browser sends an empty part
    if not chosen:
        raise UploadRefused(N_("choose at least one file to import"))
    if len(chosen) > MAX_FILES:
        raise UploadRefused(
            f"{len(chosen)} files: at most {MAX_FILES} per import here; import more with "
            "`himaya tips import CASE FILE...`"
        )
    saved: list[tuple[str, Path]] = []
    total = 0
    for index, upload in enumerate(chosen):
        target_folder = folder / str(index)
        target_folder.mkdir()
        target = target_folder / stored_name(upload.filename)
        # Checked although the name cannot hold a separator: this is the one place a client's name
        # becomes a path.
        if target.resolve().parent != target_folder.resolve():
            raise UploadRefused(N_("a file name could not be made safe; rename the file and try again"))
        with target.open("xb") as out:
            while block := upload.file.read(1024 * 1024):
                total += len(block)
                if total > MAX_UPLOAD_BYTES:
                    raise UploadRefused(
                        f"the files add up to more than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB, the most "
                        "one import here takes; import them in parts, or with `himaya tips import CASE "
                        "FILE...`",
                        status_code=413,
                    )
                out.write(block)
        saved.append((upload.filename or target.name, target))
    return saved


class _RequestStore(Store):
    """The importer's store, writing in this request's own transaction.

    On SQLite the request may already hold the write lock (its session refreshed the user's idle clock):
    an import in a second transaction would wait on it until the busy timeout. In one transaction the
    audit event also commits with the rows it describes.
    """

    def __init__(self, base: Store, session: Session) -> None:
        super().__init__(base.engine, base.index_dir)
        self._request_session = session

    @contextmanager
    def session(self) -> Iterator[Session]:
        yield self._request_session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        yield self._request_session


# ------------------------------------------------------------------ the page


def _term(gettext: Callable[[str], str], names: dict[str, str]) -> Callable[[str], str]:
    """A word from data in the reader's language; one the app does not know is shown as written."""

    def term(value: str) -> str:
        return gettext(names[value]) if value in names else value

    return term


def _when(value: str | None) -> str:
    """An ISO-8601 UTC time from the summary, shown as "2026-03-20 08:00:00" (the column says UTC)."""
    return (value or "").replace("T", " ").removesuffix("Z")


def _ip_filter(text: str) -> str:
    try:
        return canonical_ip(text.strip())
    except ValueError:
        return text.strip()  # matches nothing; the page says so rather than refusing the filter


def _summary(c: Ctx, case: Case) -> tuple[dict[str, Any], str | None, bool]:
    """The case's summary, the IP database's error (if it would not open) and whether one was used."""
    settings = online_settings.load(c.db)
    with ExitStack() as stack:
        ipdb: IpDatabase | None = None
        error: str | None = None
        if settings.mmdb_paths:
            try:
                ipdb = stack.enter_context(IpDatabase(settings.mmdb_paths))
            except HimayaError as problem:
                error = str(problem)
        record = summary(c.db, case.id, ipdb, settings.unit_country)
    return record, error, ipdb is not None


def _page(
    c: Ctx,
    case: Case,
    ip: str = "",
    account: str = "",
    result: dict[str, int] | None = None,
    import_error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    record, ipdb_error, ipdb_used = _summary(c, case)
    wanted_ip = _ip_filter(ip) if ip.strip() else ""
    wanted_account = account.strip()
    events = [
        e
        for e in reversed(record["events"])  # stored oldest first; the newest matter first here
        if (not wanted_ip or e["ip"] == wanted_ip) and (not wanted_account or e["account"] == wanted_account)
    ]
    c.audit(
        audit.TIPS_VIEWED,
        case_id=case.id,
        detail={"ip": wanted_ip or None, "account": wanted_account or None, "events": len(events)},
    )
    gettext = c.gettext
    return c.render(
        "tips.html",
        status_code=status_code,
        case=case,
        record=record,
        activity=record["ips"][:ACTIVITY_LINES],
        events=events[:TIMELINE_ROWS],
        more=max(0, len(events) - TIMELINE_ROWS),
        matching=len(events),
        ip=wanted_ip,
        account=wanted_account,
        ipdb_error=ipdb_error,
        ipdb_used=ipdb_used,
        result=result,
        import_error=import_error,
        form=form or {"format": "auto", "timezone": "", "service": ""},
        formats=[(name, gettext(FORMAT_NAMES[name])) for name in FORMATS],
        flag=_term(gettext, FLAGS),
        role=_term(gettext, ROLES),
        identifier=_term(gettext, IDENTIFIERS),
        max_megabytes=MAX_UPLOAD_BYTES // (1024 * 1024),
        when=_when,
        ports_shown=PORTS_SHOWN,
    )


@router.get("/cases/{case_number}/tips")
def tips_page(
    c: Annotated[Ctx, Depends(user_ctx)],
    case: Annotated[Case, Depends(_case_for("view_tips"))],
    ip: Annotated[str, Query(max_length=100)] = "",
    account: Annotated[str, Query(max_length=500)] = "",
    imported: Annotated[int | None, Query(ge=0)] = None,
    skipped: Annotated[int, Query(ge=0)] = 0,
    reports: Annotated[int, Query(ge=0)] = 0,
    events: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    # An import's outcome comes back as counts in the address (a redirect after the post): only numbers,
    # no file name ends up in a browser history or a proxy log.
    result = None
    if imported is not None:
        result = {"files": imported, "skipped": skipped, "reports": reports, "events": events}
    return _page(c, case, ip, account, result)


@router.post("/cases/{case_number}/tips/import")
def import_files(
    c: Annotated[Ctx, Depends(user_ctx)],
    case: Annotated[Case, Depends(_case_for("import_tips"))],
    files: Annotated[list[UploadFile] | None, File()] = None,
    fmt: Annotated[str, Form(alias="format", max_length=20)] = "auto",
    timezone: Annotated[str, Form(max_length=100)] = "",
    service: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    assert c.user is not None
    form = {"format": fmt, "timezone": timezone, "service": service}
    if fmt not in FORMATS:
        return _page(
            c, case, import_error=c.gettext(N_("choose a format from the list")), form=form, status_code=400
        )
    try:
        with tempfile.TemporaryDirectory(prefix="himaya-tips-") as folder:
            saved = _save_uploads(files or [], Path(folder))
            result: ImportSummary = import_tips(
                _RequestStore(c.state.store, c.db),
                case.number,
                [path for _, path in saved],
                actor=c.user.username,
                fmt=fmt,
                default_zone=timezone.strip() or None,
                service=service.strip() or None,
            )
    except UploadRefused as refused:
        return _page(
            c, case, import_error=c.gettext(str(refused)), form=form, status_code=refused.status_code
        )
    except HimayaError as error:
        # The importer reads every file before it writes a row: a refusal has stored nothing.
        return _page(c, case, import_error=str(error), form=form, status_code=400)
    finally:
        for upload in files or []:
            upload.file.close()
    if result.files:
        c.audit(
            audit.TIPS_IMPORTED,
            case_id=case.id,
            detail={
                "files": [path.name for _, path in saved],
                "uploaded_as": [name[:300] for name, _ in saved],
                "skipped": result.files_skipped,
                "reports": result.reports,
                "events": result.events,
                "via": "web",
            },
        )
    query = (
        f"?imported={result.files}&skipped={result.files_skipped}&reports={result.reports}"
        f"&events={result.events}"
    )
    return RedirectResponse(f"/cases/{quote(case.number, safe='')}/tips{query}", status_code=303)
