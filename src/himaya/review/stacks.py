"""Near-duplicate stacks: the same picture resized, re-encoded or re-shared, shown and decided as one.

A seized phone holds the same picture many times over (the camera original, the WhatsApp copy, the
thumbnail, the edited one). Stacking them lets a reviewer see one tile and decide once for all of them.

Two pictures stack when their PDQ hashes are at most `threshold` bits apart (the matcher's own default,
31) or their bytes are identical (same SHA-256); stacks are the connected groups of that relation, so a
chain of small edits stays one stack. The search is exact (`PdqIndex`, every pair within the distance
is found), over the case's pictures against themselves in one batch.

Pictures whose PDQ quality is below the matcher's floor (50) stack by SHA-256 only: a flat or nearly
blank picture has a low-quality hash close to every other flat picture's, and would chain unrelated
pictures into one huge stack.

A stack is named by its lowest file id (`gallery_items.stack_id`); a picture alone has None.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from himaya.hashsets.importer import DEFAULT_PDQ_MIN_QUALITY, DEFAULT_PDQ_THRESHOLD
from himaya.matching.pdq_index import PdqIndex, pdq_codes
from himaya.review.gallery import scratch_table
from himaya.store.models import GalleryItem, MediaFacts

_STACKS = "himaya_gallery_stacks"
WRITE_CHUNK = 10_000


def build_stacks(
    session: Session,
    case_id: int,
    threshold: int = DEFAULT_PDQ_THRESHOLD,
    *,
    min_quality: int = DEFAULT_PDQ_MIN_QUALITY,
) -> int:
    """Group the case's gallery pictures into near-duplicate stacks; returns how many stacks (of two or
    more pictures) there are. Only rows whose stack changes are written."""
    rows = session.execute(
        select(
            GalleryItem.file_id,
            GalleryItem.sha256,
            GalleryItem.pdq,
            MediaFacts.pdq_quality,
            GalleryItem.stack_id,
        )
        .outerjoin(MediaFacts, MediaFacts.file_id == GalleryItem.file_id)
        .where(GalleryItem.case_id == case_id)
        .order_by(GalleryItem.file_id)
    ).all()
    if not rows:
        return 0
    count = len(rows)
    firsts: list[int] = []
    seconds: list[int] = []
    by_content: dict[str, int] = {}
    for row_number, (_file_id, sha256, _pdq, _quality, _stack) in enumerate(rows):
        if sha256 is None:
            continue
        first = by_content.setdefault(sha256, row_number)
        if first != row_number:
            firsts.append(first)
            seconds.append(row_number)
    hashed = [
        (row_number, pdq)
        for row_number, (_file_id, _sha256, pdq, quality, _stack) in enumerate(rows)
        if pdq is not None and (quality is None or quality >= min_quality)
    ]
    pairs_a = np.asarray(firsts, dtype=np.int64)
    pairs_b = np.asarray(seconds, dtype=np.int64)
    if len(hashed) > 1:
        positions = np.asarray([row_number for row_number, _ in hashed], dtype=np.int64)
        index = PdqIndex(positions, pdq_codes([pdq for _, pdq in hashed]))
        found = index.search_codes(index.codes, threshold)
        keep = found.entry_id != positions[found.query]  # every picture finds itself
        pairs_a = np.concatenate([pairs_a, positions[found.query][keep]])
        pairs_b = np.concatenate([pairs_b, found.entry_id[keep]])
    roots = components(count, pairs_a, pairs_b)
    sizes = np.bincount(roots, minlength=count)
    file_ids = np.asarray([row[0] for row in rows], dtype=np.int64)
    # Rows are in file id order, so a group's root (its lowest row) is its lowest file id.
    stack_ids = np.where(sizes[roots] > 1, file_ids[roots], -1)
    changes = [
        {"file_id": int(file_ids[n]), "stack_id": None if stack_ids[n] < 0 else int(stack_ids[n])}
        for n in range(count)
        if (None if stack_ids[n] < 0 else int(stack_ids[n])) != rows[n][4]
    ]
    _write(session, changes)
    return int(np.count_nonzero(sizes > 1))


def components(count: int, a: npt.NDArray[np.int64], b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Union-find over `count` items joined by the pairs (a[i], b[i]); each item's root is the lowest
    item of its group.

    Vectorised, for the hundreds of thousands of pairs of a large case: each round hooks the higher root
    of every still-split pair under the lowest root it is paired with, then compresses paths fully.
    Roots only ever point lower, so a group's lowest member ends as its root. Near-duplicate groups take
    a handful of rounds.
    """
    parent = np.arange(count, dtype=np.int64)
    if len(a) == 0:
        return parent
    while True:
        root_a, root_b = parent[a], parent[b]
        split = root_a != root_b
        if not split.any():
            return parent
        low = np.minimum(root_a[split], root_b[split])
        high = np.maximum(root_a[split], root_b[split])
        np.minimum.at(parent, high, low)  # unbuffered: a root paired with several takes the lowest
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                break
            parent = grand


def _write(session: Session, changes: list[dict[str, int | None]]) -> None:
    """One UPDATE ... FROM a scratch table: a few statements whatever the number of changed rows."""
    if not changes:
        return
    with scratch_table(session, _STACKS, "file_id INTEGER PRIMARY KEY, stack_id INTEGER") as connection:
        for start in range(0, len(changes), WRITE_CHUNK):
            connection.execute(
                text(f"INSERT INTO {_STACKS} (file_id, stack_id) VALUES (:file_id, :stack_id)"),  # noqa: S608
                changes[start : start + WRITE_CHUNK],
            )
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"ANALYZE {_STACKS}"))
        connection.execute(
            text(
                f"UPDATE gallery_items SET stack_id = st.stack_id FROM {_STACKS} st "  # noqa: S608
                "WHERE st.file_id = gallery_items.file_id"
            )
        )
