"""Pictures: one decode gives the PDQ hash, EXIF facts and the review thumbnails.

Speed comes from JPEG's reduced-scale decode. libjpeg can do the inverse DCT at 1/2, 1/4 or 1/8 scale,
so a 12 MP photo decodes straight to 1000x750 at a fraction of the cost, and PDQ (which reduces every
picture to 64x64 luma anyway) has 16x fewer pixels to filter. The price is a drift of a few bits from
the full-resolution hash; the pipeline re-hashes with `pdq_full_resolution` whenever a match is within
`PdqSettings.rehash_margin` of the threshold, so no match is lost. bench/bench_images.py measures both.

Orientation: the hash is taken over the pixels as stored, without applying EXIF orientation, because
that is what Meta's reference hasher and HMA do and what shared PDQ hash sets contain. (HEIF's own
rotation and mirror boxes are part of the image, not metadata; libheif applies them for everyone.)

Variants: every PDQ also carries its 7 rotated / mirrored variants (free: same decode, same DCT) and,
when the picture has uniform borders (frame, letterbox bars, screenshot margins; see
`himaya.analyzers.borders`), the hash of what lies inside them, taken from the same decode. Matching
decides which of them it compares (`himaya.matching.pdq_sets.match_media`).

Hostile input: Pillow decodes only the formats listed here; the pixel limit turns decompression bombs
into errors before any pixel is allocated; truncated files are errors (LOAD_TRUNCATED_IMAGES stays
False) because a half-grey picture would hash to something that matches nothing, silently.
"""

from __future__ import annotations

import functools
import io
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pillow_heif
from PIL import Image, ImageFile, UnidentifiedImageError

from himaya.analyzers.borders import content_box
from himaya.analyzers.exif import orientation, read_exif
from himaya.analyzers.facts import MediaFacts, PdqFacts
from himaya.analyzers.pdq import PIPELINE_FULL, draft_pipeline, pdq_dihedral_of_rgb, trimmed_pipeline
from himaya.analyzers.thumbnail import ThumbnailSink, store_thumbnails
from himaya.config import ImageLimits, PdqSettings
from himaya.errors import EvidenceError

__all__ = [
    "IMAGE_MIMES",
    "ImageError",
    "ThumbnailSink",
    "analyze_image",
    "is_image_mime",
    "pdq_full_resolution",
]

# Pillow format names we decode, nothing else (each extra decoder is attack surface).
_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "HEIF")
# Pillow's JPEG opener returns an "MPO" image for many camera JPEGs (a JPEG with extra frames).
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})

IMAGE_MIMES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/x-ms-bmp",
        "image/tiff",
        "image/heic",
        "image/heif",
        "image/heic-sequence",
        "image/heif-sequence",
    }
)


class ImageError(EvidenceError):
    """A picture that cannot be decoded: corrupt, truncated, over the pixel limit or unsupported."""


def is_image_mime(mime: str) -> bool:
    return mime.lower() in IMAGE_MIMES


@functools.cache
def _register_plugins() -> None:
    # Image.open(formats=...) only looks at plugins already loaded; Pillow loads WebP and TIFF
    # lazily, so load them all once, and pillow-heif's opener with them.
    Image.init()
    pillow_heif.register_heif_opener()


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1_000_000:g} MP"


def _over_limit(pixels: int | None, limits: ImageLimits) -> ImageError:
    count = f"{pixels:,} pixels" if pixels is not None else "more pixels than allowed"
    return ImageError(
        f"image has {count}, over the {_megapixels(limits.max_pixels)} limit; raise --max-pixels to decode it"
    )


@contextmanager
def _decoding(limits: ImageLimits) -> Iterator[None]:
    """Pillow's bomb guard set to our limit and made fatal; Pillow's many error types made ImageError."""
    _register_plugins()
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limits.max_pixels
    # A truncated picture must be an error on record, never silently padded with grey: libraries that
    # share the process can turn Pillow's global leniency on (WeasyPrint does, when it is imported).
    lenient = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            # Pillow's UserWarnings on decode are about damaged metadata (it reads EXIF for the DPI while
            # opening a JPEG); routine on seized material, and exif.py reports what it could read.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except ImageError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        found = re.search(r"\((\d+) pixels\)", str(error))
        raise _over_limit(int(found.group(1)) if found else None, limits) from error
    except UnidentifiedImageError as error:
        raise ImageError(
            "image is truncated or corrupt: not a readable JPEG, PNG, GIF, WebP, BMP, TIFF or HEIF file"
        ) from error
    except MemoryError as error:
        raise ImageError("image is too large to decode in this worker's memory") from error
    except Exception as error:  # hostile files make Pillow raise OSError, SyntaxError, struct.error, ...
        raise ImageError(f"image is truncated or corrupt: {error or type(error).__name__}") from error
    finally:
        Image.MAX_IMAGE_PIXELS = previous
        ImageFile.LOAD_TRUNCATED_IMAGES = lenient


def _open(data: bytes, limits: ImageLimits) -> Image.Image:
    if len(data) > limits.max_image_bytes:
        raise ImageError(
            f"image file is {len(data):,} bytes, over the {limits.max_image_bytes:,}-byte decode limit"
        )
    image = Image.open(io.BytesIO(data), formats=_FORMATS)
    # Pillow skips its own check when MAX_IMAGE_PIXELS is None, which other code in the process may set.
    if image.width * image.height > limits.max_pixels:
        raise _over_limit(image.width * image.height, limits)
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB for PDQ and thumbnails. Alpha is dropped, not composited, as the reference hasher does."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode.startswith("I;16"):
        # Pillow's convert() clips wide values at 255, so a 16-bit scan would hash as a white page;
        # keep the top 8 bits instead.
        grey = (np.asarray(image).astype(np.uint16) >> 8).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode in ("I", "F"):
        # 32-bit integer or float pixels: assume the 16-bit range unless the picture goes beyond it.
        wide = np.asarray(image, dtype=np.float32)
        top = max(float(wide.max(initial=0.0)), 65535.0)
        grey = np.clip(wide * np.float32(255.0 / top), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")  # a palette with transparency only converts cleanly via RGBA
    try:
        return image.convert("RGB")
    except ValueError as error:
        raise ImageError(f"image mode {mode} cannot be converted to RGB") from error


def analyze_image(
    data: bytes,
    *,
    limits: ImageLimits,
    pdq: PdqSettings,
    thumbnails: ThumbnailSink | None,
) -> MediaFacts:
    """PDQ (reduced-scale for JPEG), EXIF and, if a sink is given, the two review thumbnails.

    Raises ImageError for anything that cannot be decoded; the pipeline records it on the file.
    """
    with _decoding(limits):
        image = _open(data, limits)
        width, height = image.size
        pipeline = PIPELINE_FULL
        if image.format in _JPEG_FORMATS:
            side = pdq.min_short_side
            image.draft("RGB", (side, side))
            if image.size != (width, height):
                pipeline = draft_pipeline(side)
        image.load()
        rgb = _to_rgb(image)
    facts = MediaFacts(width=width, height=height, pdq=_pdq(rgb, pipeline), exif=read_exif(image))
    if thumbnails is not None:
        facts.thumbnail_blob, facts.blurred_blob = store_thumbnails(rgb, thumbnails, orientation(image))
    return facts


def pdq_full_resolution(data: bytes, limits: ImageLimits) -> PdqFacts:
    """The reference hash: full decode, as Meta's hasher does; used when a match is near the threshold."""
    with _decoding(limits):
        image = _open(data, limits)
        image.load()
        rgb = _to_rgb(image)
    return _pdq(rgb, PIPELINE_FULL)


def _pdq(rgb: Image.Image, pipeline: str) -> PdqFacts:
    """PDQ with its dihedral variants and, if the picture has uniform borders, the trimmed content's."""
    facts = pdq_dihedral_of_rgb(rgb, pipeline)
    box = content_box(rgb)
    if box is not None:
        facts.trimmed = pdq_dihedral_of_rgb(rgb.crop(box), trimmed_pipeline(pipeline))
    return facts
