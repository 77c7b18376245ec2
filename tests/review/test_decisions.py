"""Reviewers' decisions on SQLite and PostgreSQL: a category reaches every copy of the content, the history
is kept, and a picture joins the unit's own hash set only when a second person confirms it, as a new
version that a re-match of another case then finds."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.hashsets.categories import CategoryMap
from himaya.hashsets.importer import entries_alive_at
from himaya.matching.active import load_active
from himaya.matching.rematch import rematch
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.review.decisions import (
    REVIEW_KEYS,
    ReviewError,
    TwoPersonRuleError,
    categorise,
    confirm_proposal,
    history,
    propose_for_national_set,
    reject_proposal,
)
from himaya.review.gallery import refresh
from himaya.review.pages import GalleryFilter, page
from himaya.store.db import Store
from himaya.store.models import (
    File,
    GalleryItem,
    HashEntry,
    HashProposal,
    HashSet,
    HashSetVersion,
    MediaFacts,
    Review,
)
from tests.builders.images import encode, photo_jpeg, photo_like
from tests.review import *  # noqa: F403 (the store fixtures)
from tests.review import build_synthetic_case

NATIONAL = "TEST-national-set"


def test_review_keys_are_the_vics_scheme_of_the_category_map() -> None:
    assert REVIEW_KEYS == {
        "0": "non-pertinent",
        "1": "illegal",
        "2": "harmful-abusive",
        "3": "cgi",
        "4": "comparison",
        "5": "age-difficult",
    }
    assert CategoryMap.default().labels["vics"] == REVIEW_KEYS


# -- categories --------------------------------------------------------------------------------------------


def test_a_decision_reaches_every_copy_and_the_history_is_kept(any_store: Store) -> None:
    case = build_synthetic_case(any_store, 300, seed=9)
    with any_store.transaction() as session:
        refresh(session, case.case_id)
    contents = [p.sha256 for p in case.pictures]
    shared = next(c for c in contents if contents.count(c) >= 2 and c not in case.reviews)
    copies = sorted(p.file_id for p in case.pictures if p.sha256 == shared)
    other = next(p for p in case.decoded() if contents.count(p.sha256) == 1 and p.sha256 not in case.reviews)
    with any_store.transaction() as session:
        affected = categorise(
            session, case.case_id, [copies[-1], other.file_id], "illegal", "1", "TEST-alice", "bulk"
        )
    assert affected == len(copies) + 1
    with any_store.transaction() as session:
        assert categorise(session, case.case_id, [copies[0]], "cgi", "3", "TEST-bob") == len(copies)
    with any_store.session() as session:
        rows = {
            r.file_id: r for r in session.scalars(select(GalleryItem).where(GalleryItem.file_id.in_(copies)))
        }
        assert rows, "the copies are pictures in the gallery"
        assert {(r.category, r.reviewed) for r in rows.values()} == {("cgi", True)}
        decided = history(session, case.case_id, shared)
        assert [(d.category, d.label, d.reviewer, d.via, d.file_id) for d in decided] == [
            ("illegal", "1", "TEST-alice", "bulk", copies[-1]),
            ("cgi", "3", "TEST-bob", "single", copies[0]),
        ]
        assert [d.category for d in history(session, case.case_id, other.sha256)] == ["illegal"]
        # One review per content, not per file.
        assert session.scalar(select(func.count()).select_from(Review).where(Review.sha256 == shared)) == 2
        reviewed = page(session, case.case_id, GalleryFilter(category="cgi", reviewed=True), limit=1000).items
        assert {item.file_id for item in reviewed} >= set(rows)
    # A full refresh reads the same decision back from the reviews.
    with any_store.transaction() as session:
        refresh(session, case.case_id)
        assert {
            r.category for r in session.scalars(select(GalleryItem).where(GalleryItem.file_id.in_(copies)))
        } == {"cgi"}


def test_bad_decisions_are_refused_before_anything_is_written(any_store: Store) -> None:
    first = build_synthetic_case(any_store, 20, seed=1, number="C-TEST-1")
    second = build_synthetic_case(any_store, 20, seed=2, number="C-TEST-2")
    mine, theirs = first.decoded()[0].file_id, second.decoded()[0].file_id
    for args, words in (
        (([mine], "very bad", "9", "TEST-alice", "single"), "not on the internal scale"),
        (([mine], "illegal", "1", "TEST-alice", "telepathy"), "not a way of reviewing"),
        (
            ([mine, theirs], "illegal", "1", "TEST-alice", "bulk"),
            f"files \\[{theirs}\\] are not in this case",
        ),
        (([], "illegal", "1", "TEST-alice", "bulk"), "select at least one picture"),
        (([mine], "illegal", "1", "", "single"), "reviewer"),
    ):
        with any_store.transaction() as session, pytest.raises(ValueError, match=words):
            categorise(session, first.case_id, *args)  # type: ignore[arg-type]
    with any_store.session() as session:
        assert (
            session.scalar(select(func.count()).select_from(Review).where(Review.reviewer == "TEST-alice"))
            == 0
        )


# -- the unit's own hash set -------------------------------------------------------------------------------


def scan(store: Store, number: str, root: Path, pictures: dict[str, bytes]) -> dict[str, int]:
    """Scan the pictures into a new case; their file ids by path inside `root`."""
    for name, data in pictures.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    create_case(store, number, "TEST case")
    run_scan(
        store, number, [root], settings=ScanSettings(workers=0, thumbnails=False), blobs=None, quiet=True
    )
    with store.session() as session:
        rows = session.execute(select(File.path, File.id).where(File.path.startswith(root.name + "/"))).all()
    return {path.removeprefix(root.name + "/"): file_id for path, file_id in rows}


def export(store: Store, number: str) -> dict[str, dict[str, object]]:
    out = io.StringIO()
    export_case(store, number, "jsonl", out)
    return {r["path"]: r for r in map(json.loads, out.getvalue().splitlines())}


def test_two_people_put_a_picture_in_the_national_set_and_another_case_then_matches_it(
    any_store: Store, tmp_path: Path
) -> None:
    picture = photo_jpeg(51, 1024, 768)
    second = photo_jpeg(52, 1024, 768)
    ids = scan(any_store, "C-1", tmp_path / "TEST-one", {"DCIM/a.jpg": picture, "DCIM/b.jpg": second})
    other_case = {
        "Download/a_copy.jpg": picture,
        "WhatsApp/a_resized.jpg": encode(photo_like(51, 1024, 768).resize((512, 384)), quality=70),
        "Pictures/unrelated.jpg": photo_jpeg(53),
    }
    scan(any_store, "C-2", tmp_path / "TEST-two", other_case)
    assert not any(record["matches"] for record in export(any_store, "C-2").values())
    with any_store.transaction() as session:
        case_id = session.scalar(select(GalleryItem.case_id).where(GalleryItem.file_id == ids["DCIM/a.jpg"]))
        assert case_id is not None
        with pytest.raises(ReviewError, match="categorise the picture first"):
            propose_for_national_set(session, case_id, ids["DCIM/a.jpg"], "TEST-alice")
        categorise(session, case_id, [ids["DCIM/a.jpg"]], "illegal", "1", "TEST-alice")
        proposal = propose_for_national_set(session, case_id, ids["DCIM/a.jpg"], "TEST-alice")
        assert (proposal.category, proposal.label, proposal.status) == ("illegal", "1", "proposed")
        # The hash the scan decided on (see docs/architecture.md, "Pictures"), not one computed again.
        assert proposal.pdq == session.get(MediaFacts, ids["DCIM/a.jpg"]).pdq  # type: ignore[union-attr]
        assert proposal.md5 == hashlib.md5(picture).hexdigest()
        with pytest.raises(ReviewError, match="already proposed"):
            propose_for_national_set(session, case_id, ids["DCIM/a.jpg"], "TEST-carol")
        proposal_id = proposal.id
    for same_person in ("TEST-alice", "test-ALICE"):
        with any_store.transaction() as session, pytest.raises(TwoPersonRuleError, match="two-person rule"):
            confirm_proposal(session, proposal_id, same_person, NATIONAL)
    with any_store.session() as session:
        assert session.scalar(select(HashSet).where(HashSet.name == NATIONAL)) is None
        assert session.get(HashProposal, proposal_id).status == "proposed"  # type: ignore[union-attr]

    with any_store.transaction() as session:
        assert confirm_proposal(session, proposal_id, "TEST-bob", NATIONAL) == 1
    with any_store.session() as session:
        proposal = session.get(HashProposal, proposal_id)
        assert proposal is not None
        assert (proposal.status, proposal.decided_by) == ("confirmed", "TEST-bob")
        hash_set = session.scalars(select(HashSet).where(HashSet.name == NATIONAL)).one()
        assert (hash_set.kind, hash_set.category_scheme) == ("alert", "vics")
        version = session.get(HashSetVersion, proposal.hash_set_version_id)
        assert version is not None and version.version == 1
        assert (version.entry_count, version.added_count, version.changed_count, version.removed_count) == (
            4,
            4,
            0,
            0,
        )
        assert json.loads(version.details or "{}") == {"counts": {"md5": 1, "pdq": 1, "sha1": 1, "sha256": 1}}
        entries = {(e.hash_type, e.value, e.category) for e in session.scalars(select(HashEntry))}
        assert entries == {
            ("md5", proposal.md5, "1"),
            ("sha1", proposal.sha1, "1"),
            ("sha256", proposal.sha256, "1"),
            ("pdq", proposal.pdq, "1"),
        }
        with pytest.raises(ReviewError, match="already confirmed"):
            confirm_proposal(session, proposal_id, "TEST-carol", NATIONAL)

    # Re-matching the other case finds the exact copy by its digests and the resized copy by PDQ, and
    # the gallery follows (tier and category).
    (result,) = rematch(any_store, ["C-2"])
    found = {(change.path, change.method) for change in result.new}
    assert found == {
        ("TEST-two/Download/a_copy.jpg", "md5"),
        ("TEST-two/Download/a_copy.jpg", "sha1"),
        ("TEST-two/Download/a_copy.jpg", "sha256"),
        ("TEST-two/Download/a_copy.jpg", "pdq"),
        ("TEST-two/WhatsApp/a_resized.jpg", "pdq"),
    }
    exported = export(any_store, "C-2")
    assert exported["TEST-two/WhatsApp/a_resized.jpg"]["file_category"] == "illegal"
    assert not exported["TEST-two/Pictures/unrelated.jpg"]["matches"]
    with any_store.session() as session:
        matched = session.scalars(
            select(GalleryItem).where(GalleryItem.path == "TEST-two/WhatsApp/a_resized.jpg")
        ).one()
        assert (matched.tier, matched.category) == (1, "illegal")

    # A second picture: a new version that keeps every entry of the first.
    with any_store.transaction() as session:
        categorise(session, case_id, [ids["DCIM/b.jpg"]], "age-difficult", "5", "TEST-alice")
        second_id = propose_for_national_set(session, case_id, ids["DCIM/b.jpg"], "TEST-alice").id
    with any_store.transaction() as session:
        assert confirm_proposal(session, second_id, "TEST-bob", NATIONAL) == 2
    # The picture re-categorised and proposed again: its four hashes change label, so the new version
    # retires them and adds them again.
    with any_store.transaction() as session:
        categorise(session, case_id, [ids["DCIM/a.jpg"]], "harmful-abusive", "2", "TEST-carol")
        third_id = propose_for_national_set(session, case_id, ids["DCIM/a.jpg"], "TEST-carol").id
    with any_store.transaction() as session:
        assert confirm_proposal(session, third_id, "TEST-alice", NATIONAL) == 3
    with any_store.session() as session:
        versions = {
            v.version: v
            for v in session.scalars(select(HashSetVersion).join(HashSet).where(HashSet.name == NATIONAL))
        }
        assert [(v.entry_count, v.added_count, v.changed_count) for _, v in sorted(versions.items())] == [
            (4, 4, 0),
            (8, 4, 0),
            (8, 0, 4),
        ]
        alive = {
            n: {
                (e.hash_type, e.category)
                for e in session.scalars(select(HashEntry).where(*entries_alive_at(v)))
            }
            for n, v in versions.items()
        }
        assert alive[1] == {(t, "1") for t in ("md5", "sha1", "sha256", "pdq")}
        assert alive[2] == alive[1] | {(t, "5") for t in ("md5", "sha1", "sha256", "pdq")}
        assert alive[3] == {(t, label) for t in ("md5", "sha1", "sha256", "pdq") for label in ("2", "5")}
        # The PDQ index of the latest version holds the two pictures' hashes, derived or built.
        active = load_active(session, any_store.index_dir)
        try:
            (national,) = [p for p in active.pdq if p.hash_set_name == NATIONAL]
            assert len(national.index) == 2
        finally:
            active.close()


def test_rejected_and_unproposable_pictures_stay_out(any_store: Store, tmp_path: Path) -> None:
    ids = scan(
        any_store,
        "C-1",
        tmp_path / "TEST-one",
        {"a.jpg": photo_jpeg(61), "b.jpg": photo_jpeg(62), "c.jpg": photo_jpeg(63)},
    )
    with any_store.transaction() as session:
        case_id = session.scalar(select(GalleryItem.case_id).where(GalleryItem.file_id == ids["a.jpg"]))
        assert case_id is not None
        categorise(session, case_id, [ids["a.jpg"]], "illegal", "1", "TEST-alice")
        categorise(session, case_id, [ids["b.jpg"]], "non-pertinent", "0", "TEST-alice")
        with pytest.raises(ReviewError, match="an alert set has no use for"):
            propose_for_national_set(session, case_id, ids["b.jpg"], "TEST-alice")
        proposal_id = propose_for_national_set(session, case_id, ids["a.jpg"], "TEST-alice").id
    with any_store.transaction() as session:
        withdrawn = reject_proposal(session, proposal_id, "TEST-alice")  # the proposer may withdraw it
        assert (withdrawn.status, withdrawn.decided_by) == ("rejected", "TEST-alice")
    with any_store.transaction() as session, pytest.raises(ReviewError, match="already rejected"):
        confirm_proposal(session, proposal_id, "TEST-bob", NATIONAL)
    with any_store.transaction() as session, pytest.raises(ReviewError, match="there is no proposal"):
        reject_proposal(session, proposal_id + 100, "TEST-bob")
    # An ignore set of that name cannot take confirmed pictures.
    with any_store.transaction() as session:
        session.add(HashSet(name="TEST-ignore-set", kind="ignore"))
        categorise(session, case_id, [ids["c.jpg"]], "cgi", "3", "TEST-alice")
        again = propose_for_national_set(session, case_id, ids["c.jpg"], "TEST-alice").id
    with any_store.transaction() as session, pytest.raises(ReviewError, match="is an ignore set"):
        confirm_proposal(session, again, "TEST-bob", "TEST-ignore-set")
    with any_store.session() as session:
        assert session.scalar(select(func.count()).select_from(HashEntry)) == 0
        assert session.get(HashProposal, again).status == "proposed"  # type: ignore[union-attr]
