"""`himaya export CASE --format vpdq --out DIR`: a case's videos as Meta's vPDQ hash files, one per video.

Each file is the video's stored frame hashes exactly as the scan wrote them (`frame,quality,pdq,seconds`
a line, Meta's `vpdq-hash-video` form), so a partner's vPDQ tools read it and `himaya hashset import DIR
--format vpdq` makes the folder a hash set again. The hashes of the frames inside their borders are
Himaya's own and are not written: Meta's format has no place for them.

A file is named `<file id>-<base name>.txt`: the id ties it back to the export records and the review
app, and keeps two videos called `VID_0001.mp4` apart. Base names come from evidence and are hostile
input, so everything that could leave the folder, hide the file or trip a file system is replaced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from himaya.errors import UsageError
from himaya.reports.records import find_case
from himaya.store.db import Store
from himaya.store.models import EvidenceItem, File, Match, VideoFacts

# Path separators of every system, control and text-direction characters (a name shown reversed hides
# its real extension), and what Windows refuses in a name: the folder may go to a partner's Windows PC.
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069<>:"/\\|?*]')
MAX_NAME_BYTES = 200  # file names are at most 255 bytes; room for the id and ".txt"


def safe_base_name(path: str) -> str:
    """The last part of an evidence path, fit to be part of a file name in any folder on any system.

    Himaya's paths separate folders (and archive members, `a.zip!/b.mp4`) with "/" only; a backslash is
    part of a name, and is replaced like the rest.
    """
    base = path.rsplit("/", 1)[-1]
    safe = _UNSAFE.sub("_", base).strip(" .")
    cut = safe.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", errors="ignore").rstrip(" .")
    return cut or "video"


def vpdq_file_name(file_id: int, path: str) -> str:
    return f"{file_id}-{safe_base_name(path)}.txt"


def _videos(session: Session, case_id: int, only_matches: bool) -> Iterator[tuple[str, str]]:
    """(file name, frames text) of each hashed video of the case, in file id order."""
    query = (
        select(File.id, File.path, VideoFacts.frames)
        .join(VideoFacts, VideoFacts.file_id == File.id)
        .join(EvidenceItem, File.evidence_id == EvidenceItem.id)
        .where(EvidenceItem.case_id == case_id, VideoFacts.frames.is_not(None), VideoFacts.frames != "")
        .order_by(File.id)
        .execution_options(yield_per=100)
    )
    if only_matches:
        query = query.where(File.matches.any(Match.retired_at.is_(None)))
    for file_id, path, frames in session.execute(query):
        yield vpdq_file_name(file_id, path), frames or ""  # never empty here: the query leaves those out


def export_case_vpdq(store: Store, case_number: str, folder: Path, only_matches: bool = False) -> int:
    """Write one vPDQ hash file per hashed video of the case into `folder` (created if missing); returns
    how many. Refuses, before writing anything, when a file of the same name is already there."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file; a vPDQ export writes one file per video into a folder")
    with store.session() as session:
        case = find_case(session, case_number)
        names = [name for name, _frames in _videos(session, case.id, only_matches)]
        clashes = [name for name in names if (folder / name).exists()]
        if clashes:
            raise UsageError(
                f"{folder / clashes[0]} exists already ({len(clashes)} of the {len(names)} files would be "
                "replaced); export into an empty or new folder"
            )
        folder.mkdir(parents=True, exist_ok=True)
        written = 0
        for name, frames in _videos(session, case.id, only_matches):
            target = folder / name
            try:
                # "x": a file that appeared since the check above is still never replaced.
                with target.open("x", encoding="ascii", newline="") as handle:
                    handle.write(frames)
            except FileExistsError:
                raise UsageError(f"{target} exists already; export into an empty or new folder") from None
            except BaseException:
                target.unlink(missing_ok=True)  # never leave a file cut short that looks whole
                raise
            written += 1
    return written
