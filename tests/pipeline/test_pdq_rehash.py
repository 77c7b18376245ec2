"""No match may be lost to the reduced-scale JPEG decode: near a threshold the reference hash decides.

A large JPEG is hashed from a 1/2-scale decode (`pdq-draft...`), which drifts a few bits from the
full-resolution reference hash that hash sets are built from. The entries here are placed bit by bit
around the reference so that the draft hash alone would decide wrongly, in both directions; the scan must
decide on the reference (`pdq-full/1`) and record that pipeline on the match.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from himaya.analyzers.image import analyze_image, pdq_full_resolution
from himaya.analyzers.pdq import PIPELINE_FULL
from himaya.cases import create_case
from himaya.config import ImageLimits, PdqSettings, ScanSettings
from himaya.hashsets.importer import import_hash_set
from himaya.matching.pdq_index import hamming
from himaya.pipeline.scan import run_scan
from himaya.store.db import Store, open_store
from himaya.store.models import File, HashSet, Match, MediaFacts
from tests.builders.evidence import full_pdq
from tests.builders.images import encode, photo_like

THRESHOLD = 31  # a new set's default
MARGIN = PdqSettings().rehash_margin
PICTURE = "ev/DCIM/big.jpg"


@dataclass(frozen=True)
class BigJpeg:
    data: bytes
    reference: str  # full-resolution PDQ, as hash sets hold it
    draft: str  # what the reduced decode gives
    draft_pipeline: str

    @property
    def drift(self) -> list[int]:
        """Bit positions (0 = most significant) where the draft hash differs from the reference."""
        return diff_bits(self.reference, self.draft)


def diff_bits(a_hex: str, b_hex: str) -> list[int]:
    x = int(a_hex, 16) ^ int(b_hex, 16)
    return [bit for bit in range(256) if x >> (255 - bit) & 1]


def flip(hash_hex: str, bits: Sequence[int]) -> str:
    value = int(hash_hex, 16)
    for bit in bits:
        value ^= 1 << (255 - bit)
    return f"{value:064x}"


@pytest.fixture(scope="module")
def big_jpeg() -> BigJpeg:
    # 2048x1536: libjpeg decodes it at 1/2 scale (1024x768, short side >= 512) for the fast hash.
    data = encode(photo_like(702, 2048, 1536), "JPEG", quality=90)
    media = analyze_image(data, limits=ImageLimits(), pdq=PdqSettings(), thumbnails=None)
    assert media.pdq is not None
    picture = BigJpeg(data, full_pdq(data), media.pdq.hash_hex, media.pdq.pipeline)
    assert picture.draft_pipeline.startswith("pdq-draft")
    assert pdq_full_resolution(data, ImageLimits()).hash_hex == picture.reference
    # The whole point: the reduced decode really drifts, by less than the re-hash margin.
    assert 0 < len(picture.drift) < MARGIN
    return picture


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Iterator[Store]:
    store = open_store(himaya_env["home"])
    create_case(store, "C-1", "TEST case")
    yield store
    store.close()


def import_pdq(
    store: Store, tmp_path: Path, name: str, hashes: Sequence[str], threshold: int | None = None, **kw: int
) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_text("pdq,category\n" + "".join(f"{h},TEST-B\n" for h in hashes))
    import_hash_set(store, path, name=name, pdq_threshold=threshold, **kw)


def scan(store: Store, tmp_path: Path, data: bytes) -> None:
    picture = tmp_path / PICTURE
    picture.parent.mkdir(parents=True, exist_ok=True)
    picture.write_bytes(data)
    settings = ScanSettings(workers=0, thumbnails=False)
    run_scan(store, "C-1", [tmp_path / "ev"], settings=settings, blobs=None, quiet=True)


def stored(store: Store) -> tuple[MediaFacts, list[tuple[str, int, str | None]]]:
    """The picture's media facts and its matches as (hash-set name, distance, pdq pipeline)."""
    with store.session() as session:
        file = session.scalars(select(File).where(File.path == PICTURE)).one()
        media = session.get(MediaFacts, file.id)
        assert media is not None
        rows = session.execute(
            select(HashSet.name, Match.distance, Match.pdq_pipeline, Match.method)
            .join(Match.hash_set_version)
            .join(HashSet)
            .where(Match.file_id == file.id)
            .order_by(HashSet.name)
        ).all()
    assert all(method == "pdq" for *_, method in rows)
    return media, [(name, distance, pipeline) for name, distance, pipeline, _ in rows]


def test_far_from_every_entry_the_draft_hash_is_kept(store: Store, tmp_path: Path, big_jpeg: BigJpeg) -> None:
    far = flip(big_jpeg.reference, range(0, 256, 2))  # 128 bits away: nowhere near a threshold
    import_pdq(store, tmp_path, "TEST-far", [far])
    scan(store, tmp_path, big_jpeg.data)
    media, matches = stored(store)
    assert matches == []
    assert (media.pdq, media.pdq_pipeline) == (big_jpeg.draft, big_jpeg.draft_pipeline)


def test_entry_at_31_from_the_reference_matches_though_the_draft_is_further(
    store: Store, tmp_path: Path, big_jpeg: BigJpeg
) -> None:
    agreeing = [bit for bit in range(256) if bit not in big_jpeg.drift]
    entry = flip(big_jpeg.reference, agreeing[:31])
    assert hamming(entry, big_jpeg.reference) == 31
    assert hamming(entry, big_jpeg.draft) == 31 + len(big_jpeg.drift)  # the draft alone: no match
    import_pdq(store, tmp_path, "TEST-pdq-31", [entry])
    scan(store, tmp_path, big_jpeg.data)
    media, matches = stored(store)
    assert matches == [("TEST-pdq-31", 31, PIPELINE_FULL)]
    assert (media.pdq, media.pdq_pipeline) == (big_jpeg.reference, PIPELINE_FULL)


def test_entry_at_32_from_the_reference_does_not_match_though_the_draft_is_nearer(
    store: Store, tmp_path: Path, big_jpeg: BigJpeg
) -> None:
    agreeing = [bit for bit in range(256) if bit not in big_jpeg.drift]
    entry = flip(big_jpeg.reference, big_jpeg.drift + agreeing[: 32 - len(big_jpeg.drift)])
    assert hamming(entry, big_jpeg.reference) == 32
    assert hamming(entry, big_jpeg.draft) == 32 - len(big_jpeg.drift)  # the draft alone: a match
    import_pdq(store, tmp_path, "TEST-pdq-32", [entry])
    scan(store, tmp_path, big_jpeg.data)
    media, matches = stored(store)
    assert matches == []
    assert (media.pdq, media.pdq_pipeline) == (big_jpeg.reference, PIPELINE_FULL)


def test_both_sets_together(store: Store, tmp_path: Path, big_jpeg: BigJpeg) -> None:
    agreeing = [bit for bit in range(256) if bit not in big_jpeg.drift]
    import_pdq(store, tmp_path, "TEST-pdq-31", [flip(big_jpeg.reference, agreeing[:31])])
    import_pdq(store, tmp_path, "TEST-pdq-32", [flip(big_jpeg.reference, agreeing[31:63])])
    scan(store, tmp_path, big_jpeg.data)
    _media, matches = stored(store)
    assert matches == [("TEST-pdq-31", 31, PIPELINE_FULL)]


def test_a_tight_threshold_is_decided_on_the_reference_hash(
    store: Store, tmp_path: Path, big_jpeg: BigJpeg
) -> None:
    # Threshold just under the drift: the draft hash itself would match its own entry at distance 0,
    # the reference hash (what the set's source hashed) is too far; the reference entry is the reverse.
    threshold = len(big_jpeg.drift) - 1
    import_pdq(store, tmp_path, "TEST-draft-itself", [big_jpeg.draft], threshold)
    import_pdq(store, tmp_path, "TEST-reference", [big_jpeg.reference], threshold)
    scan(store, tmp_path, big_jpeg.data)
    media, matches = stored(store)
    assert matches == [("TEST-reference", 0, PIPELINE_FULL)]
    assert (media.pdq, media.pdq_pipeline) == (big_jpeg.reference, PIPELINE_FULL)


@pytest.mark.parametrize(
    ("draft_distance", "rehashed"),
    [
        (THRESHOLD - MARGIN, False),  # far inside: a sure match, the fast hash is kept
        (THRESHOLD - MARGIN + 1, True),
        (THRESHOLD, True),
        (THRESHOLD + MARGIN, True),
        (THRESHOLD + MARGIN + 1, False),  # far outside: no match either way
    ],
)
def test_within_the_margin_the_stored_hash_is_the_reference(
    store: Store, tmp_path: Path, big_jpeg: BigJpeg, draft_distance: int, rehashed: bool
) -> None:
    entry = flip(big_jpeg.draft, range(255, 255 - draft_distance, -1))
    assert hamming(entry, big_jpeg.draft) == draft_distance
    import_pdq(store, tmp_path, "TEST-margin", [entry])
    scan(store, tmp_path, big_jpeg.data)
    media, matches = stored(store)
    if rehashed:
        assert (media.pdq, media.pdq_pipeline) == (big_jpeg.reference, PIPELINE_FULL)
        decided = hamming(entry, big_jpeg.reference)
    else:
        assert (media.pdq, media.pdq_pipeline) == (big_jpeg.draft, big_jpeg.draft_pipeline)
        decided = draft_distance
    expected = [("TEST-margin", decided, media.pdq_pipeline)] if decided <= THRESHOLD else []
    assert matches == expected


def flat_png() -> bytes:
    return encode(Image.new("RGB", (256, 256), (90, 140, 200)), "PNG")


def test_a_flat_picture_is_below_the_quality_floor_and_never_pdq_matched(
    store: Store, tmp_path: Path
) -> None:
    data = flat_png()
    import_pdq(store, tmp_path, "TEST-flat", [full_pdq(data)])  # distance 0, default quality floor 50
    scan(store, tmp_path, data)
    media, matches = stored(store)
    assert media.pdq_quality == 0
    assert media.pdq == full_pdq(data)
    assert matches == []


def test_the_quality_floor_is_the_sets_own(store: Store, tmp_path: Path) -> None:
    data = flat_png()
    import_pdq(store, tmp_path, "TEST-flat", [full_pdq(data)], pdq_min_quality=0)
    scan(store, tmp_path, data)
    _media, matches = stored(store)
    assert matches == [("TEST-flat", 0, PIPELINE_FULL)]


def low_contrast_jpeg() -> bytes:
    """A 1400x1050 JPEG whose draft PDQ quality is 49 and whose reference quality is 50 (found by search)."""
    pixels = np.asarray(photo_like(800, 1400, 1050)).astype(np.float32)
    pixels = np.clip(128 + (pixels - 128) * 0.328, 0, 255).astype(np.uint8)
    return encode(Image.fromarray(pixels, "RGB"), "JPEG", quality=90)


def test_quality_floor_is_decided_on_the_reference_quality(store: Store, tmp_path: Path) -> None:
    data = low_contrast_jpeg()
    media_draft = analyze_image(data, limits=ImageLimits(), pdq=PdqSettings(), thumbnails=None).pdq
    reference = pdq_full_resolution(data, ImageLimits())
    assert media_draft is not None and media_draft.pipeline.startswith("pdq-draft")
    assert (media_draft.quality, reference.quality) == (49, 50)
    import_pdq(store, tmp_path, "TEST-exact", [reference.hash_hex])  # distance 0, quality floor 50
    scan(store, tmp_path, data)
    _media, matches = stored(store)
    assert matches == [("TEST-exact", 0, PIPELINE_FULL)]
