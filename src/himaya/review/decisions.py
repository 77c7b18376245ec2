"""Reviewers' decisions: categories per content, their history, and proposals for the unit's own hash set.

A decision is about a content, not a copy: it is recorded once per SHA-256 and applies to every file of
the case with that SHA-256 (the same picture in the camera roll, a WhatsApp folder and a backup is one
decision). Review rows are never updated; the latest is the decision, the earlier ones its history.

A picture enters the unit's own alert hash set only when two people agree (two-person rule): one
proposes it, a different one confirms it. Confirming writes a new version of that set the way an import
does (`himaya.hashsets.importer`): entries the set already has keep their rows, a hash whose label
changes is retired by the new version and added again, and the version records its counts, so the
PDQ index of the new version is derived from the previous one and other cases find the picture at their
next re-match.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Final

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from himaya.errors import UsageError
from himaya.hashsets.categories import UNCATEGORIZED, CategoryMap
from himaya.hashsets.importer import DEFAULT_PDQ_MIN_QUALITY, DEFAULT_PDQ_THRESHOLD, entries_alive_at
from himaya.review.gallery import chunked
from himaya.store.models import (
    EvidenceItem,
    File,
    GalleryItem,
    HashEntry,
    HashProposal,
    HashSet,
    HashSetVersion,
    MediaFacts,
    Review,
    utcnow,
)

VIAS = ("single", "bulk", "stack")
SCHEME = "vics"  # the unit's own set speaks VICS, the scheme its partners read
PROPOSAL_FORMAT = "review"  # HashSetVersion.format of a version written by a confirmation
# Categories that say nothing against a picture: an alert set has no use for them.
NOT_PROPOSABLE = ("non-pertinent", UNCATEGORIZED)


class ReviewError(UsageError, ValueError):
    """A decision that cannot be recorded as asked; the message says why and what to do instead."""


class TwoPersonRuleError(ReviewError):
    """The person confirming a proposal is the person who made it."""


def _vics_keys() -> dict[str, str]:
    """The review keyboard, VICS-style: key "0".."5" to the internal category, from categories.toml."""
    rows = CategoryMap.default().labels[SCHEME]
    return {key: rows[key] for key in sorted(rows)}


REVIEW_KEYS: Final[dict[str, str]] = _vics_keys()


def _check_category(category: str) -> None:
    order = CategoryMap.default().order
    if category not in order:
        raise ReviewError(
            f"category {category!r} is not on the internal scale; use one of {', '.join(order)}"
        )


def vics_label(category: str) -> str | None:
    """The VICS key of an internal category (None for uncategorized, which VICS has no key for)."""
    return next((key for key, internal in REVIEW_KEYS.items() if internal == category), None)


# -- categories ------------------------------------------------------------------------------------------


def categorise(
    session: Session,
    case_id: int,
    file_ids: Iterable[int],
    category: str,
    label: str | None,
    reviewer: str,
    via: str = "single",
    *,
    note: str | None = None,
) -> int:
    """Record `category` for the contents of `file_ids` (one review per distinct SHA-256) and show it on
    every gallery row of the case with those contents; returns how many files of the case it applies to.

    `label` is the key the reviewer pressed (see `REVIEW_KEYS`); `via` says how: "single", "bulk" or
    "stack". Files that are not in the case, or have no SHA-256, are refused before anything is written.
    """
    _check_category(category)
    if via not in VIAS:
        raise ReviewError(f"via={via!r} is not a way of reviewing; use one of {', '.join(VIAS)}")
    if not reviewer:
        raise ReviewError("a decision needs the reviewer's user name")
    ids = sorted(set(file_ids))
    if not ids:
        raise ReviewError("no files given; select at least one picture")
    first_copy: dict[str, int] = {}
    for chunk in chunked(ids):
        rows = session.execute(
            select(File.id, File.sha256)
            .join(EvidenceItem, EvidenceItem.id == File.evidence_id)
            .where(EvidenceItem.case_id == case_id, File.id.in_(chunk))
        ).all()
        missing = sorted(set(chunk) - {file_id for file_id, _ in rows})
        if missing:
            raise ReviewError(f"files {missing[:10]} are not in this case; reload the case and select again")
        unhashed = sorted(file_id for file_id, sha256 in rows if sha256 is None)
        if unhashed:
            raise ReviewError(f"files {unhashed[:10]} have no SHA-256 (not read); they cannot be categorised")
        for file_id, sha256 in rows:
            if sha256 is not None and (sha256 not in first_copy or file_id < first_copy[sha256]):
                first_copy[sha256] = file_id
    at = utcnow()
    for sha256, file_id in sorted(first_copy.items()):
        session.add(
            Review(
                case_id=case_id,
                sha256=sha256,
                file_id=file_id,
                category=category,
                label=label,
                reviewer=reviewer,
                at=at,
                via=via,
                note=note,
            )
        )
    affected = 0
    for chunk_of_contents in chunked(sorted(first_copy)):
        session.execute(
            update(GalleryItem)
            .where(GalleryItem.case_id == case_id, GalleryItem.sha256.in_(chunk_of_contents))
            .values(category=category, reviewed=True)
        )
        affected += (
            session.scalar(
                select(func.count(File.id))
                .join(EvidenceItem, EvidenceItem.id == File.evidence_id)
                .where(EvidenceItem.case_id == case_id, File.sha256.in_(chunk_of_contents))
            )
            or 0
        )
    session.flush()
    return affected


def history(session: Session, case_id: int, sha256: str) -> list[Review]:
    """Every decision on one content of the case, oldest first (the last one is in force)."""
    return list(
        session.scalars(
            select(Review).where(Review.case_id == case_id, Review.sha256 == sha256).order_by(Review.id)
        )
    )


def latest_review(session: Session, case_id: int, sha256: str) -> Review | None:
    return session.scalars(
        select(Review)
        .where(Review.case_id == case_id, Review.sha256 == sha256)
        .order_by(Review.id.desc())
        .limit(1)
    ).first()


# -- the unit's own hash set -----------------------------------------------------------------------------


def propose_for_national_set(session: Session, case_id: int, file_id: int, proposer: str) -> HashProposal:
    """Propose the content of `file_id` for the unit's own alert set, with its current review decision.

    The picture must have been categorised (the proposal carries that category and key) as something an
    alert set is for, and must not already wait for confirmation. Its PDQ hash goes with it only when its
    quality is one a match would be decided on (>= 50).
    """
    if not proposer:
        raise ReviewError("a proposal needs the proposer's user name")
    found = session.execute(
        select(File, MediaFacts)
        .join(EvidenceItem, EvidenceItem.id == File.evidence_id)
        .outerjoin(MediaFacts, MediaFacts.file_id == File.id)
        .where(EvidenceItem.case_id == case_id, File.id == file_id)
    ).first()
    if found is None:
        raise ReviewError(f"file {file_id} is not in this case; reload the case")
    file, media = found
    if file.sha256 is None:
        raise ReviewError(f"file {file_id} has no SHA-256 (not read); it cannot be proposed")
    decision = latest_review(session, case_id, file.sha256)
    if decision is None:
        raise ReviewError("categorise the picture first: a proposal carries the reviewer's category")
    if decision.category in NOT_PROPOSABLE:
        raise ReviewError(
            f"the picture is categorised {decision.category!r}, which an alert set has no use for; "
            "categorise it again if that was a mistake"
        )
    waiting = session.scalars(
        select(HashProposal.id).where(HashProposal.sha256 == file.sha256, HashProposal.status == "proposed")
    ).first()
    if waiting is not None:
        raise ReviewError(f"this picture is already proposed (proposal {waiting}); it waits for confirmation")
    pdq = None
    if media is not None and media.pdq and (media.pdq_quality or 0) >= DEFAULT_PDQ_MIN_QUALITY:
        pdq = media.pdq.lower()
    proposal = HashProposal(
        case_id=case_id,
        file_id=file.id,
        sha256=file.sha256.lower(),
        md5=file.md5.lower() if file.md5 else None,
        sha1=file.sha1.lower() if file.sha1 else None,
        pdq=pdq,
        category=decision.category,
        label=decision.label if decision.label in REVIEW_KEYS else vics_label(decision.category),
        proposed_by=proposer,
        status="proposed",
    )
    session.add(proposal)
    session.flush()
    return proposal


def _open_proposal(session: Session, proposal_id: int) -> HashProposal:
    # FOR UPDATE on PostgreSQL: two supervisors deciding the same proposal at once are served in turn.
    proposal = session.scalars(
        select(HashProposal).where(HashProposal.id == proposal_id).with_for_update()
    ).first()
    if proposal is None:
        raise ReviewError(f"there is no proposal {proposal_id}; reload the list of proposals")
    if proposal.status != "proposed":
        raise ReviewError(
            f"proposal {proposal_id} was already {proposal.status} by {proposal.decided_by}; nothing to do"
        )
    return proposal


def confirm_proposal(session: Session, proposal_id: int, confirmer: str, hash_set_name: str) -> int:
    """The second person's yes: the content's hashes join alert set `hash_set_name` (created, kind alert,
    scheme VICS, when absent) as a new version; returns that version's number.

    Hashes the set already holds with the same label are kept as they are (no new version when all of
    them are); a hash it holds with another label is retired by the new version and added again.
    """
    proposal = _open_proposal(session, proposal_id)
    if not confirmer:
        raise ReviewError("a confirmation needs the confirmer's user name")
    if confirmer.casefold() == proposal.proposed_by.casefold():
        raise TwoPersonRuleError(
            f"{confirmer} proposed this picture and cannot also confirm it (two-person rule); "
            "ask another supervisor to confirm it"
        )
    hash_set = _alert_set(session, hash_set_name)
    previous = session.scalars(
        select(HashSetVersion)
        .where(HashSetVersion.hash_set_id == hash_set.id)
        .order_by(HashSetVersion.version.desc())
        .limit(1)
    ).first()
    label = proposal.label or vics_label(proposal.category)
    hashes = [
        (hash_type, value)
        for hash_type, value in (
            ("md5", proposal.md5),
            ("sha1", proposal.sha1),
            ("sha256", proposal.sha256),
            ("pdq", proposal.pdq),
        )
        if value
    ]
    active = {
        (entry.hash_type, entry.value): entry
        for entry in session.scalars(
            select(HashEntry).where(
                HashEntry.hash_set_id == hash_set.id,
                HashEntry.retired_version_id.is_(None),
                HashEntry.value.in_([value for _, value in hashes]),
            )
        )
        if (entry.hash_type, entry.value) in set(hashes)
    }
    new_hashes = [key for key in hashes if key not in active or active[key].category != label]
    if not new_hashes and previous is not None:
        version = previous
    else:
        version = _new_version(session, hash_set, previous, new_hashes, active, label, proposal)
    proposal.status = "confirmed"
    proposal.decided_by = confirmer
    proposal.decided_at = utcnow()
    proposal.hash_set_version_id = version.id
    session.flush()
    return version.version


def _alert_set(session: Session, name: str) -> HashSet:
    name = name.strip()
    if not name:
        raise ReviewError("no hash set named for confirmed proposals; set the unit's own set in the settings")
    hash_set = session.scalars(select(HashSet).where(HashSet.name == name)).first()
    if hash_set is None:
        hash_set = HashSet(
            name=name,
            source="confirmed review proposals (two-person rule)",
            kind="alert",
            category_scheme=SCHEME,
            pdq_threshold=DEFAULT_PDQ_THRESHOLD,
            pdq_min_quality=DEFAULT_PDQ_MIN_QUALITY,
            dihedral=True,
        )
        session.add(hash_set)
        session.flush()
    elif hash_set.kind != "alert":
        raise ReviewError(
            f"hash set {name!r} is an {hash_set.kind} set; confirmed pictures must go to an alert set, "
            "so name another set in the settings"
        )
    return hash_set


def _new_version(
    session: Session,
    hash_set: HashSet,
    previous: HashSetVersion | None,
    new_hashes: list[tuple[str, str]],
    active: dict[tuple[str, str], HashEntry],
    label: str | None,
    proposal: HashProposal,
) -> HashSetVersion:
    """The next version of `hash_set`: every entry alive before stays alive (entries have a lifetime, not
    a copy per version), re-labelled hashes are retired by it, the new ones are added by it."""
    version = HashSetVersion(
        hash_set_id=hash_set.id,
        version=(previous.version if previous else 0) + 1,
        source_file=None,
        source_sha256=None,
        format=PROPOSAL_FORMAT,
        category_scheme=SCHEME,
    )
    session.add(version)
    session.flush()
    changed = 0
    for key in new_hashes:
        if key in active:
            active[key].retired_version_id = version.id
            changed += 1
        hash_type, value = key
        session.add(
            HashEntry(
                version_id=version.id,
                hash_set_id=hash_set.id,
                hash_type=hash_type,
                value=value,
                category=label,
                media_id=proposal.sha256,  # one media item per picture when the set is exported as VICS
                details=json.dumps({"proposal": proposal.id}, sort_keys=True),
            )
        )
    session.flush()
    counts = {
        hash_type: count
        for hash_type, count in session.execute(
            select(HashEntry.hash_type, func.count())
            .where(*entries_alive_at(version))
            .group_by(HashEntry.hash_type)
            .order_by(HashEntry.hash_type)
        )
    }
    version.added_count = len(new_hashes) - changed  # a re-labelled entry is retired and added again
    version.removed_count = 0
    version.changed_count = changed
    version.entry_count = sum(counts.values())
    # What the PDQ index loader checks its size against (see himaya.matching.index_store).
    version.details = json.dumps({"counts": counts}, sort_keys=True)
    if hash_set.category_scheme is None:
        hash_set.category_scheme = SCHEME
    return version


def reject_proposal(session: Session, proposal_id: int, decider: str) -> HashProposal:
    """The proposal is not added. Anyone entitled to decide may reject, the proposer included (that is
    withdrawing it): only adding to the set needs a second person."""
    if not decider:
        raise ReviewError("a rejection needs the user name of who rejects it")
    proposal = _open_proposal(session, proposal_id)
    proposal.status = "rejected"
    proposal.decided_by = decider
    proposal.decided_at = utcnow()
    session.flush()
    return proposal
