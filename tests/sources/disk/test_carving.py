"""Carving pictures out of unallocated space; the ranges are checked against The Sleuth Kit and e2fsprogs.

The file-system images are built without mounting (mkfs.vfat + mtools, mke2fs -d) and hold only
generated, benign pictures.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from himaya.sources.disk.carving import (
    Carved,
    TskImage,
    carve,
    carve_file,
    carved_name,
    unallocated_ranges,
    volume_reader,
)
from tests.builders.images import encode, gradient_picture, photo_jpeg

Ranges = list[tuple[int, int]]


def _needs(*tools: str) -> pytest.MarkDecorator:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)}")


def _run(*args: str | Path) -> str:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=True).stdout


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _reader(data: bytes) -> Callable[[int, int], bytes]:
    return lambda offset, size: data[offset : offset + size]


def _carve_bytes(data: bytes, **kwargs: int) -> list[Carved]:
    return list(carve(_reader(data), [(0, len(data))], **kwargs))


def _runs(units: set[int], unit_size: int) -> Ranges:
    """Sorted unit numbers to merged byte ranges."""
    out: Ranges = []
    for u in sorted(units):
        if out and out[-1][0] + out[-1][1] == u * unit_size:
            out[-1] = (out[-1][0], out[-1][1] + unit_size)
        else:
            out.append((u * unit_size, unit_size))
    return out


def _units(ranges: Ranges, unit_size: int) -> set[int]:
    out: set[int] = set()
    for offset, length in ranges:
        assert offset % unit_size == 0 and length % unit_size == 0
        out.update(range(offset // unit_size, (offset + length) // unit_size))
    return out


def _blkls_free(image: Path) -> set[int]:
    """Unallocated block (FAT: sector) numbers as `blkls -l` (default -A: unallocated only) lists them."""
    lines = _run("blkls", "-l", image).splitlines()
    return {int(line.split("|")[0]) for line in lines if line[:1].isdigit() and line.endswith("|f")}


def _dumpe2fs_free(image: Path) -> set[int]:
    out: set[int] = set()
    for listed in re.findall(r"^\s+Free blocks: (.*)$", _run("dumpe2fs", image), flags=re.M):
        for part in filter(None, (p.strip() for p in listed.split(","))):
            first, _, last = part.partition("-")
            out.update(range(int(first), int(last or first) + 1))
    return out


def _ranges_of(image: Path) -> Ranges | None:
    with image.open("rb") as f:
        return unallocated_ranges(f)


def _first_sector(image: Path, name: str) -> int:
    """First sector of a file's content, by istat (an independent reading of the file system)."""
    listing = _run("fls", "-r", "-p", image)
    inode = re.search(rf"^[-rd/]+ \*?\s*(\d+)(?:-\d+-\d+)?:\t{re.escape(name)}$", listing, flags=re.M)
    assert inode, listing
    stat = _run("istat", image, inode.group(1))
    return int(stat.split("Sectors:")[1].split()[0])


def _exif_with_thumbnail(thumbnail: bytes) -> bytes:
    """An APP1 EXIF segment whose IFD1 points at an embedded JPEG thumbnail (as cameras write them)."""
    ifd1_at = 8 + 2 + 4
    thumb_at = ifd1_at + 2 + 2 * 12 + 4
    tiff = b"II*\x00" + struct.pack("<I", 8)
    tiff += struct.pack("<HI", 0, ifd1_at)  # IFD0: no entries, then IFD1
    tiff += struct.pack("<H", 2)
    tiff += struct.pack("<HHII", 0x0201, 4, 1, thumb_at)  # JPEGInterchangeFormat
    tiff += struct.pack("<HHII", 0x0202, 4, 1, len(thumbnail))  # JPEGInterchangeFormatLength
    tiff += struct.pack("<I", 0) + thumbnail
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _jpeg_with_thumbnail(seed: int) -> bytes:
    main = photo_jpeg(seed, 320, 240)
    thumb = photo_jpeg(seed, 80, 60, quality=70)
    data = main[:2] + _exif_with_thumbnail(thumb) + main[2:]
    assert data.count(b"\xff\xd9") >= 2  # the thumbnail's EOI comes before the picture's
    Image.open(io.BytesIO(data)).load()
    return data


def _png(seed: int, size: int = 64) -> bytes:
    return encode(gradient_picture(seed, size, size, shapes=3), "PNG")


def _gif(seed: int, size: int = 64) -> bytes:
    return encode(gradient_picture(seed, size, size, shapes=3), "GIF")


def _animated_gif(seed: int) -> bytes:
    frames = [gradient_picture(seed + k, 48, 32, shapes=2) for k in range(3)]
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], loop=0, duration=100)
    return out.getvalue()


def _progressive_jpeg(seed: int) -> bytes:
    return encode(gradient_picture(seed, 96, 64), "JPEG", progressive=True, quality=80)


# FAT --------------------------------------------------------------------------------------------------


@_needs("mkfs.vfat", "mcopy", "mdel", "blkls", "fls", "istat")
def test_fat16_deleted_picture_is_carved_whole_from_its_first_cluster(tmp_path: Path) -> None:
    image = tmp_path / "fat16.img"
    _run("mkfs.vfat", "-C", "-F", "16", image, "16384")
    pictures = {
        "keep.jpg": photo_jpeg(1),
        "gone.jpg": _jpeg_with_thumbnail(2),
        "keep.png": _png(3),
        "keep.gif": _gif(4),
    }
    for name, data in pictures.items():
        source = tmp_path / name
        source.write_bytes(data)
        _run("mcopy", "-i", image, source, f"::{name}")
    first_sector = _first_sector(image, "gone.jpg")
    _run("mdel", "-i", image, "::gone.jpg")

    ranges = _ranges_of(image)
    assert ranges is not None
    assert ranges == _runs(_blkls_free(image), 512)

    volume = image.read_bytes()
    found = list(carve(_reader(volume), ranges))
    assert [(c.offset, c.kind) for c in found] == [(first_sector * 512, "jpeg")]
    carved = volume[found[0].offset : found[0].offset + found[0].length]
    assert _sha(carved) == _sha(pictures["gone.jpg"])


@_needs("mkfs.vfat", "mcopy", "mdel", "blkls")
@pytest.mark.parametrize(
    ("fat", "kib", "sectors_per_cluster"),
    [("12", 4096, 4), ("16", 16384, 4), ("32", 34000, 1)],
)
def test_fat_ranges_match_blkls(tmp_path: Path, fat: str, kib: int, sectors_per_cluster: int) -> None:
    image = tmp_path / f"fat{fat}.img"
    _run("mkfs.vfat", "-C", "-F", fat, "-s", str(sectors_per_cluster), image, str(kib))
    for k in range(6):  # files, then every other one deleted: free holes between used clusters
        source = tmp_path / f"f{k}.bin"
        source.write_bytes(bytes([k + 1]) * (3000 * (k + 1)))
        _run("mcopy", "-i", image, source, f"::f{k}.bin")
    for k in range(0, 6, 2):
        _run("mdel", "-i", image, f"::f{k}.bin")
    assert f"FAT{fat}" in _run("fsstat", image)
    assert _ranges_of(image) == _runs(_blkls_free(image), 512)


@_needs("mkfs.vfat", "blkls")
def test_fat_entries_read_like_tsk(tmp_path: Path) -> None:
    """A FAT entry pointing past the last cluster (not bad, not end of chain) is free for TSK, as here."""
    image = tmp_path / "fat16.img"
    _run("mkfs.vfat", "-C", "-F", "16", "-s", "4", image, "16384")
    with image.open("r+b") as f:
        boot = f.read(512)
        (reserved,) = struct.unpack_from("<H", boot, 14)
        for cluster, value in ((5000, 0xFFF0), (5001, 0x0003), (5002, 0xFFF7), (5003, 0xFFFF)):
            f.seek(reserved * 512 + 2 * cluster)
            f.write(struct.pack("<H", value))
    ranges = _ranges_of(image)
    assert ranges is not None
    assert ranges == _runs(_blkls_free(image), 512)
    fats, root_entries = boot[16], struct.unpack_from("<H", boot, 17)[0]
    first_cluster_sector = reserved + fats * struct.unpack_from("<H", boot, 22)[0] + root_entries * 32 // 512
    sectors = _units(ranges, 512)
    assert first_cluster_sector + (5000 - 2) * 4 in sectors  # 0xFFF0: past the last cluster, free
    for cluster in (5001, 5002, 5003):  # a chain link, bad, end of chain
        assert first_cluster_sector + (cluster - 2) * 4 not in sectors


# ext --------------------------------------------------------------------------------------------------


@_needs("mke2fs", "blkls", "dumpe2fs")
def test_ext4_picture_written_into_free_space_is_carved(tmp_path: Path) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(photo_jpeg(5))
    (folder / "b.png").write_bytes(_png(6))
    image = tmp_path / "ext4.img"
    _run("mke2fs", "-q", "-t", "ext4", "-d", folder, image, "16M")

    ranges = _ranges_of(image)
    assert ranges is not None
    block_size = 1024
    assert "BLOCK_UNINIT" not in _run("dumpe2fs", image)  # so TSK and e2fsprogs agree block for block
    assert ranges == _runs(_blkls_free(image), block_size)
    assert ranges == _runs(_dumpe2fs_free(image), block_size)

    # Nothing in free space yet: the two allocated pictures are not carved.
    assert list(carve(_reader(image.read_bytes()), ranges)) == []

    picture = _jpeg_with_thumbnail(7)
    offset, length = max(ranges, key=lambda r: r[1])
    at = offset + 3 * block_size
    assert at + len(picture) <= offset + length
    with image.open("r+b") as f:
        f.seek(at)
        f.write(picture)

    volume = image.read_bytes()
    found = list(carve(_reader(volume), ranges, chunk=64 * 1024))
    assert [(c.offset, c.length, c.kind) for c in found] == [(at, len(picture), "jpeg")]
    assert _sha(volume[at : at + found[0].length]) == _sha(picture)
    assert carved_name(found[0]) == f"carved-{at:012d}.jpg"


@_needs("mke2fs", "blkls", "dumpe2fs")
@pytest.mark.parametrize("kind", ["ext2", "ext3", "ext4-4k"])
def test_ext_ranges_match_blkls_and_dumpe2fs(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "content"
    folder.mkdir()
    for k in range(4):
        (folder / f"f{k}.bin").write_bytes(bytes([k + 1]) * (5000 * (k + 1)))
    image = tmp_path / f"{kind}.img"
    fs_type, _, four_k = kind.partition("-")
    options = ["-b", "4096"] if four_k else []
    _run("mke2fs", "-q", "-t", fs_type, *options, "-d", folder, image, "24M")
    block_size = 4096 if four_k else 1024
    ranges = _ranges_of(image)
    assert ranges == _runs(_blkls_free(image), block_size)
    assert ranges == _runs(_dumpe2fs_free(image), block_size)


def _uninit_reserved_blocks(dump: str) -> set[int]:
    """Superblock backup, descriptor and reserved GDT blocks of the BLOCK_UNINIT groups (dumpe2fs)."""
    out: set[int] = set()
    for group in re.split(r"^(?=Group \d+:)", dump, flags=re.M):
        if "BLOCK_UNINIT" not in group.splitlines()[0]:
            continue
        for pattern in (
            r"superblock at (\d+)",
            r"Group descriptors? at (\d+)(?:-(\d+))?",
            r"Reserved GDT blocks at (\d+)-(\d+)",
        ):
            for m in re.finditer(pattern, group):
                first = int(m.group(1))
                last = int(m.group(2)) if m.lastindex and m.lastindex > 1 and m.group(2) else first
                out.update(range(first, last + 1))
    return out


@_needs("mke2fs", "blkls", "dumpe2fs")
@pytest.mark.parametrize(
    ("options", "size"), [((), "64M"), (("-O", "meta_bg,^resize_inode"), "300M")], ids=["flex_bg", "meta_bg"]
)
def test_ext4_block_uninit_groups_follow_e2fsprogs(
    tmp_path: Path, options: tuple[str, ...], size: str
) -> None:
    """Groups whose bitmap was never written: their superblock backup and descriptors stay allocated."""
    image = tmp_path / "uninit.img"
    _run("mke2fs", "-q", "-t", "ext4", *options, image, size)
    dump = _run("dumpe2fs", image)
    assert "BLOCK_UNINIT" in dump
    ranges = _ranges_of(image)
    assert ranges is not None
    ours = _units(ranges, 1024)
    assert ours == _dumpe2fs_free(image)
    if options:
        return  # TSK looks for meta_bg's descriptors in one table: its blkls is wrong past the first ones
    # TSK reads the unwritten bitmap block (zeros): it lists those reserved blocks as free, nothing else.
    tsk = _blkls_free(image)
    assert ours <= tsk
    assert tsk - ours <= _uninit_reserved_blocks(dump)


def test_unsupported_or_absent_file_system_gives_none(tmp_path: Path) -> None:
    image = tmp_path / "zeros.img"
    image.write_bytes(bytes(1 << 20))
    assert _ranges_of(image) is None


@_needs("mkfs.exfat")
def test_exfat_is_not_supported(tmp_path: Path) -> None:
    image = tmp_path / "exfat.img"
    image.write_bytes(b"")
    with image.open("r+b") as f:
        f.truncate(8 << 20)
    _run("mkfs.exfat", image)
    assert _ranges_of(image) is None


@_needs("mke2fs")
def test_tsk_image_reads_through_a_file_object_and_clips_to_a_truncated_volume(tmp_path: Path) -> None:
    image = tmp_path / "ext.img"
    _run("mke2fs", "-q", "-t", "ext4", image, "16M")
    whole = _ranges_of(image)
    assert whole is not None
    data = image.read_bytes()
    cut = len(data) - 3 * 1024 * 1024
    ranges = unallocated_ranges(TskImage(io.BytesIO(data[:cut])))
    assert ranges is not None
    assert all(offset + length <= cut for offset, length in ranges)
    assert _units(ranges, 1024) == {b for b in _units(whole, 1024) if b < cut // 1024}


# Carving synthetic streams ------------------------------------------------------------------------------


def test_back_to_back_pictures_with_an_exif_thumbnail_are_each_carved_whole() -> None:
    pictures = [
        ("jpeg", _jpeg_with_thumbnail(10)),
        ("png", _png(11)),
        ("gif", _gif(12)),
        ("gif", _animated_gif(13)),
        ("jpeg", _progressive_jpeg(14)),
    ]
    data = bytes(777) + b"".join(p for _, p in pictures) + bytes(300)
    expected, at = [], 777
    for kind, picture in pictures:
        expected.append((at, len(picture), kind))
        at += len(picture)
    for chunk in (64, 4096, 4 << 20):
        found = _carve_bytes(data, chunk=chunk)
        assert [(c.offset, c.length, c.kind) for c in found] == expected
    assert [c.ext for c in found] == ["jpg", "png", "gif", "gif", "jpg"]


@pytest.mark.parametrize("kind", ["jpeg", "png", "gif"])
def test_signature_straddling_a_chunk_boundary(kind: str) -> None:
    picture = {"jpeg": photo_jpeg(20, 48, 32), "png": _png(21, 24), "gif": _gif(22, 24)}[kind]
    chunk = 64
    for shift in range(1, 9):  # the signature starts 1..8 bytes before the chunk ends
        data = b"\x00" * (chunk - shift) + picture + b"\x00" * 50
        found = _carve_bytes(data, chunk=chunk)
        assert [(c.offset, c.length, c.kind) for c in found] == [(chunk - shift, len(picture), kind)]


def test_truncated_and_oversized_pictures_are_dropped() -> None:
    whole = photo_jpeg(30, 160, 120)
    png = _png(31)
    truncated = whole[: len(whole) // 2]
    data = truncated + bytes(5000) + png + whole[:-1]  # the last JPEG lacks its EOI and the range ends
    found = _carve_bytes(data, chunk=1024)
    assert [(c.offset, c.kind) for c in found] == [(len(truncated) + 5000, "png")]
    # A picture longer than max_size is not carved; a shorter one is.
    assert _carve_bytes(bytes(10) + whole, max_size=len(whole) - 1) == []
    assert [c.length for c in _carve_bytes(bytes(10) + whole, max_size=len(whole))] == [len(whole)]


def test_a_picture_must_end_inside_its_range() -> None:
    picture = photo_jpeg(32, 64, 48)
    data = bytes(100) + picture + bytes(100)
    found = list(carve(_reader(data), [(0, 100 + len(picture) - 1)]))
    assert found == []
    # Touching ranges are contiguous on the volume: merged.
    split = 100 + len(picture) // 2
    found = list(carve(_reader(data), [(split, len(data) - split), (0, split)]))
    assert [(c.offset, c.length) for c in found] == [(100, len(picture))]


def test_damaged_structures_are_dropped() -> None:
    png = bytearray(_png(40))
    png[40] ^= 0xFF  # inside IHDR/IDAT: the CRC no longer matches
    gif = bytearray(_gif(41))
    gif[-1] = 0x00  # no trailer
    jpeg = bytearray(photo_jpeg(42, 64, 48))
    sos = jpeg.index(b"\xff\xda")
    jpeg[sos + 200 : sos + 202] = b"\xff\x42"  # a marker that cannot appear in a scan
    for damaged in (png, gif, jpeg):
        assert _carve_bytes(bytes(64) + bytes(damaged) + bytes(64)) == []


def test_random_noise_yields_only_structurally_valid_finds() -> None:
    noise = np.random.default_rng(7).bytes(3 << 20)
    found = _carve_bytes(noise, chunk=1 << 20)
    for c in found:  # each find is one whole picture on its own
        piece = noise[c.offset : c.offset + c.length]
        assert [(x.offset, x.length) for x in carve_file(io.BytesIO(piece))] == [(0, c.length)]
    planted = noise[:100_000] + _png(50) + noise[100_000:200_000]
    assert (100_000, "png") in [(c.offset, c.kind) for c in _carve_bytes(planted)]


def test_long_runs_of_zeros_or_ff_after_false_headers_stay_fast() -> None:
    header = photo_jpeg(60, 32, 32)
    header = header[: header.index(b"\xff\xda") + 14]  # up to the scan's first bytes: never ends
    for filler in (b"\x00", b"\xff"):
        data = (header + filler * 4096) * 64 + filler * (2 << 20) + _gif(61)
        found = _carve_bytes(data, chunk=1 << 16)
        assert [c.kind for c in found] == ["gif"]


def test_fill_bytes_before_markers_are_skipped() -> None:
    picture = bytearray(photo_jpeg(62, 48, 32))
    dqt = picture.index(b"\xff\xdb")
    picture[dqt:dqt] = b"\xff" * 5  # fill bytes: allowed before any marker
    Image.open(io.BytesIO(bytes(picture))).load()
    data = bytes(10) + bytes(picture) + bytes(10)
    assert [(c.offset, c.length) for c in _carve_bytes(data, chunk=32)] == [(10, len(picture))]
    # Erased flash is all FF: a lone SOI in front of megabytes of it is dismissed at once.
    data = b"\xff\xd8" + b"\xff" * (4 << 20) + _gif(63)
    assert [(c.offset, c.kind) for c in _carve_bytes(data, chunk=1 << 16)] == [(2 + (4 << 20), "gif")]


def test_carve_file_reads_a_plain_stream_and_names_sort_by_place(tmp_path: Path) -> None:
    pictures = [_png(70), photo_jpeg(71, 64, 48)]
    path = tmp_path / "blob.bin"
    path.write_bytes(bytes(12345) + pictures[0] + bytes(7) + pictures[1])
    with path.open("rb") as f:
        found = list(carve_file(f, chunk=4096))
    assert [c.kind for c in found] == ["png", "jpeg"]
    names = [carved_name(c) for c in found]
    assert names == ["carved-000000012345.png", f"carved-{12345 + len(pictures[0]) + 7:012d}.jpg"]
    assert names == sorted(names)
    with path.open("rb") as f:
        read_at = volume_reader(f)
        assert read_at(12345, 8) == b"\x89PNG\r\n\x1a\n"


def test_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="chunk"):
        list(carve(_reader(b""), [(0, 0)], chunk=8))
    assert list(carve(_reader(b"abc"), [])) == []


_PIECES = [
    b"\xff\xd8\xff",
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00",
    b"\xff\xd9",
    b"\xff\x00",
    b"\x89PNG\r\n\x1a\n",
    b"\x00\x00\x00\x00IEND\xaeB`\x82",
    b"GIF89a",
    b"GIF87a\x01\x00\x01\x00\x00\x00\x00",
    b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00",
    b"\x3b",
    b"\xff" * 10,
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.one_of(st.binary(max_size=40), st.sampled_from(_PIECES)), max_size=30),
    chunk=st.integers(16, 200),
    max_size=st.integers(1, 2000),
    cut=st.integers(0, 50),
)
def test_carve_never_raises_and_finds_do_not_overlap(
    parts: list[bytes], chunk: int, max_size: int, cut: int
) -> None:
    data = b"".join(parts)
    start = min(cut, len(data))
    found = list(carve(_reader(data), [(start, len(data) - start)], chunk=chunk, max_size=max_size))
    end = start
    for c in found:
        assert c.offset >= end and c.length > 0 and c.length <= max_size
        end = c.offset + c.length
    assert end <= len(data)


_SMALL = [photo_jpeg(80, 16, 16), _png(81, 8), _gif(82, 8), _jpeg_with_thumbnail(83)]


@settings(max_examples=60, deadline=None)
@given(
    order=st.lists(st.sampled_from(range(len(_SMALL))), min_size=1, max_size=5),
    gaps=st.lists(st.binary(max_size=30).filter(lambda b: b"\xff" not in b and b"G" not in b), min_size=6),
    chunk=st.integers(16, 300),
)
def test_whole_pictures_between_harmless_bytes_are_all_found(
    order: list[int], gaps: list[bytes], chunk: int
) -> None:
    data, expected = b"", []
    for k, index in enumerate(order):
        data += gaps[k]
        expected.append((len(data), len(_SMALL[index])))
        data += _SMALL[index]
    data += gaps[-1]
    assert [(c.offset, c.length) for c in _carve_bytes(data, chunk=chunk)] == expected


@_needs("mkntfs", "blkls")
def test_ntfs_ranges_match_blkls_and_the_deleted_picture_is_carved(tmp_path: Path) -> None:
    from tests.builders import disks

    content = disks.sample_content()
    image = disks.ntfs_image(tmp_path / "ntfs.img", content.files, deleted=content.deleted)
    ranges = _ranges_of(image)
    assert ranges is not None
    assert ranges == _runs(_blkls_free(image), 4096)  # mkntfs: 4 KiB clusters at this size
    picture = content.deleted["Users/x/Pictures/deleted.jpg"]
    with image.open("rb") as volume:
        found = [volume_reader(volume)(c.offset, c.length) for c in carve(volume_reader(volume), ranges)]
    assert picture in found
