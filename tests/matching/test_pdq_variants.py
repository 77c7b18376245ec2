"""Rotated, mirrored, framed, letterboxed and screenshotted copies still match: `match_media`.

The corpus is the 20 `varied_pictures` (photo-like, gradients with shapes, text, smooth noise, dark
textured skies; 640x480, benign, generated). The hash set holds the reference PDQ (full decode) of each
original, threshold 31, quality floor 50. Every copy is written to a file and analysed as a scan does.

Measured (2026-11, pdqhash 0.2.8):

- Rotated 90/180/270 and mirrored left-right / top-bottom, JPEG q80 and PNG: 200 copies.
  Plain PDQ: 0/200 match. Dihedral on: 200/200 match their own entry, method "pdq-dihedral", no
  other entry; distances median 8, 90th percentile 14, max 26 (text pictures drift most: pdqhash's
  dihedral variants, taken from the un-turned picture's DCT, are not exactly the hash of the turned
  picture; on PNG copies, with no recompression at all, text pictures still reach 26-30).
- Frames of 5/10/20% of the short side in black, white and a colour; letterbox 16:9 -> 4:3, pillarbox
  4:3 -> 16:9; two screenshot-like canvases (picture off-centre, one scaled 1.5x on dark grey): 260
  copies per format. Plain PDQ: 0/260 (JPEG q80), 0/260 (PNG). With the trimmed hash: 260/260 and
  260/260, method "pdq-trimmed", no other entry; trimmed distances median 4 / max 20 (JPEG), median
  0 / max 8 (PNG). The test runs the JPEG copies only, for time.
- No-border corpus, false trims: see tests/analyzers/test_borders.py (0/168).

The tests assert >= 95% (turned) and >= 90% (borders) with <= 5% by plain PDQ, so that a small change
in a codec does not break them while a real regression does.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from himaya.analyzers.facts import PdqFacts
from himaya.analyzers.image import analyze_image, pdq_full_resolution
from himaya.analyzers.pdq import PIPELINE_FULL
from himaya.config import ImageLimits, PdqSettings, ScanSettings
from himaya.matching.pdq_index import PdqIndex, hamming
from himaya.matching.pdq_sets import ActivePdq, PdqHit, match_media, match_pdq, media_queries
from himaya.pipeline.workers import WorkerContext, analyse_entry
from himaya.sources.archive import ExtractionBudget
from himaya.sources.interface import FileEntry
from tests.builders.evidence import full_pdq
from tests.builders.images import (
    encode,
    framed,
    letterboxed,
    mirrored,
    on_canvas,
    photo_like,
    rotated,
    varied_pictures,
)

LIMITS = ImageLimits()
PDQ = PdqSettings()
THRESHOLD = 31
FLOOR = 50
WIDE_IDS = 100  # entry ids of the 16:9 originals start after this

Transform = Callable[[Image.Image], Image.Image]
TURNS: dict[str, Transform] = {
    "rotate90": lambda picture: rotated(picture, 90),
    "rotate180": lambda picture: rotated(picture, 180),
    "rotate270": lambda picture: rotated(picture, 270),
    "mirror-horizontal": lambda picture: mirrored(picture, "horizontal"),
    "mirror-vertical": lambda picture: mirrored(picture, "vertical"),
}
COLOURS = {"black": (0, 0, 0), "white": (255, 255, 255), "blue": (40, 120, 200)}
BORDERS: dict[str, Transform] = {
    **{
        f"frame-{round(share * 100)}%-{name}": (lambda s, c: lambda picture: framed(picture, s, c))(
            share, colour
        )
        for share in (0.05, 0.1, 0.2)
        for name, colour in COLOURS.items()
    },
    "pillarbox-4:3-in-16:9": lambda picture: letterboxed(picture, (16, 9)),
    "screenshot": lambda picture: on_canvas(picture, (1080, 1300), at=(0.3, 0.4)),
    "screenshot-scaled": lambda picture: on_canvas(
        picture, (1920, 1080), at=(0.2, 0.7), scale=1.5, colour=(24, 24, 24)
    ),
}
WIDE_BORDERS: dict[str, Transform] = {"letterbox-16:9-in-4:3": lambda picture: letterboxed(picture, (4, 3))}
FORMATS = ("JPEG", "PNG")
BORDER_FORMATS = ("JPEG",)  # bordered copies: PNG measured too (same rates), left out for time


@dataclass(frozen=True)
class Copy:
    name: str  # picture / transform / format
    entry_id: int  # the original's entry in the set
    pdq: PdqFacts


def write_and_analyse(directory: Path, name: str, picture: Image.Image, fmt: str) -> PdqFacts:
    """The copy as a file on disk, read back and analysed as a scan worker does."""
    path = directory / f"{name.replace('/', '_')}.{fmt.lower()}"
    path.write_bytes(encode(picture, fmt, quality=80) if fmt == "JPEG" else encode(picture, fmt))
    pdq = analyze_image(path.read_bytes(), limits=LIMITS, pdq=PDQ, thumbnails=None).pdq
    assert pdq is not None
    return pdq


@pytest.fixture(scope="module")
def originals() -> list[tuple[str, Image.Image]]:
    return varied_pictures()


@pytest.fixture(scope="module")
def wide_originals() -> list[tuple[str, Image.Image]]:
    return varied_pictures(640, 360, seed=8100)


@pytest.fixture(scope="module")
def reference_hashes(
    originals: list[tuple[str, Image.Image]], wide_originals: list[tuple[str, Image.Image]]
) -> dict[int, str]:
    """Entry id -> the reference PDQ of an original, as a hash set holds it."""
    hashes = {n + 1: full_pdq(encode(picture, "PNG")) for n, (_, picture) in enumerate(originals)}
    hashes |= {WIDE_IDS + n + 1: full_pdq(encode(p, "PNG")) for n, (_, p) in enumerate(wide_originals)}
    return hashes


def reference_set(hashes: dict[int, str], dihedral: bool) -> ActivePdq:
    index = PdqIndex.from_hex(list(hashes), list(hashes.values()))
    return ActivePdq(1, "TEST-reference", "alert", THRESHOLD, FLOOR, index, dihedral=dihedral)


@pytest.fixture(scope="module")
def turned_copies(
    tmp_path_factory: pytest.TempPathFactory, originals: list[tuple[str, Image.Image]]
) -> list[Copy]:
    directory = tmp_path_factory.mktemp("turned")
    return [
        Copy(
            f"{name}/{turn}/{fmt}", n + 1, write_and_analyse(directory, f"{name}/{turn}", make(picture), fmt)
        )
        for n, (name, picture) in enumerate(originals)
        for turn, make in TURNS.items()
        for fmt in FORMATS
    ]


@pytest.fixture(scope="module")
def bordered_copies(
    tmp_path_factory: pytest.TempPathFactory,
    originals: list[tuple[str, Image.Image]],
    wide_originals: list[tuple[str, Image.Image]],
) -> list[Copy]:
    directory = tmp_path_factory.mktemp("bordered")
    copies: list[Copy] = []
    for first_id, pictures, borders in (
        (1, originals, BORDERS),
        (WIDE_IDS + 1, wide_originals, WIDE_BORDERS),
    ):
        for n, (name, picture) in enumerate(pictures):
            for border, make in borders.items():
                for fmt in BORDER_FORMATS:
                    pdq = write_and_analyse(directory, f"{name}/{border}", make(picture), fmt)
                    copies.append(Copy(f"{name}/{border}/{fmt}", first_id + n, pdq))
    return copies


def hits_for(copy: Copy, pdq_set: ActivePdq) -> list[PdqHit]:
    return match_media([pdq_set], copy.pdq)


# --- Rotated and mirrored copies --------------------------------------------------------------------


def test_turned_copies_match_only_with_dihedral_variants(
    turned_copies: list[Copy], reference_hashes: dict[int, str]
) -> None:
    plain_set = reference_set(reference_hashes, dihedral=False)
    dihedral_set = reference_set(reference_hashes, dihedral=True)
    assert len(turned_copies) == 200
    plain = [copy.name for copy in turned_copies if hits_for(copy, plain_set)]
    found: list[str] = []
    for copy in turned_copies:
        hits = hits_for(copy, dihedral_set)
        assert [hit.entry_id for hit in hits] in ([], [copy.entry_id]), copy.name  # never another picture
        if hits:
            assert hits[0].method == "pdq-dihedral", copy.name
            found.append(copy.name)
    assert plain == []
    assert len(found) >= 0.95 * len(turned_copies), sorted({c.name for c in turned_copies} - set(found))


def test_the_original_orientation_is_reported_as_pdq_even_with_dihedral_on(
    tmp_path: Path, originals: list[tuple[str, Image.Image]], reference_hashes: dict[int, str]
) -> None:
    dihedral_set = reference_set(reference_hashes, dihedral=True)
    for n, (name, picture) in enumerate(originals[:5]):
        pdq = write_and_analyse(tmp_path, name, picture, "JPEG")
        hits = match_media([dihedral_set], pdq)
        assert [(hit.entry_id, hit.method) for hit in hits] == [(n + 1, "pdq")]
        assert hits[0].distance == hamming(pdq.hash_hex, reference_hashes[n + 1])


# --- Framed, letterboxed and screenshotted copies ---------------------------------------------------


def test_bordered_copies_match_by_their_trimmed_hash(
    bordered_copies: list[Copy], reference_hashes: dict[int, str]
) -> None:
    pdq_set = reference_set(reference_hashes, dihedral=True)
    assert len(bordered_copies) == 260
    by_plain = [copy.name for copy in bordered_copies if _plain_hit(copy, pdq_set)]
    found: list[str] = []
    for copy in bordered_copies:
        hits = hits_for(copy, pdq_set)
        assert [hit.entry_id for hit in hits] in ([], [copy.entry_id]), copy.name
        if hits:
            assert hits[0].method == "pdq-trimmed", copy.name
            found.append(copy.name)
    assert len(by_plain) <= 0.05 * len(bordered_copies), by_plain  # plain PDQ loses (nearly) all of them
    assert len(found) >= 0.9 * len(bordered_copies), sorted({c.name for c in bordered_copies} - set(found))


def _plain_hit(copy: Copy, pdq_set: ActivePdq) -> bool:
    return any(
        hit.entry_id == copy.entry_id for hit in match_pdq([pdq_set], copy.pdq.hash_hex, copy.pdq.quality)
    )


def test_a_framed_and_turned_copy_matches_through_the_trimmed_variants(
    tmp_path: Path, reference_hashes: dict[int, str], originals: list[tuple[str, Image.Image]]
) -> None:
    _name, picture = originals[0]
    pdq = write_and_analyse(
        tmp_path, "framed-turned", framed(rotated(picture, 90), 0.1, (255, 255, 255)), "JPEG"
    )
    assert [(h.entry_id, h.method) for h in match_media([reference_set(reference_hashes, True)], pdq)] == [
        (1, "pdq-trimmed")
    ]
    assert match_media([reference_set(reference_hashes, False)], pdq) == []


# --- match_media's rules, on made-up hashes ---------------------------------------------------------


def flip(hash_hex: str, count: int, start: int = 0) -> str:
    value = int(hash_hex, 16)
    for bit in range(start, start + count):
        value ^= 1 << (255 - bit)
    return f"{value:064x}"


_random = random.Random(20261128)
# Unrelated hashes: random 256-bit strings lie ~128 bits from each other, far beyond any threshold.
BASE, *FAR = (f"{_random.getrandbits(256):064x}" for _ in range(9))
PADDING = tuple(f"{_random.getrandbits(256):064x}" for _ in range(7))


def made_up_set(entries: dict[int, str], dihedral: bool = True, name: str = "TEST-a") -> ActivePdq:
    index = PdqIndex.from_hex(list(entries), list(entries.values()))
    return ActivePdq(7, name, "alert", THRESHOLD, FLOOR, index, dihedral=dihedral)


def facts(
    original: str, variants: Sequence[str] = (), trimmed: PdqFacts | None = None, quality: int = 100
) -> PdqFacts:
    padded = tuple(variants) + PADDING[len(variants) :]
    return PdqFacts(original, quality, PIPELINE_FULL, dihedral=padded, trimmed=trimmed)


def test_pdq_is_preferred_within_the_threshold_even_if_a_variant_is_nearer() -> None:
    entry = BASE
    media = facts(flip(entry, 30), variants=[flip(entry, 2)])
    assert [(h.distance, h.method) for h in match_media([made_up_set({1: entry})], media)] == [(30, "pdq")]


def test_otherwise_the_nearest_variant_reports_and_dihedral_wins_a_tie() -> None:
    entry = BASE
    trimmed = PdqFacts(flip(entry, 9), 100, PIPELINE_FULL + "+trim/1", dihedral=PADDING)
    media = facts(flip(entry, 40), variants=[flip(entry, 20), flip(entry, 12, 100)], trimmed=trimmed)
    assert [(h.distance, h.method) for h in match_media([made_up_set({1: entry})], media)] == [
        (9, "pdq-trimmed")
    ]
    tie = facts(flip(entry, 40), variants=[flip(entry, 9, 50)], trimmed=trimmed)
    assert [(h.distance, h.method) for h in match_media([made_up_set({1: entry})], tie)] == [
        (9, "pdq-dihedral")
    ]


def test_without_dihedral_variants_are_not_compared_but_the_trimmed_hash_is() -> None:
    entry = BASE
    trimmed_variants = (flip(entry, 3), *PADDING[1:])
    trimmed = PdqFacts(FAR[7], 100, PIPELINE_FULL + "+trim/1", dihedral=trimmed_variants)
    media = facts(FAR[6], variants=[flip(entry, 1)], trimmed=trimmed)
    assert match_media([made_up_set({1: entry}, dihedral=False)], media) == []
    assert [(h.distance, h.method) for h in match_media([made_up_set({1: entry})], media)] == [
        (1, "pdq-dihedral")
    ]
    plain_trimmed = facts(FAR[6], trimmed=PdqFacts(flip(entry, 4), 100, "x"))
    found = match_media([made_up_set({1: entry}, dihedral=False)], plain_trimmed)
    assert [(h.distance, h.method) for h in found] == [(4, "pdq-trimmed")]


def test_each_hash_passes_the_quality_floor_on_its_own_quality() -> None:
    entry = BASE
    low_trimmed = facts(FAR[0], trimmed=PdqFacts(flip(entry, 2), FLOOR - 1, "x"))
    assert match_media([made_up_set({1: entry})], low_trimmed) == []
    low_original = facts(flip(entry, 1), quality=FLOOR - 1, trimmed=PdqFacts(flip(entry, 5), FLOOR, "x"))
    assert [(h.distance, h.method) for h in match_media([made_up_set({1: entry})], low_original)] == [
        (5, "pdq-trimmed")
    ]
    assert [q.method for q in media_queries(low_original, dihedral=False)] == ["pdq", "pdq-trimmed"]


def test_one_search_per_set_nearest_first_across_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = FAR[0], FAR[1]
    trimmed = PdqFacts(flip(b, 3), 100, "x", dihedral=(*PADDING[1:], flip(a, 25)))
    media = facts(flip(a, 20), variants=[flip(b, 8)], trimmed=trimmed)
    sets = [made_up_set({1: a, 2: b}, name="TEST-a"), made_up_set({3: b}, name="TEST-b", dihedral=False)]
    searches: list[int] = []
    search_many = PdqIndex.search_many

    def counting(index: PdqIndex, queries: Sequence[str], *args: Any, **kwargs: Any) -> Any:
        searches.append(len(queries))
        return search_many(index, queries, *args, **kwargs)

    monkeypatch.setattr(PdqIndex, "search_many", counting)
    hits = match_media(sets, media)
    assert searches == [1 + 7 + 1 + 7, 1 + 1]  # all of a picture's hashes in one search per set
    assert [(h.hash_set_name, h.entry_id, h.distance, h.method) for h in hits] == [
        ("TEST-a", 2, 3, "pdq-trimmed"),
        ("TEST-b", 3, 3, "pdq-trimmed"),
        ("TEST-a", 1, 20, "pdq"),
    ]
    # The single-hash API is unchanged: the picture's own hash only.
    assert [(h.entry_id, h.method) for h in match_pdq(sets, media.hash_hex, 100)] == [(1, "pdq")]


# --- Through the scan worker ------------------------------------------------------------------------


def analyse_file(data: bytes, pdq_sets: list[ActivePdq]) -> tuple[PdqFacts, list[tuple[int, int, str]]]:
    settings = ScanSettings(workers=0, thumbnails=False)
    context = WorkerContext(settings=settings, pdq_sets=pdq_sets, blobs=None)
    entry = FileEntry("ev/p.jpg", "p.jpg", len(data), None, 0, lambda: io.BytesIO(data))
    [file_facts] = list(analyse_entry(entry, context, ExtractionBudget(settings.archive), None))
    assert file_facts.media is not None and file_facts.media.pdq is not None
    return file_facts.media.pdq, [(m.entry_id, m.distance, m.method) for m in file_facts.pdq_matches]


def test_the_worker_records_the_method(
    reference_hashes: dict[int, str], originals: list[tuple[str, Image.Image]]
) -> None:
    pdq_sets = [reference_set(reference_hashes, dihedral=True)]
    _name, picture = originals[1]
    _pdq, matches = analyse_file(encode(mirrored(picture, "horizontal"), "JPEG"), pdq_sets)
    assert [(entry, method) for entry, _, method in matches] == [(2, "pdq-dihedral")]
    _pdq, matches = analyse_file(encode(framed(picture, 0.1, (0, 0, 0)), "JPEG"), pdq_sets)
    assert [(entry, method) for entry, _, method in matches] == [(2, "pdq-trimmed")]
    _pdq, matches = analyse_file(encode(picture, "JPEG"), pdq_sets)
    assert [(entry, method) for entry, _, method in matches] == [(2, "pdq")]


def test_a_variant_near_the_threshold_is_decided_on_the_reference_hash() -> None:
    # 1536x2048: decoded at 1/2 for the fast hash; the rotate-270 variant undoes the turn.
    data = encode(rotated(photo_like(702, 2048, 1536), 90), "JPEG", quality=90)
    reference = pdq_full_resolution(data, LIMITS)
    undone = reference.dihedral[2]
    entry = _at_distance(undone, THRESHOLD, data)
    pdq, matches = analyse_file(data, [made_up_set({9: entry}, dihedral=True)])
    assert pdq.pipeline == PIPELINE_FULL  # re-hashed at full resolution because a variant was close
    assert matches == [(9, THRESHOLD, "pdq-dihedral")]
    pdq, matches = analyse_file(data, [made_up_set({9: entry}, dihedral=False)])
    assert pdq.pipeline.startswith("pdq-draft")  # variants not compared: nothing near, no re-hash
    assert matches == []


def _at_distance(reference_variant: str, distance: int, data: bytes) -> str:
    """An entry exactly `distance` from the reference variant, on bits where the draft agrees with it."""
    draft = analyze_image(data, limits=LIMITS, pdq=PDQ, thumbnails=None).pdq
    assert draft is not None and draft.pipeline.startswith("pdq-draft")
    drift = int(draft.dihedral[2], 16) ^ int(reference_variant, 16)
    agreeing = [bit for bit in range(256) if not drift >> (255 - bit) & 1]
    value = int(reference_variant, 16)
    for bit in agreeing[:distance]:
        value ^= 1 << (255 - bit)
    entry = f"{value:064x}"
    assert hamming(entry, reference_variant) == distance
    assert hamming(entry, draft.dihedral[2]) > distance  # the draft alone would not match
    return entry
