"""Each message's media linked to the case's file record: by its path inside the extraction, else by the
content hash the app recorded.

- **Path.** Apps store media paths in their own form: relative to the app's folder (WhatsApp's
  `Media/WhatsApp Images/IMG-…jpg`, iOS WhatsApp's `Media/<jid>/…`), absolute on the phone
  (`/data/user_de/0/com.android.providers.telephony/app_parts/PART_…`, `/storage/emulated/0/…`) or from
  the home folder (`~/Library/SMS/Attachments/…`). A file of the case is a candidate when its name is the
  same; the candidate sharing the longest run of trailing folder names wins (at least the file and its
  folder, when the app gave a folder), then one in the same evidence item as the database, then one not
  deleted, then the first stored. Names are compared case-insensitively (iOS file systems are).
- **Content.** A message whose media has a SHA-256 (WhatsApp) and no file at its path is linked to a file
  of the case with that SHA-256 (a copy elsewhere, a carved or recovered picture). When the file at the
  path has different content and a file with the recorded content exists, the content wins.
- `media_present` is True when the linked file's content was read, False when the media is gone. A
  message whose media is gone keeps its SHA-256, which is matched against SHA-256 hash sets when read.

Linking runs over all the case's media messages after every scan, so media found later (a memory card
scanned as a second evidence item) is linked then.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from himaya.store.models import ArtifactSource, EvidenceItem, File, Message

__all__ = ["LinkCounts", "link_media", "path_parts"]

_PREFIXES = ("file://",)
BATCH = 5000


@dataclass
class LinkCounts:
    media_messages: int = 0
    by_path: int = 0
    by_sha256: int = 0
    missing: int = 0
    changed: int = 0


def path_parts(path: str) -> list[str]:
    """A stored media path as lower-case folder and file names, without `~`, `.` or empty parts."""
    text = path.strip().replace("\\", "/")
    for prefix in _PREFIXES:
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
    return [part.lower() for part in text.split("/") if part not in ("", ".", "~")]


@dataclass(frozen=True)
class _Candidate:
    file_id: int
    evidence_id: int
    parts: tuple[str, ...]
    deleted: bool
    has_content: bool
    sha256: str | None


def _shared_tail(a: list[str], b: tuple[str, ...]) -> int:
    count = 0
    for x, y in zip(reversed(a), reversed(b), strict=False):
        if x != y:
            break
        count += 1
    return count


def _best_by_path(parts: list[str], evidence_id: int, candidates: list[_Candidate]) -> _Candidate | None:
    needed = min(2, len(parts))
    best: tuple[int, int, int, int] | None = None
    chosen: _Candidate | None = None
    for candidate in candidates:
        shared = _shared_tail(parts, candidate.parts)
        if shared < needed:
            continue
        key = (shared, candidate.evidence_id == evidence_id, not candidate.deleted, -candidate.file_id)
        if best is None or key > best:
            best, chosen = key, candidate
    return chosen


def _preference(evidence_id: int) -> Callable[[_Candidate], tuple[bool, bool, int]]:
    return lambda c: (c.evidence_id == evidence_id, not c.deleted, -c.file_id)


def link_media(session: Session, case_id: int) -> LinkCounts:
    """Link (or re-link) every media message of the case; returns what was found."""
    counts = LinkCounts()
    wanted = session.execute(
        select(
            Message.id,
            ArtifactSource.evidence_id,
            Message.media_path,
            Message.media_sha256,
            Message.file_id,
            Message.link_method,
            Message.media_present,
        )
        .join(ArtifactSource, ArtifactSource.id == Message.source_id)
        .where(Message.case_id == case_id, Message.has_media.is_(True))
    ).all()
    if not wanted:
        return counts
    names: set[str] = set()
    digests: set[str] = set()
    for _, _, media_path, sha256, *_ in wanted:
        if media_path:
            parts = path_parts(media_path)
            if parts:
                names.add(parts[-1])
        if sha256:
            digests.add(sha256)

    by_name: dict[str, list[_Candidate]] = defaultdict(list)
    by_sha: dict[str, list[_Candidate]] = defaultdict(list)
    files = session.execute(
        select(File.id, File.evidence_id, File.path, File.deleted, File.md5, File.sha256)
        .join(EvidenceItem, EvidenceItem.id == File.evidence_id)
        .where(EvidenceItem.case_id == case_id)
        .execution_options(yield_per=20000)
    )
    for row_id, evidence_id, path, deleted, md5, sha256 in files:
        name = path.rsplit("/", 1)[-1].lower()
        in_names = name in names
        in_digests = sha256 is not None and sha256 in digests
        if not in_names and not in_digests:
            continue
        candidate = _Candidate(
            row_id, evidence_id, tuple(path_parts(path)), bool(deleted), md5 is not None, sha256
        )
        if in_names:
            by_name[name].append(candidate)
        if in_digests and sha256 is not None:
            by_sha[sha256].append(candidate)

    changes: list[dict[str, object]] = []
    for message_id, evidence_id, media_path, sha256, old_file, old_method, old_present in wanted:
        counts.media_messages += 1
        chosen: _Candidate | None = None
        method: str | None = None
        if media_path:
            parts = path_parts(media_path)
            if parts:
                chosen = _best_by_path(parts, evidence_id, by_name.get(parts[-1], []))
                method = "path" if chosen else None
        if sha256 and (chosen is None or (chosen.sha256 is not None and chosen.sha256 != sha256)):
            same = by_sha.get(sha256, [])
            if same:
                chosen, method = max(same, key=_preference(evidence_id)), "sha256"
        file_id: int | None = None
        present = False
        if chosen is None:
            counts.missing += 1
        else:
            if method == "path":
                counts.by_path += 1
            else:
                counts.by_sha256 += 1
            file_id, present = chosen.file_id, chosen.has_content
        if (file_id, method, present) != (old_file, old_method, old_present):
            changes.append(
                {"id": message_id, "file_id": file_id, "link_method": method, "media_present": present}
            )
    for start in range(0, len(changes), BATCH):
        session.execute(update(Message), changes[start : start + BATCH])
    counts.changed = len(changes)
    return counts
