"""PDQ hashes of decoded pictures, in the hex form hash sets use.

Pipeline names go on every hash so that a court can reproduce it: the same bytes through the same
pipeline give the same 256 bits. Bump the `/1` when anything that changes the bits changes (decoder
scale rule, colour conversion, hasher build).
"""

from __future__ import annotations

import numpy as np
import pdqhash
from numpy.typing import NDArray
from PIL import Image

from himaya.analyzers.facts import PdqFacts

# Full-resolution decode, as Meta's reference hasher (and HMA) does it.
PIPELINE_FULL = "pdq-full/1"


def draft_pipeline(min_short_side: int) -> str:
    """JPEG decoded at the smallest DCT scale (1/2, 1/4, 1/8) whose short side is >= min_short_side."""
    return f"pdq-draft{min_short_side}/1"


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
