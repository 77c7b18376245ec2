"""PDQ matching that needs no database: what scan workers receive and run.

Kept apart from `active.py` so that worker processes do not import SQLAlchemy just to unpickle their
hash sets (it is a third of a worker's start-up time).

`match_media` compares more than the picture's own hash: its 7 rotated / mirrored variants when the set
asks for them (`ActivePdq.dihedral`), and the hash of the picture inside its uniform borders when it has
some (`PdqFacts.trimmed`; with its variants too under the same condition). Each entry is reported once,
with how it was found:

- "pdq": the picture's own hash is within the threshold; preferred whenever it is, even if a variant
  is nearer, because it is the plain, reproducible comparison;
- otherwise the nearest of the others: "pdq-dihedral" (a rotated or mirrored variant) or "pdq-trimmed"
  (the trimmed content, in any orientation); on equal distances "pdq-dihedral" wins.

Each hash must pass the set's quality floor on its own quality (the trimmed one has its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from himaya.analyzers.facts import PdqFacts
from himaya.matching.pdq_index import PdqIndex

METHOD_PDQ = "pdq"
METHOD_DIHEDRAL = "pdq-dihedral"
METHOD_TRIMMED = "pdq-trimmed"
# Which method reports an entry found several ways at the same distance ("pdq" wins at any distance).
_PREFERENCE = {METHOD_PDQ: 0, METHOD_DIHEDRAL: 1, METHOD_TRIMMED: 2}


@dataclass(frozen=True)
class ActivePdq:
    """One hash-set version's PDQ entries with the set's thresholds. Picklable, for worker processes."""

    version_id: int
    hash_set_name: str
    kind: str
    threshold: int  # match when distance <= threshold
    min_quality: int  # files whose PDQ quality is below this are not PDQ-matched at all
    index: PdqIndex
    dihedral: bool = False  # also compare the rotated / mirrored variants (on by default for alert sets)


@dataclass(frozen=True)
class PdqHit:
    entry_id: int
    version_id: int
    hash_set_name: str
    kind: str
    distance: int
    method: str = "pdq"  # pdq | pdq-dihedral | pdq-trimmed


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


@dataclass(frozen=True)
class PdqQuery:
    """One hash that `match_media` compares for a picture, with its quality and the method it reports."""

    hash_hex: str
    quality: int
    method: str


def media_queries(pdq: PdqFacts, dihedral: bool) -> list[PdqQuery]:
    """The hashes to compare for a picture: its own first, then (if `dihedral`) its variants, then trimmed."""
    queries = [PdqQuery(pdq.hash_hex, pdq.quality, METHOD_PDQ)]
    if dihedral:
        queries.extend(PdqQuery(variant, pdq.quality, METHOD_DIHEDRAL) for variant in pdq.dihedral)
    trimmed = pdq.trimmed
    if trimmed is not None:
        queries.append(PdqQuery(trimmed.hash_hex, trimmed.quality, METHOD_TRIMMED))
        if dihedral:
            queries.extend(PdqQuery(variant, trimmed.quality, METHOD_TRIMMED) for variant in trimmed.dihedral)
    return queries


def match_media(pdq_sets: Sequence[ActivePdq], pdq: PdqFacts) -> list[PdqHit]:
    """Hits for one picture over every set, one per entry with its method, nearest first.

    Each set's index is searched once, for all the picture's queries together.
    """
    results: list[PdqHit] = []
    for pdq_set in pdq_sets:
        queries = [
            query for query in media_queries(pdq, pdq_set.dihedral) if query.quality >= pdq_set.min_quality
        ]
        if not queries:
            continue
        found = pdq_set.index.search_many([query.hash_hex for query in queries], pdq_set.threshold)
        results.extend(best_hits(pdq_set, queries, found))
    results.sort(key=lambda hit: (hit.distance, hit.hash_set_name, hit.entry_id))
    return results


def best_hits(
    pdq_set: ActivePdq, queries: Sequence[PdqQuery], found: Sequence[Sequence[tuple[int, int]]]
) -> list[PdqHit]:
    """One hit per entry from a search of `queries` (`found[n]` answers `queries[n]`).

    Only what the set accepts counts: queries at or above its quality floor and hits within its
    threshold, so a search made with a wider radius (to see whether a re-hash is needed) can be reused.
    """
    # entry id -> (not found by "pdq", distance, preference, method): the smallest tuple reports it
    best: dict[int, tuple[bool, int, int, str]] = {}
    for query, hits in zip(queries, found, strict=True):
        if query.quality < pdq_set.min_quality:
            continue
        for entry_id, distance in hits:
            if distance > pdq_set.threshold:
                continue
            way = (query.method != METHOD_PDQ, distance, _PREFERENCE[query.method], query.method)
            if entry_id not in best or way < best[entry_id]:
                best[entry_id] = way
    return [
        PdqHit(entry_id, pdq_set.version_id, pdq_set.hash_set_name, pdq_set.kind, distance, method)
        for entry_id, (_, distance, _, method) in best.items()
    ]
