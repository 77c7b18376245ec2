"""PDQ matching that needs no database: what scan workers receive and run.

Kept apart from `active.py` so that worker processes do not import SQLAlchemy just to unpickle their
hash sets (it is a third of a worker's start-up time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from himaya.matching.pdq_index import PdqIndex


@dataclass(frozen=True)
class ActivePdq:
    """One hash-set version's PDQ entries with the set's thresholds. Picklable, for worker processes."""

    version_id: int
    hash_set_name: str
    kind: str
    threshold: int  # match when distance <= threshold
    min_quality: int  # files whose PDQ quality is below this are not PDQ-matched at all
    index: PdqIndex


@dataclass(frozen=True)
class PdqHit:
    entry_id: int
    version_id: int
    hash_set_name: str
    kind: str
    distance: int


def match_pdq(pdq_sets: Sequence[ActivePdq], pdq_hex: str, quality: int) -> list[PdqHit]:
    """Hits for one file's PDQ hash over every set, nearest first. Needs no database: runs in workers."""
    return match_pdq_many(pdq_sets, [pdq_hex], [quality])[0]


def match_pdq_many(
    pdq_sets: Sequence[ActivePdq], hashes: Sequence[str], qualities: Sequence[int]
) -> list[list[PdqHit]]:
    """`match_pdq` for a batch of files; each set's index is searched once for the whole batch."""
    if len(hashes) != len(qualities):
        raise ValueError(f"{len(hashes)} hashes but {len(qualities)} qualities")
    results: list[list[PdqHit]] = [[] for _ in hashes]
    for pdq_set in pdq_sets:
        # Low-quality hashes (flat or tiny pictures) sit close to many unrelated ones; matching them
        # would flood the examiner with false alerts, so the set's quality floor gates them out.
        eligible = [n for n, quality in enumerate(qualities) if quality >= pdq_set.min_quality]
        if not eligible:
            continue
        found = pdq_set.index.search_many([hashes[n] for n in eligible], pdq_set.threshold)
        for n, hits in zip(eligible, found, strict=True):
            results[n].extend(
                PdqHit(entry_id, pdq_set.version_id, pdq_set.hash_set_name, pdq_set.kind, distance)
                for entry_id, distance in hits
            )
    for file_hits in results:
        file_hits.sort(key=lambda hit: (hit.distance, hit.hash_set_name, hit.entry_id))
    return results
