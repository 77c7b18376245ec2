"""PDQ hashes of decoded pictures, in the hex form hash sets use.

Pipeline names go on every hash so that a court can reproduce it: the same bytes through the same
pipeline give the same 256 bits. Bump the `/1` when anything that changes the bits changes (decoder
scale rule, colour conversion, hasher build).

Dihedral variants: `pdq_dihedral_of_rgb` also gives the hashes of the picture's 7 rotations and mirrors,
computed by pdqhash from the same DCT (no second decode, no second filter pass). A copy that was
mirrored or turned by 90/180/270 degrees hashes, in one of its variants, near the original's hash, but
not exactly: the variants are taken from the un-turned picture's DCT (median 8 bits, up to 26-30 for
fine text, on the generated test pictures; tests/matching/test_pdq_variants.py). `DIHEDRAL_VARIANTS` names
them in pdqhash's order, each with the Pillow transpose it stands for.

Trimmed hashes carry the parent pipeline plus `TRIM_SUFFIX` (e.g. "pdq-draft512/1+trim/1"): the picture
cropped to `himaya.analyzers.borders.content_box` of that same decode, then hashed.
"""

from __future__ import annotations

import numpy as np
import pdqhash
from numpy.typing import NDArray
from PIL import Image

from himaya.analyzers.facts import PdqFacts

# Full-resolution decode, as Meta's reference hasher (and HMA) does it.
PIPELINE_FULL = "pdq-full/1"
# Appended to the parent pipeline for the hash of the picture inside its borders; bump with borders.py.
TRIM_SUFFIX = "+trim/1"

# pdqhash.compute_dihedral's order after the original: (its name, the Pillow transpose of the picture
# whose plain PDQ the variant approximates).
DIHEDRAL_VARIANTS: tuple[tuple[str, Image.Transpose], ...] = (
    ("rotate90", Image.Transpose.ROTATE_90),  # counter-clockwise, as Pillow turns it
    ("rotate180", Image.Transpose.ROTATE_180),
    ("rotate270", Image.Transpose.ROTATE_270),
    ("flip-x", Image.Transpose.FLIP_TOP_BOTTOM),  # mirrored about the horizontal axis
    ("flip-y", Image.Transpose.FLIP_LEFT_RIGHT),  # mirrored about the vertical axis
    ("flip-plus1", Image.Transpose.TRANSPOSE),  # about the main diagonal
    ("flip-minus1", Image.Transpose.TRANSVERSE),  # about the other diagonal
)


def draft_pipeline(min_short_side: int) -> str:
    """JPEG decoded at the smallest DCT scale (1/2, 1/4, 1/8) whose short side is >= min_short_side."""
    return f"pdq-draft{min_short_side}/1"


def trimmed_pipeline(pipeline: str) -> str:
    return pipeline + TRIM_SUFFIX


def bits_to_hex(bits: NDArray[np.generic]) -> str:
    """256 hash bits to 64 lower-case hex characters, first bit most significant.

    This equals ThreatExchange's `"%064x" % int("".join(map(str, bits)), 2)`, the form in which PDQ
    hash sets are exchanged.
    """
    packed = np.packbits(np.asarray(bits, dtype=np.uint8))
    if packed.size != 32:
        raise ValueError(f"a PDQ hash has 256 bits, not {np.asarray(bits).size}")
    return packed.tobytes().hex()


def pdq_of_rgb(rgb: Image.Image, pipeline: str) -> PdqFacts:
    """PDQ of an RGB picture exactly as decoded: no EXIF rotation (see `himaya.analyzers.image`)."""
    if rgb.mode != "RGB":
        raise ValueError(f"PDQ needs an RGB picture, not mode {rgb.mode}")
    bits, quality = pdqhash.compute(np.asarray(rgb))
    return PdqFacts(hash_hex=bits_to_hex(bits), quality=int(quality), pipeline=pipeline)


def pdq_dihedral_of_rgb(rgb: Image.Image, pipeline: str) -> PdqFacts:
    """`pdq_of_rgb` plus the 7 dihedral variants, all from one pdqhash call; the original is unchanged."""
    if rgb.mode != "RGB":
        raise ValueError(f"PDQ needs an RGB picture, not mode {rgb.mode}")
    hashes, quality = pdqhash.compute_dihedral(np.asarray(rgb))
    if len(hashes) != 1 + len(DIHEDRAL_VARIANTS):  # pragma: no cover - pdqhash's interface
        raise ValueError(f"pdqhash.compute_dihedral gave {len(hashes)} hashes, not 8")
    original, *variants = (bits_to_hex(bits) for bits in hashes)
    return PdqFacts(hash_hex=original, quality=int(quality), pipeline=pipeline, dihedral=tuple(variants))
