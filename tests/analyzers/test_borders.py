"""Uniform borders are found around a picture, and ordinary pictures are left alone.

Measured (content_box on the decoded file, generated pictures, 2026-11):
- detection and matching rates on framed / letterboxed / screenshotted copies: see
  tests/matching/test_pdq_variants.py (520/520 JPEG q80 + PNG copies matched by their trimmed hash);
- false trims on the no-border corpus below (photo-like, gradients with and without shapes, text,
  smooth noise, dark textured skies; 4 sizes; JPEG q80 and PNG): 0/168, asserted <= 2%. On a wider run
  of 560 such files (40 seeds per kind, 5 sizes) 6 were trimmed, all noiseless synthetic graphics
  (a near-flat gradient up to a flat shape's edge): the documented case borders.py cannot tell apart.
- heavy re-sharing (bordered, downscaled 50%, JPEG q50): 78/80 matched at 640x480; on 344x264 copies
  only 47/80, because JPEG's 16-pixel chroma blocks ring across frames thinner than that.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from himaya.analyzers.borders import content_box
from himaya.analyzers.image import analyze_image, pdq_full_resolution
from himaya.analyzers.pdq import PIPELINE_FULL, TRIM_SUFFIX, draft_pipeline
from himaya.config import ImageLimits, PdqSettings
from himaya.matching.pdq_index import hamming
from tests.builders.evidence import full_pdq
from tests.builders.images import (
    dark_sky_picture,
    encode,
    framed,
    gradient_picture,
    letterboxed,
    noise_picture,
    on_canvas,
    photo_like,
    text_picture,
)

LIMITS = ImageLimits()
PDQ = PdqSettings()


def decoded(image: Image.Image, fmt: str = "PNG", quality: int = 80) -> Image.Image:
    """The picture as a scan sees it: written to a file in `fmt`, decoded again."""
    data = encode(image, fmt, quality=quality) if fmt == "JPEG" else encode(image, fmt)
    with Image.open(io.BytesIO(data)) as opened:
        return opened.convert("RGB")


def near(box: tuple[int, int, int, int] | None, expected: tuple[int, int, int, int], slack: int) -> bool:
    return box is not None and all(abs(a - b) <= slack for a, b in zip(box, expected, strict=True))


# --- Borders are found ------------------------------------------------------------------------------


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (40, 120, 200)])
@pytest.mark.parametrize("share", [0.05, 0.1, 0.2])
def test_a_frame_is_found_exactly_in_a_png(share: float, colour: tuple[int, int, int]) -> None:
    picture = photo_like(1)
    copy = framed(picture, share, colour)
    thickness = round(share * 480)
    assert content_box(decoded(copy)) == (thickness, thickness, thickness + 640, thickness + 480)


@pytest.mark.parametrize("quality", [95, 80, 60])
def test_a_frame_is_found_through_jpeg_ringing(quality: int) -> None:
    copy = framed(photo_like(2), 0.1, (255, 255, 255))
    # JPEG rings a few pixels around the edge; those count as border, so the box stays close.
    assert near(content_box(decoded(copy, "JPEG", quality)), (48, 48, 688, 528), slack=3)


def test_letterbox_and_pillarbox_bars() -> None:
    wide = photo_like(3, 640, 360)  # 16:9 shown in a 4:3 frame: bars top and bottom
    assert content_box(decoded(letterboxed(wide, (4, 3)), "JPEG")) is not None
    assert near(content_box(decoded(letterboxed(wide, (4, 3)))), (0, 60, 640, 420), slack=0)
    narrow = photo_like(4, 640, 480)  # 4:3 shown in a 16:9 frame: bars left and right
    assert near(content_box(decoded(letterboxed(narrow, (16, 9)), "JPEG")), (106, 0, 746, 480), slack=3)


def test_a_screenshot_on_a_plain_canvas_off_centre() -> None:
    screen = on_canvas(photo_like(5), (1080, 1300), at=(0.0, 0.3))  # flush left: no band on that side
    assert near(content_box(decoded(screen, "JPEG")), (0, 246, 640, 726), slack=3)


def test_a_thin_side_is_trimmed_once_another_side_has_a_real_band() -> None:
    canvas = Image.new("RGB", (700, 600), (255, 255, 255))
    canvas.paste(photo_like(6), (4, 90))  # 4 px on the left (under 2%), 56 on the right, 90 / 30
    assert content_box(decoded(canvas)) == (4, 90, 644, 570)


def test_only_thin_bands_are_not_worth_trimming() -> None:
    canvas = Image.new("RGB", (648, 488), (0, 0, 0))
    canvas.paste(photo_like(7), (4, 4))  # 4 px all round: under 2% of either side
    assert content_box(decoded(canvas)) is None


def test_bands_of_two_colours() -> None:
    inner = framed(photo_like(8, 600, 400), 0.05, (255, 255, 255))  # white frame, 20 px
    outer = letterboxed(inner, (1, 1))  # then black bars up to square
    box = content_box(decoded(outer))
    top = (outer.height - inner.height) // 2
    assert box == (20, top + 20, 620, top + 420)


def test_a_large_picture_is_examined_reduced_and_the_box_scaled_back() -> None:
    picture = photo_like(9, 2000, 1500)
    copy = framed(picture, 0.1, (0, 0, 0))  # 150 px
    assert near(content_box(decoded(copy, "JPEG", 90)), (150, 150, 2150, 1650), slack=6)


# --- Ordinary pictures are left alone ---------------------------------------------------------------

Maker = Callable[[int, int, int], Image.Image]
NO_BORDER: dict[str, Maker] = {
    "photo": photo_like,
    "gradient+shapes": gradient_picture,
    "gradient": lambda seed, w, h: gradient_picture(seed, w, h, shapes=0),
    "text": text_picture,
    "noise": noise_picture,
    "dark-sky": dark_sky_picture,
    "thin-dark-sky": lambda seed, w, h: dark_sky_picture(seed, w, h, sky=0.15),
}
SIZES = [(640, 480), (480, 640), (1024, 576), (300, 300)]


def test_false_trim_rate_on_pictures_without_borders() -> None:
    trimmed: list[str] = []
    total = 0
    for kind, make in NO_BORDER.items():
        for n in range(12):
            width, height = SIZES[n % len(SIZES)]
            picture = make(1000 + n, width, height)
            for fmt in ("JPEG", "PNG"):
                total += 1
                if content_box(decoded(picture, fmt)) is not None:
                    trimmed.append(f"{kind}-{n} {fmt}")
    assert total == 168
    assert len(trimmed) <= total * 0.02, trimmed


def test_a_dark_textured_sky_is_content_not_a_border() -> None:
    picture = dark_sky_picture(3, sky=0.4)
    assert content_box(decoded(picture, "JPEG")) is None


def test_a_vertical_gradient_has_uniform_rows_but_no_edge() -> None:
    ramp = np.linspace(0, 255, 480, dtype=np.float32)[:, None, None] * np.ones((1, 640, 3), np.float32)
    picture = Image.fromarray(ramp.astype(np.uint8), "RGB")
    assert content_box(picture) is None


def test_flat_and_tiny_pictures_are_never_trimmed() -> None:
    assert content_box(Image.new("RGB", (640, 480), (90, 140, 200))) is None
    assert content_box(Image.new("RGB", (10, 10), (0, 0, 0))) is None
    nearly_all_border = Image.new("RGB", (1000, 1000), (0, 0, 0))
    nearly_all_border.paste(photo_like(1, 150, 150), (400, 400))  # 15% of the side: under the 20% floor
    assert content_box(nearly_all_border) is None


def test_only_rgb_is_accepted() -> None:
    with pytest.raises(ValueError, match="RGB"):
        content_box(Image.new("L", (64, 64)))


# --- What analyze_image records ---------------------------------------------------------------------


def test_a_bordered_picture_carries_the_trimmed_hash_with_its_pipeline() -> None:
    picture = photo_like(12)
    reference = full_pdq(encode(picture, "PNG"))
    data = encode(framed(picture, 0.1, (0, 0, 0)), "JPEG", quality=85)
    facts = analyze_image(data, limits=LIMITS, pdq=PDQ, thumbnails=None).pdq
    assert facts is not None and facts.trimmed is not None
    assert facts.trimmed.pipeline == PIPELINE_FULL + TRIM_SUFFIX == "pdq-full/1+trim/1"
    assert hamming(facts.hash_hex, reference) > 31  # the frame hides it from plain PDQ
    assert hamming(facts.trimmed.hash_hex, reference) <= 31
    assert len(facts.trimmed.dihedral) == 7
    assert facts.trimmed.trimmed is None


def test_the_reduced_decode_trims_too_and_the_reference_agrees() -> None:
    picture = photo_like(13, 1800, 1350)
    reference = full_pdq(encode(picture, "PNG"))
    data = encode(letterboxed(picture, (16, 9)), "JPEG", quality=90)  # 2400x1350: decoded at 1/2
    draft = analyze_image(data, limits=LIMITS, pdq=PDQ, thumbnails=None).pdq
    full = pdq_full_resolution(data, LIMITS)
    assert draft is not None and draft.trimmed is not None and full.trimmed is not None
    assert draft.trimmed.pipeline == draft_pipeline(512) + TRIM_SUFFIX
    assert full.trimmed.pipeline == "pdq-full/1+trim/1"
    assert hamming(full.trimmed.hash_hex, reference) <= 16
    assert hamming(draft.trimmed.hash_hex, full.trimmed.hash_hex) <= PDQ.rehash_margin


def test_an_ordinary_picture_has_no_trimmed_hash_and_seven_variants() -> None:
    facts = analyze_image(encode(photo_like(14), "JPEG"), limits=LIMITS, pdq=PDQ, thumbnails=None).pdq
    assert facts is not None
    assert facts.trimmed is None
    assert len(facts.dihedral) == 7 and len(set(facts.dihedral)) == 7
    assert facts.hash_hex not in facts.dihedral
