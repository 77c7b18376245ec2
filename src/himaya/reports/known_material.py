"""`himaya export --format vics|icse`: a case's media as the hash-set formats partners exchange.

One media item per distinct content (MD5), with every place it was found, its hashes, and the category,
series and victim / offender flags of its matches. Never the pictures, thumbnails or anything derived
from their pixels other than the PDQ hash. Both exports import again as hash sets with the same entries.

Categories go out in the scheme of the format: VICS takes the 0-5 numbers, so a label from another
scheme is converted through the internal scale (docs/categories.md); ICSE only knows "baseline".
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from himaya import __version__
from himaya.hashsets.categories import CategoryMap, normalise_label
from himaya.hashsets.icse import IcseRow, write_icse
from himaya.hashsets.vics import VicsCase, VicsMedia, write_vics_cases
from himaya.reports.records import MatchRecord, find_case, match_records, with_media_and_matches
from himaya.store.db import Store
from himaya.store.models import Case, EvidenceItem, File, Match

SOURCE_APPLICATION = f"Himaya {__version__}"


@dataclass
class _Item:
    md5: str
    sha1: str | None
    sha256: str | None
    pdq: str | None
    paths: list[str]
    matches: list[MatchRecord]


def export_case_vics(
    store: Store,
    case_number: str,
    out: BinaryIO,
    *,
    only_matches: bool = False,
    contact_name: str | None = None,
    contact_email: str | None = None,
    agency: str | None = None,
    categories: CategoryMap | None = None,
) -> int:
    categories = categories or CategoryMap.default()
    with store.session() as session:
        case = find_case(session, case_number)
        media = (
            _vics_media(n, item, categories)
            for n, item in enumerate(_items(session, case, only_matches, categories), start=1)
        )
        return write_vics_cases(
            out,
            VicsCase(
                case_number=case.number,
                contact_name=contact_name,
                contact_email=contact_email,
                agency=agency,
                source_application=SOURCE_APPLICATION,
                media=media,
            ),
        )


def export_case_icse(
    store: Store,
    case_number: str,
    out: TextIO,
    *,
    only_matches: bool = False,
    categories: CategoryMap | None = None,
) -> int:
    categories = categories or CategoryMap.default()
    with store.session() as session:
        case = find_case(session, case_number)
        rows = (
            _icse_row(n, item)
            for n, item in enumerate(_items(session, case, only_matches, categories), start=1)
        )
        return write_icse(out, rows)


def _items(session: Session, case: Case, only_matches: bool, categories: CategoryMap) -> Iterator[_Item]:
    """The case's media grouped by content, in MD5 order (stable across runs)."""
    query = (
        select(File)
        .join(EvidenceItem, File.evidence_id == EvidenceItem.id)
        .where(EvidenceItem.case_id == case.id, File.md5.is_not(None))
        .options(*with_media_and_matches())
        .order_by(File.md5, File.id)
        .execution_options(yield_per=500)
    )
    has_match = File.matches.any(Match.retired_at.is_(None))
    if only_matches:
        query = query.where(has_match)
    else:
        query = query.where(or_(File.mime.like("image/%"), File.mime.like("video/%"), has_match))
    current: _Item | None = None
    for file in session.scalars(query):
        assert file.md5 is not None
        if current is not None and current.md5 != file.md5:
            yield current
            current = None
        records = match_records(list(file.matches), categories)
        if current is None:
            media = file.media
            current = _Item(file.md5, file.sha1, file.sha256, media.pdq if media else None, [], [])
        current.paths.append(file.path)
        current.matches.extend(r for r in records if r not in current.matches)
    if current is not None:
        yield current


def _alerts(item: _Item, categories: CategoryMap) -> list[MatchRecord]:
    """Alert matches, most severe first: the first one's label speaks for the item."""
    alerts = [m for m in item.matches if m.kind == "alert"]
    return sorted(alerts, key=lambda m: (categories.severity(m.internal_category), m.hashset))


def _flag(values: list[bool | None]) -> bool | None:
    return True if any(values) else (False if False in values else None)


def _vics_media(n: int, item: _Item, categories: CategoryMap) -> VicsMedia:
    alerts = _alerts(item, categories)
    category = None
    if alerts:
        best = alerts[0]
        category = best.category if best.category_scheme == "vics" else _vics_label(best, categories)
    return VicsMedia(
        media_id=str(n),
        category=category,
        md5=item.md5,
        sha1=item.sha1,
        sha256=item.sha256,
        pdq=item.pdq,
        series=next((m.series for m in alerts if m.series), None),
        victim_identified=_flag([m.victim_identified for m in alerts]),
        offender_identified=_flag([m.offender_identified for m in alerts]),
        is_distributed=None,
        file_paths=tuple(item.paths),
    )


def _vics_label(match: MatchRecord, categories: CategoryMap) -> str | None:
    """A VICS number with the same internal meaning as the match's label (None when there is none)."""
    if match.category is None:
        return None
    vics = categories.labels.get("vics", {})
    if normalise_label(match.category) in vics:
        return normalise_label(match.category)
    for label, internal in sorted(vics.items()):
        if internal == match.internal_category:
            return label
    return None


def _icse_row(n: int, item: _Item) -> IcseRow:
    alerts = [m for m in item.matches if m.kind == "alert"]
    labels = {normalise_label(m.category) for m in alerts if m.category}
    baseline = True if "BASELINE" in labels else (False if "NON-BASELINE" in labels else None)
    return IcseRow(
        md5=item.md5,
        sha1=item.sha1,
        photodna=None,
        image_id=str(n),
        is_distributed=None,
        victim_identified=_flag([m.victim_identified for m in alerts]),
        offender_identified=_flag([m.offender_identified for m in alerts]),
        series=next((m.series for m in alerts if m.series), None),
        submissions=None,
        file_available=True,
        media_type=_media_type(item),
        baseline=baseline,
    )


def _media_type(item: _Item) -> str | None:
    return "Image" if item.pdq else None
