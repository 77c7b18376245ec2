"""Shared fixtures and builders for the review tests: stores on both databases and synthetic cases.

A synthetic case is written straight through the models (no scan): thousands of pictures with chosen
origins, sizes, EXIF, contents, matches and reviews, so that ordering, filters and paging are tested at
a scale a scan of generated pictures would take minutes to reach. Every hash set's name says TEST; every
hash is a digest of "TEST benign ..." bytes. Tests that need real pictures scan generated ones instead.

The test modules take the fixtures with `from tests.review import *` (fixtures are looked up by name).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from himaya.hashsets.categories import CategoryMap
from himaya.review.gallery import parse_exif_datetime
from himaya.review.ranking import TIER_ALERT, TIER_IGNORED, TIER_NEW, rank_of
from himaya.store.db import Store, make_engine, migrate, open_store
from himaya.store.models import (
    Case,
    EvidenceItem,
    File,
    HashEntry,
    HashSet,
    HashSetVersion,
    Match,
    MediaFacts,
    Review,
)
from tests.conftest import postgres_schema

__all__ = ["DATABASES", "any_store", "module_store"]

DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=DATABASES)
def any_store(
    request: pytest.FixtureRequest, himaya_env: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """A fresh store: embedded SQLite, or a fresh PostgreSQL schema (server mode)."""
    if request.param == "postgresql":
        monkeypatch.setenv("HIMAYA_DATABASE_URL", request.getfixturevalue("postgres_url"))
    store = open_store(himaya_env["home"])
    yield store
    store.close()


@pytest.fixture(scope="module", params=DATABASES)
def module_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store for a whole module (for Hypothesis, which runs many examples on one fixture value)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('review-store') / 'himaya.db'}"
        store = Store(make_engine(url))
        migrate(store.engine)
        yield store
        store.close()
        return
    with postgres_schema() as url:
        store = Store(make_engine(url))
        migrate(store.engine)
        yield store
        store.close()


# -- synthetic cases -------------------------------------------------------------------------------------

# name -> (kind, category scheme, labels its entries carry; None is an entry without a label)
TEST_SETS: dict[str, tuple[str, str | None, tuple[str | None, ...]]] = {
    "TEST-alert-vics": ("alert", "vics", ("0", "1", "2", "3", "4", "5", None)),
    "TEST-alert-caid": ("alert", "caid", ("A", "C", "NOT INDECENT")),
    "TEST-ignore": ("ignore", None, (None,)),
}
ORIGINS = (
    None,
    "camera",
    "whatsapp",
    "telegram",
    "signal",
    "downloads",
    "screenshots",
    "app-data",
    "thumbnails-cache",
    "browser-cache",
)
MIMES = ("image/jpeg", "image/jpeg", "image/png", "image/x-icon", "image/heic")
CAMERAS = (("TESTCAM", "Model T1"), ("TESTCAM", "Model T2"), ("OTHERCAM", "X 100"))
SERIALS = ("SN-TEST-0001", "SN-TEST-0002", "SN-TEST-0003", "SN-TEST-0004", "SN-TEST-0005")
# What cameras and broken tools write where a date belongs: a real date, an unset clock, an impossible
# date, trailing sub-seconds, or nothing.
ODD_DATES = (
    "0000:00:00 00:00:00",
    "2024:02:30 10:00:00",
    "2023:13:01 00:00:00",
    "    :  :     :  :  ",
    "junk",
)


@dataclass
class SyntheticPicture:
    file_id: int
    evidence_id: int
    path: str
    origin: str | None
    mime: str
    size: int | None
    sha256: str
    decoded: bool  # media facts with a PDQ hash (False: a file the gallery must leave out)
    width: int | None = None
    height: int | None = None
    pdq: str | None = None
    make: str | None = None
    model: str | None = None
    serial: str | None = None
    exif_datetime: str | None = None
    gps: tuple[float, float] | None = None
    matches: list[tuple[str, str | None, bool]] = field(default_factory=list)  # (set, label, retired)


@dataclass
class SyntheticCase:
    case_id: int
    evidence_ids: list[int]
    pictures: list[SyntheticPicture]
    reviews: dict[str, list[str]]  # sha256 -> categories decided, oldest first

    def decoded(self) -> list[SyntheticPicture]:
        return [p for p in self.pictures if p.decoded]


def _hex(seed: str, length: int = 64) -> str:
    return hashlib.sha256(f"TEST benign {seed}".encode()).hexdigest()[:length]


def build_synthetic_case(store: Store, count: int, seed: int = 1, number: str = "C-TEST-1") -> SyntheticCase:
    """`count` files in two evidence items, written with bulk inserts; about 1 in 20 is not a decoded
    picture, 1 in 10 repeats an earlier content, and about a fifth have matches (some retired)."""
    rng = random.Random(seed)
    with store.transaction() as session:
        case = Case(number=number, title="TEST synthetic case")
        session.add(case)
        session.flush()
        items = [
            EvidenceItem(case_id=case.id, name=f"TEST-ev{n}", source_path=f"/TEST/ev{n}", kind="folder")
            for n in range(2)
        ]
        session.add_all(items)
        versions: dict[str, HashSetVersion] = {}
        for name, (kind, scheme, _labels) in TEST_SETS.items():
            hash_set = session.scalar(select(HashSet).where(HashSet.name == name))
            if hash_set is None:
                hash_set = HashSet(name=name, kind=kind, category_scheme=scheme)
                session.add(hash_set)
                session.flush()
                version = HashSetVersion(
                    hash_set_id=hash_set.id, version=1, format="plain", category_scheme=scheme
                )
                session.add(version)
            else:
                version = session.scalars(
                    select(HashSetVersion).where(HashSetVersion.hash_set_id == hash_set.id)
                ).one()
            versions[name] = version
        session.flush()
        first_file = (session.scalar(select(File.id).order_by(File.id.desc()).limit(1)) or 0) + 1
        pictures = [_picture(rng, first_file + n, [i.id for i in items], seed) for n in range(count)]
        contents: list[str] = []
        for picture in pictures:  # one in ten repeats an earlier content (a copy elsewhere on the device)
            if contents and rng.random() < 0.1:
                picture.sha256 = rng.choice(contents)
            contents.append(picture.sha256)
        _insert(session, pictures, versions, rng)
        reviews = _reviews(session, case.id, sorted(set(contents)), rng)
        return SyntheticCase(case.id, [i.id for i in items], pictures, reviews)


def _picture(rng: random.Random, file_id: int, evidence_ids: list[int], seed: int) -> SyntheticPicture:
    origin = rng.choice(ORIGINS)
    folder = {
        None: "Pictures/misc",
        "camera": "DCIM/Camera",
        "whatsapp": "WhatsApp/Media/WhatsApp Images",
        "telegram": "Telegram/Telegram Images",
        "signal": "Signal",
        "downloads": "Download",
        "screenshots": "Pictures/Screenshots",
        "app-data": "data/data/com.example.app",
        "thumbnails-cache": "DCIM/.thumbnails",
        "browser-cache": "data/data/com.android.chrome/cache",
    }[origin]
    mime = rng.choice(MIMES)
    suffix = {"image/jpeg": "jpg", "image/png": "png", "image/x-icon": "ico", "image/heic": "HEIC"}[mime]
    if rng.random() < 0.05:
        suffix = "ICO"  # an icon by name whatever its content
    short, long = rng.choice(((48, 64), (90, 120), (480, 640), (1080, 1920), (3024, 4032)))
    width, height = (long, short) if rng.random() < 0.5 else (short, long)
    camera = rng.choice(CAMERAS) if rng.random() < 0.6 else (None, None)
    when = None
    if rng.random() < 0.7:
        moment = datetime(2019, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(5 * 365 * 86400))
        when = moment.strftime("%Y:%m:%d %H:%M:%S")
        if rng.random() < 0.05:
            when += ".123+03:00"
    elif rng.random() < 0.3:
        when = rng.choice(ODD_DATES)
    picture = SyntheticPicture(
        file_id=file_id,
        evidence_id=rng.choice(evidence_ids),
        path=f"TEST-ev/{folder}/IMG_{seed}_{file_id:06d}.{suffix}",
        origin=origin,
        mime=mime,
        size=rng.choice((None, 900, 3000, 5000, 250_000, 3_500_000)),
        sha256=_hex(f"{seed}-{file_id}"),
        decoded=rng.random() >= 0.05,
        width=width if rng.random() < 0.97 else None,
        height=height,
        pdq=_hex(f"pdq {seed}-{file_id}"),
        make=camera[0],
        model=camera[1],
        serial=rng.choice(SERIALS) if camera[0] else None,
        exif_datetime=when,
        gps=(36.2 + rng.random(), 37.1 + rng.random()) if rng.random() < 0.3 else None,
    )
    roll = rng.random()
    if roll < 0.12:
        picture.matches.append(_match(rng, "TEST-alert-vics"))
    elif roll < 0.17:
        picture.matches.append(_match(rng, "TEST-alert-caid"))
    if rng.random() < 0.08:
        picture.matches.append(("TEST-ignore", None, rng.random() < 0.2))
    if rng.random() < 0.05:
        picture.matches.append((*_match(rng, "TEST-alert-vics")[:2], True))  # retired: does not count
    return picture


def _match(rng: random.Random, set_name: str) -> tuple[str, str | None, bool]:
    return (set_name, rng.choice(TEST_SETS[set_name][2]), False)


def _insert(
    session: Session,
    pictures: list[SyntheticPicture],
    versions: dict[str, HashSetVersion],
    rng: random.Random,
) -> None:
    session.execute(
        insert(File),
        [
            {
                "id": p.file_id,
                "evidence_id": p.evidence_id,
                "locator": p.path,
                "path": p.path,
                "size": p.size,
                "md5": p.sha256[:32],
                "sha1": p.sha256[:40],
                "sha256": p.sha256,
                "mime": p.mime,
                "origin": p.origin,
            }
            for p in pictures
        ],
    )
    if session.get_bind().dialect.name == "postgresql":  # ids given: move the sequence past them
        session.execute(
            text("SELECT setval(pg_get_serial_sequence('files', 'id'), (SELECT max(id) FROM files))")
        )
    media = []
    for p in pictures:
        if not p.decoded and rng.random() < 0.5:
            continue  # no media facts at all
        media.append(
            {
                "file_id": p.file_id,
                "width": p.width,
                "height": p.height,
                "pdq": p.pdq if p.decoded else None,
                "pdq_quality": 100,
                "exif_make": p.make,
                "exif_model": p.model,
                "exif_serial": p.serial,
                "exif_datetime": p.exif_datetime,
                "gps_lat": p.gps[0] if p.gps else None,
                "gps_lon": p.gps[1] if p.gps else None,
            }
        )
    session.execute(insert(MediaFacts), media)
    retired_at = datetime(2024, 1, 1, tzinfo=UTC)
    for p in pictures:
        for n, (set_name, label, retired) in enumerate(p.matches):
            version = versions[set_name]
            entry = HashEntry(
                version_id=version.id,
                hash_set_id=version.hash_set_id,
                hash_type="md5",
                value=_hex(f"entry {p.file_id} {n}", 32),
                category=label,
            )
            session.add(entry)
            session.flush()
            session.add(
                Match(
                    file_id=p.file_id,
                    entry_id=entry.id,
                    hash_set_version_id=version.id,
                    method="md5",
                    retired_at=retired_at if retired else None,
                )
            )
    session.flush()


def _reviews(session: Session, case_id: int, contents: list[str], rng: random.Random) -> dict[str, list[str]]:
    scale = CategoryMap.default().order
    decided: dict[str, list[str]] = {}
    for sha256 in contents:
        if rng.random() < 0.06:
            decided[sha256] = [rng.choice(scale) for _ in range(rng.choice((1, 1, 2, 3)))]
    rows = [
        {
            "case_id": case_id,
            "sha256": sha256,
            "category": category,
            "reviewer": "TEST-reviewer",
            "via": "single",
        }
        for sha256, categories in decided.items()
        for category in categories
    ]
    if rows:
        session.execute(insert(Review), rows)
    return decided


# -- what the gallery should say -------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    tier: int
    rank: int
    match_category: str | None
    category: str | None
    reviewed: bool
    taken_at: datetime | None
    has_gps: bool


def expected_rows(case: SyntheticCase) -> dict[int, Expected]:
    """The gallery row of every decoded picture, worked out in Python from the case's specification."""
    scale = CategoryMap.default()
    out = {}
    for p in case.decoded():
        live = [(name, label) for name, label, retired in p.matches if not retired]
        alerts = [(name, label) for name, label in live if TEST_SETS[name][0] == "alert"]
        tier = TIER_ALERT if alerts else TIER_IGNORED if live else TIER_NEW
        match_category = (
            scale.most_severe(scale.internal(label, TEST_SETS[name][1]) for name, label in alerts)
            if alerts
            else None
        )
        decisions = case.reviews.get(p.sha256)
        out[p.file_id] = Expected(
            tier=tier,
            rank=rank_of(p.origin, p.mime, p.width, p.height, p.size, p.path),
            match_category=match_category,
            category=decisions[-1] if decisions else match_category,
            reviewed=bool(decisions),
            taken_at=parse_exif_datetime(p.exif_datetime),
            has_gps=p.gps is not None,
        )
    return out


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes (stored as UTC), PostgreSQL aware ones."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
