"""Pictures: PDQ robustness and reproducibility, EXIF facts, formats, hostile files, thumbnails."""

from __future__ import annotations

import io
import struct
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PIL.TiffImagePlugin import IFDRational

from himaya.analyzers.facts import MediaFacts
from himaya.analyzers.image import (
    ImageError,
    analyze_image,
    is_image_mime,
    pdq_full_resolution,
)
from himaya.analyzers.pdq import PIPELINE_FULL, bits_to_hex, draft_pipeline
from himaya.analyzers.thumbnail import THUMBNAIL_MAX_SIDE
from himaya.config import ImageLimits, PdqSettings
from himaya.matching.pdq_index import hamming
from tests.builders.images import camera_exif, encode, photo_jpeg, photo_like

LIMITS = ImageLimits()
PDQ = PdqSettings()


class RecordingSink:
    """Stands in for the encrypted blob store: keeps what it is given, in memory."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        blob_id = f"blob-{len(self.blobs)}"
        self.blobs[blob_id] = data
        return blob_id


def analyze(data: bytes, limits: ImageLimits = LIMITS, sink: RecordingSink | None = None) -> MediaFacts:
    return analyze_image(data, limits=limits, pdq=PDQ, thumbnails=sink)


def pdq_hex(data: bytes) -> str:
    facts = analyze(data)
    assert facts.pdq is not None
    return facts.pdq.hash_hex


@pytest.fixture(scope="module")
def large_jpeg() -> bytes:
    # 2600x2048: the reduced decode runs at 1/4 scale (650x512), the strongest reduction PDQ will see.
    return photo_jpeg(11, 2600, 2048, quality=90)


# --- PDQ -------------------------------------------------------------------------------------------


def test_hex_form_matches_threatexchange() -> None:
    bits = np.random.default_rng(0).integers(0, 2, size=256)
    threatexchange = format(int("".join(str(b) for b in bits), 2), "064x")
    assert bits_to_hex(bits) == threatexchange


def test_resized_recompressed_copy_matches_and_other_pictures_do_not() -> None:
    original = photo_like(1, 1024, 768)
    copy = original.resize((512, 384), Image.Resampling.BILINEAR)
    a = pdq_hex(encode(original, "JPEG", quality=90))
    b = pdq_hex(encode(copy, "JPEG", quality=60))
    assert hamming(a, b) <= 31
    others = [pdq_hex(photo_jpeg(seed, 1024, 768)) for seed in (2, 3, 4)]
    assert all(hamming(a, other) > 80 for other in others)
    assert all(hamming(x, y) > 80 for i, x in enumerate(others) for y in others[i + 1 :])


def test_reduced_decode_drifts_little_from_full(large_jpeg: bytes) -> None:
    reduced = analyze(large_jpeg)
    full = pdq_full_resolution(large_jpeg, LIMITS)
    assert reduced.pdq is not None
    assert (reduced.width, reduced.height) == (2600, 2048)  # the file's size, not the decode's
    assert reduced.pdq.pipeline == draft_pipeline(512) == "pdq-draft512/1"
    assert full.pipeline == PIPELINE_FULL == "pdq-full/1"
    assert hamming(reduced.pdq.hash_hex, full.hash_hex) <= PDQ.rehash_margin
    assert reduced.pdq.quality >= 50 and full.quality >= 50


def test_small_jpeg_is_decoded_at_full_scale_and_hashes_like_the_reference() -> None:
    data = photo_jpeg(5, 800, 600)  # short side 600: halving would go under 512
    facts = analyze(data)
    assert facts.pdq is not None
    assert facts.pdq.pipeline == PIPELINE_FULL
    assert facts.pdq == pdq_full_resolution(data, LIMITS)


def test_hash_is_reproducible() -> None:
    data = photo_jpeg(6, 1200, 900)
    assert analyze(data).pdq == analyze(data).pdq


@pytest.mark.parametrize(
    ("fmt", "params"),
    [
        ("PNG", {}),
        ("GIF", {}),
        ("WEBP", {"quality": 90}),
        ("BMP", {}),
        ("TIFF", {}),
        ("HEIF", {"quality": 90}),
    ],
)
def test_every_supported_format_hashes(fmt: str, params: dict[str, object]) -> None:
    picture = photo_like(8)
    try:
        data = encode(picture, fmt, **params)
    except (KeyError, OSError, ValueError) as error:
        pytest.skip(f"this Pillow/pillow-heif build cannot write {fmt}: {error}")
    facts = analyze(data)
    assert facts.pdq is not None
    assert facts.pdq.pipeline == PIPELINE_FULL
    assert (facts.width, facts.height) == picture.size
    # Lossy or palette encodings move a few bits; the picture stays the picture.
    assert hamming(facts.pdq.hash_hex, pdq_hex(encode(picture, "PNG"))) <= 31


def test_gif_uses_the_first_frame() -> None:
    first, second = photo_like(21), photo_like(22)
    buffer = io.BytesIO()
    first.save(buffer, format="GIF", save_all=True, append_images=[second], duration=100)
    animated = pdq_hex(buffer.getvalue())
    assert hamming(animated, pdq_hex(encode(first, "GIF"))) <= 8
    assert hamming(animated, pdq_hex(encode(second, "GIF"))) > 80


def test_modes_are_converted_sensibly() -> None:
    picture = photo_like(9)
    reference = pdq_hex(encode(picture, "PNG"))
    grey = picture.convert("L")
    wide = Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)  # 16-bit greyscale
    rgba = picture.convert("RGBA")
    rgba.putalpha(128)
    variants = {
        "L": encode(grey, "PNG"),
        "I;16": encode(wide, "PNG"),
        "I": encode(Image.fromarray(np.asarray(wide).astype(np.int32)), "TIFF"),
        "F": encode(Image.fromarray(np.asarray(wide).astype(np.float32)), "TIFF"),
        "P": encode(picture.convert("P"), "PNG"),
        "P+transparency": encode(picture.convert("P"), "PNG", transparency=0),
        "RGBA": encode(rgba, "PNG"),
        "CMYK": encode(picture.convert("CMYK"), "JPEG", quality=95),
        "1": encode(picture.convert("1"), "PNG"),
    }
    for mode, data in variants.items():
        assert hamming(pdq_hex(data), reference) <= 16, mode


def test_exif_orientation_does_not_change_the_hash() -> None:
    picture = photo_like(10)
    rotated_tag = Image.Exif()
    rotated_tag[0x0112] = 6
    plain = pdq_hex(encode(picture, "JPEG"))
    assert pdq_hex(encode(picture, "JPEG", exif=rotated_tag.tobytes())) == plain


def test_tiny_pictures_do_not_crash() -> None:
    rng = np.random.default_rng(0)
    for width, height in [(1, 1), (2, 3), (7, 1)]:
        pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        facts = analyze(encode(Image.fromarray(pixels), "PNG"))
        assert facts.pdq is not None and len(facts.pdq.hash_hex) == 64


def test_image_mimes() -> None:
    for mime in [
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "image/bmp",
        "image/x-ms-bmp",
        "image/tiff",
        "image/heic",
        "image/heif",
        "IMAGE/JPEG",
    ]:
        assert is_image_mime(mime), mime
    for mime in ["image/svg+xml", "video/mp4", "application/zip", "image/x-tga", "text/plain"]:
        assert not is_image_mime(mime), mime


# --- EXIF ------------------------------------------------------------------------------------------


def test_exif_facts_read_back() -> None:
    exif = analyze(photo_jpeg(12, exif=camera_exif())).exif
    assert exif.make == "TESTCAM"
    assert exif.model == "Model T1"
    assert exif.body_serial == "SN-TEST-0001"
    assert exif.datetime_original == "2024:05:06 07:08:09"
    assert exif.gps_lat == pytest.approx(36.2021, abs=1e-5)
    assert exif.gps_lon == pytest.approx(37.1343, abs=1e-5)


def test_southern_and_western_coordinates_are_negative() -> None:
    exif = analyze(photo_jpeg(13, exif=camera_exif(gps=(-33.8688, -70.6693)))).exif
    assert exif.gps_lat == pytest.approx(-33.8688, abs=1e-5)
    assert exif.gps_lon == pytest.approx(-70.6693, abs=1e-5)


def test_serial_falls_back_to_dng_camera_serial() -> None:
    tags = Image.Exif()
    tags[0x010F] = "OLDCAM"
    tags[0xC62F] = "DNG-0042"
    assert analyze(encode(photo_like(14), "JPEG", exif=tags.tobytes())).exif.body_serial == "DNG-0042"


def test_no_exif_gives_empty_facts() -> None:
    exif = analyze(photo_jpeg(15)).exif
    assert (exif.make, exif.model, exif.body_serial, exif.datetime_original, exif.gps_lat) == (None,) * 5


def test_gps_without_reference_or_with_zero_denominator_is_dropped() -> None:
    tags = Image.Exif()
    gps = tags.get_ifd(0x8825)
    gps[2] = (36.0, 12.0, 7.0)  # latitude with no N/S reference: hemisphere unknown
    gps[3] = "E"
    gps[4] = (IFDRational(37, 0), IFDRational(0, 1), IFDRational(0, 1))  # x/0 degrees
    exif = analyze(encode(photo_like(16), "JPEG", exif=tags.tobytes())).exif
    assert exif.gps_lat is None
    assert exif.gps_lon is None


def test_gps_reference_of_the_wrong_axis_is_dropped() -> None:
    tags = Image.Exif()
    gps = tags.get_ifd(0x8825)
    gps[1], gps[2] = "W", (36.0, 12.0, 7.0)  # a longitude reference on a latitude
    gps[3], gps[4] = "W", (70.0, 30.0, 0.0)
    exif = analyze(encode(photo_like(16), "JPEG", exif=tags.tobytes())).exif
    assert exif.gps_lat is None
    assert exif.gps_lon == pytest.approx(-70.5)


def _with_raw_exif(jpeg: bytes, tiff: bytes) -> bytes:
    """`jpeg` with an APP1 EXIF segment holding `tiff` verbatim (Pillow's writer would not keep junk)."""
    body = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


@pytest.mark.parametrize(
    "garbage",
    [
        b"II*\x00\x08\x00\x00\x00\xff\xff" + b"\x01" * 40,  # IFD claiming 65535 entries
        # two entries whose values point far past the end
        b"MM\x00*\x00\x00\x00\x08\x00\x02\x01\x0f\x00\x02\xff\xff\xff\xff\x7f\xff\xff\xff",
        # Exif IFD pointer past the end; GPS IFD pointer back at IFD0 (a loop)
        b"II*\x00\x08\x00\x00\x00\x01\x00\x69\x87\x04\x00\x01\x00\x00\x00\xf0\xff\x00\x00",
        b"II*\x00\x08\x00\x00\x00\x01\x00\x25\x88\x04\x00\x01\x00\x00\x00\x08\x00\x00\x00",
        bytes(range(256)),
        b"",
    ],
)
def test_garbage_exif_never_raises(garbage: bytes) -> None:
    data = _with_raw_exif(encode(photo_like(17, 128, 96), "JPEG"), garbage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert Image.open(io.BytesIO(data)).info["exif"].endswith(garbage)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and quietly: damaged EXIF is routine, not log noise
        facts = analyze(data, sink=RecordingSink())
    assert facts.pdq is not None
    assert facts.exif.gps_lat is None


def test_exif_reader_survives_pillow_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: Image.Image) -> Image.Exif:
        raise SyntaxError("not a TIFF file")

    monkeypatch.setattr(Image.Image, "getexif", broken)
    facts = analyze(photo_jpeg(24, exif=camera_exif()))
    assert facts.exif.make is None and facts.pdq is not None


# --- hostile files ---------------------------------------------------------------------------------


def test_truncated_jpeg_is_an_error(large_jpeg: bytes) -> None:
    for cut in (len(large_jpeg) // 2, len(large_jpeg) - 200):
        with pytest.raises(ImageError, match="image is truncated or corrupt"):
            analyze(large_jpeg[:cut])
        with pytest.raises(ImageError, match="image is truncated or corrupt"):
            pdq_full_resolution(large_jpeg[:cut], LIMITS)


def test_not_a_picture_is_an_error() -> None:
    with pytest.raises(ImageError, match="truncated or corrupt"):
        analyze(b"PK\x03\x04" + b"\x00" * 100)


def _flat_png(width: int, height: int, rows: int | None = None) -> bytes:
    """A one-colour greyscale PNG; `rows` < height writes only that many rows (a header-only bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    pixels = b"".join(compressor.compress(row) for _ in range(height if rows is None else rows))
    pixels += compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def test_decompression_bomb_over_twice_the_limit() -> None:
    bomb = _flat_png(4000, 4000)
    assert len(bomb) < 64 * 1024  # 16 megapixels in a few KiB
    limits = ImageLimits(max_pixels=2_000_000)
    message = r"image has 16,000,000 pixels, over the 2 MP limit; raise --max-pixels to decode it"
    with pytest.raises(ImageError, match=message):
        analyze(bomb, limits)
    with pytest.raises(ImageError, match="over the 2 MP limit"):
        pdq_full_resolution(bomb, limits)


def test_decompression_bomb_between_limit_and_twice_is_an_error_not_a_warning() -> None:
    bomb = _flat_png(3000, 3000)
    with pytest.raises(ImageError, match=r"image has 9,000,000 pixels, over the 6 MP limit"):
        analyze(bomb, ImageLimits(max_pixels=6_000_000))


def test_default_limit_rejects_a_huge_header_before_decoding() -> None:
    # 20000x20000 claimed, two rows present: rejected from the header alone, nothing allocated.
    with pytest.raises(ImageError, match=r"400,000,000 pixels, over the 180 MP limit"):
        analyze(_flat_png(20000, 20000, rows=2))


def test_limit_is_restored_after_a_scan() -> None:
    before = Image.MAX_IMAGE_PIXELS
    analyze(photo_jpeg(18, 64, 48), ImageLimits(max_pixels=5000))
    assert before == Image.MAX_IMAGE_PIXELS


def test_oversized_file_is_not_decoded() -> None:
    with pytest.raises(ImageError, match="decode limit"):
        analyze(photo_jpeg(19, 64, 48), ImageLimits(max_image_bytes=100))


# --- thumbnails ------------------------------------------------------------------------------------


def test_thumbnails_go_only_through_the_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    sink = RecordingSink()
    facts = analyze(photo_jpeg(20, 2048, 1536), sink=sink)
    assert facts.thumbnail_blob == "blob-0"
    assert facts.blurred_blob == "blob-1"
    thumbnail = Image.open(io.BytesIO(sink.blobs["blob-0"]))
    blurred = Image.open(io.BytesIO(sink.blobs["blob-1"]))
    assert thumbnail.format == blurred.format == "JPEG"
    assert thumbnail.size == blurred.size == (THUMBNAIL_MAX_SIDE, 192)
    # Heavily blurred: far less detail than the thumbnail.
    detail = lambda image: float(np.abs(np.diff(np.asarray(image.convert("L"), dtype=float), axis=1)).mean())  # noqa: E731
    assert detail(blurred) < detail(thumbnail) / 2
    assert list(private_tmp.iterdir()) == []


def test_thumbnails_are_upright_and_optional() -> None:
    tags = Image.Exif()
    tags[0x0112] = 6  # stored sideways, camera says rotate 90° clockwise to view
    sink = RecordingSink()
    facts = analyze(encode(photo_like(23, 640, 320), "JPEG", exif=tags.tobytes()), sink=sink)
    assert Image.open(io.BytesIO(sink.blobs[facts.thumbnail_blob or ""])).size == (128, 256)
    no_thumbnails = analyze(photo_jpeg(23))
    assert no_thumbnails.thumbnail_blob is None and no_thumbnails.blurred_blob is None


def test_a_truncated_jpeg_stays_an_error_when_another_library_made_pillow_lenient(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """WeasyPrint (PDF requests) sets Pillow's LOAD_TRUNCATED_IMAGES for the whole process on import."""
    from PIL import ImageFile

    from himaya.analyzers.image import ImageError, pdq_full_resolution
    from himaya.config import ImageLimits
    from tests.builders.images import photo_jpeg

    truncated = photo_jpeg(4242, 320, 240)[:-400]
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(ImageError, match="truncated"):
        pdq_full_resolution(truncated, ImageLimits())
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is left as it was
