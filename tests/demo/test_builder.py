"""The demo set is a specification: its expectations are checked here with PDQ, MD5, zipfile and Pillow."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from himaya.analyzers.borders import content_box
from himaya.analyzers.pdq import PIPELINE_FULL, pdq_dihedral_of_rgb
from himaya.analyzers.video import analyze_video
from himaya.config import ArchiveLimits, ImageLimits, VideoSettings
from himaya.demo.archives import FIXED_TIME
from himaya.demo.builder import MARKER, DemoEntry, DemoLayout, build_demo, full_resolution_pdq
from himaya.errors import UsageError
from himaya.hashsets.vpdq import read_vpdq_file

MATCH_THRESHOLD = 31  # the matcher's default PDQ distance
MATCH_MARGIN = 20  # copies must sit well inside the threshold, so small decoder drift cannot lose them
DISTINCT_FLOOR = 60  # unrelated pictures must sit far outside it
PICTURES = ("original", "copy", "distinct")
VIDEOS = ("video-original", "video-copy", "video-distinct")


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> DemoLayout:
    return build_demo(tmp_path_factory.mktemp("demo") / "out")


def _tree_digest(root: Path) -> dict[str, tuple[str | None, float]]:
    return {
        p.relative_to(root).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None,
            p.stat().st_mtime,
        )
        for p in sorted(root.rglob("*"))
        if p.relative_to(root).parts[0] != "home"  # a Himaya home beside the demo is not the demo's
    }


def _member(container: bytes, index: int, name: str) -> bytes:
    if zipfile.is_zipfile(io.BytesIO(container)):
        with zipfile.ZipFile(io.BytesIO(container)) as archive:
            info = archive.infolist()[index]
            assert info.filename == name
            return archive.read(info)
    with tarfile.open(fileobj=io.BytesIO(container)) as archive:
        member = archive.getmembers()[index]
        assert member.name == name
        handle = archive.extractfile(member)
        assert handle is not None
        return handle.read()


def _read(layout: DemoLayout, entry: DemoEntry) -> bytes:
    """The bytes of an entry, following `!/` layers into archives as a source would."""
    layers = entry.path.split("!/")
    data = (layout.evidence_dir / layers[0]).read_bytes()
    for depth in range(1, len(layers)):
        if depth == len(layers) - 1:
            index = entry.member_index
        else:
            container_path = "!/".join(layers[: depth + 1])
            (container,) = [e for e in layout.entries if e.path == container_path and e.kind == "archive"]
            index = container.member_index
        assert index is not None
        data = _member(data, index, layers[depth])
    return data


def _reshared_hashes(picture: Image.Image) -> list[str]:
    """The picture's PDQ, its 7 dihedral variants, and the same for its content without borders."""
    hashes = []
    box = content_box(picture)
    for candidate in (picture, picture.crop(box)) if box else (picture,):
        found = pdq_dihedral_of_rgb(candidate, PIPELINE_FULL)
        hashes += [found.hash_hex, *found.dihedral]
    return hashes


def _distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def _hash_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    header, *rows = path.read_text().splitlines()
    return header.split(","), [row.split(",") for row in rows]


def test_two_builds_are_identical_and_a_rebuild_replaces_only_the_demo(
    layout: DemoLayout, tmp_path: Path
) -> None:
    second_root = tmp_path / "out"
    # A previous demo with a stale file, and a Himaya home beside it, as `make demo` leaves them.
    (second_root / "evidence").mkdir(parents=True)
    (second_root / "evidence" / "stale.jpg").write_bytes(b"old")
    (second_root / MARKER).write_text("earlier demo\n")
    (second_root / "home").mkdir()
    (second_root / "home" / "himaya.db").write_bytes(b"case store")

    second = build_demo(second_root)

    assert _tree_digest(second_root) == _tree_digest(layout.root)
    assert second.entries == layout.entries
    assert second.listed_originals == layout.listed_originals
    assert not (second_root / "evidence" / "stale.jpg").exists()
    assert (second_root / "home" / "himaya.db").read_bytes() == b"case store"


def test_refuses_a_folder_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "evidence").mkdir()
    (tmp_path / "evidence" / "real.E01").write_bytes(b"not ours")
    with pytest.raises(UsageError, match="empty folder"):
        build_demo(tmp_path)
    assert (tmp_path / "evidence" / "real.E01").read_bytes() == b"not ours"


def test_small_and_timestamped(layout: DemoLayout) -> None:
    files = [p for p in layout.root.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 5 * 1024 * 1024
    for path in [*layout.root.rglob("*")]:
        assert path.stat().st_mtime == FIXED_TIME, path


def test_every_entry_exists_and_lists_are_consistent(layout: DemoLayout) -> None:
    for entry in layout.entries:
        if entry.kind != "bomb":  # reading it is what a scanner must refuse to do
            assert _read(layout, entry), entry.path
    assert not set(layout.expected_matches) & set(layout.expected_non_matches)
    repeated = [p for p, n in Counter(e.path for e in layout.entries).items() if n > 1]
    assert len(repeated) == 2, "one repeated member name in the zip and one in the nested tar"
    assert len(layout.expected_matches) == 21  # 19 pictures (one via WhatsApp), the listed video and its clip
    assert set(layout.listed_originals) == {f"IMG_{n:04d}.jpg" for n in range(1, 6)}


def test_hash_sets_list_the_listed_originals(layout: DemoLayout) -> None:
    for path in layout.hashsets:
        assert "TEST" in path.name
    md5_header, md5_rows = _hash_rows(layout.md5_hashset)
    pdq_header, pdq_rows = _hash_rows(layout.pdq_hashset)
    assert md5_header == ["md5", "category", "series"]
    assert pdq_header == ["pdq", "category", "series"]
    for rows, width in ((md5_rows, 32), (pdq_rows, 64)):
        for value, category, series in rows:
            assert len(value) == width
            assert value == value.lower()
            int(value, 16)
            assert category.startswith("TEST-")
            assert series.startswith("TEST-")
    listed_md5 = [r[0] for r in md5_rows if r[2] != "TEST-decoy"]
    expected = [
        hashlib.md5((layout.evidence_dir / "DCIM/Camera" / name).read_bytes()).hexdigest()
        for name in layout.listed_originals
    ]
    assert listed_md5 == expected
    assert len([r for r in pdq_rows if r[2] != "TEST-decoy"]) == len(layout.listed_originals)


def test_pdq_and_md5_expectations_hold(layout: DemoLayout) -> None:
    """Recomputed independently of the builder's own bookkeeping: matches near, non-matches far."""
    _, md5_rows = _hash_rows(layout.md5_hashset)
    _, pdq_rows = _hash_rows(layout.pdq_hashset)
    set_md5 = {row[0] for row in md5_rows}
    set_pdq = [row[0] for row in pdq_rows]
    original_pdq = {
        name: full_resolution_pdq(Image.open(layout.evidence_dir / "DCIM/Camera" / name))[0]
        for name in layout.listed_originals
    }
    assert sorted(original_pdq.values()) == sorted(set_pdq[: len(original_pdq)])

    for entry in layout.entries:
        data = _read(layout, entry) if entry.kind != "bomb" else b""
        in_md5_set = hashlib.md5(data).hexdigest() in set_md5
        if entry.kind in VIDEOS:
            continue  # test_video_expectations_hold
        if entry.kind not in PICTURES:
            assert not entry.expected_match
            assert not in_md5_set
            continue
        picture = Image.open(io.BytesIO(data)).convert("RGB")
        pdq, quality = full_resolution_pdq(picture)
        assert quality >= 50, entry.path  # below that the matcher ignores the hash
        nearest = min(_distance(pdq, other) for other in set_pdq)
        if entry.expected_match:
            assert entry.original is not None
            # Mirrored and framed copies are found by the dihedral variants or the trimmed hash.
            own = min(
                _distance(variant, original_pdq[entry.original]) for variant in _reshared_hashes(picture)
            )
            if "mirrored" in entry.note or "canvas" in entry.note:
                assert _distance(pdq, original_pdq[entry.original]) > MATCH_THRESHOLD, entry.path
            assert own <= MATCH_MARGIN < MATCH_THRESHOLD, (entry.path, own)
            assert in_md5_set == (entry.kind == "original"), entry.path
        else:
            assert nearest > DISTINCT_FLOOR, (entry.path, nearest)
            assert not in_md5_set, entry.path


def test_exact_copies_are_byte_identical(layout: DemoLayout) -> None:
    camera = layout.evidence_dir / "DCIM/Camera"
    for entry in layout.entries:
        if entry.kind == "original":
            assert entry.original is not None
            assert _read(layout, entry) == (camera / entry.original).read_bytes()


def test_originals_carry_camera_exif(layout: DemoLayout) -> None:
    with Image.open(layout.evidence_dir / "DCIM/Camera/IMG_0003.jpg") as image:
        assert image.size == (1024, 768)
        exif = image.getexif()
    assert exif[0x010F] == "HIMAYA-DEMO"
    assert exif[0x0110] == "Demo Cam 1"
    assert exif.get_ifd(0x8769)[0xA431] == "HMY-DEMO-0001"
    assert exif.get_ifd(0x8769)[0x9003].startswith("2023:07:03 ")
    gps = exif.get_ifd(0x8825)
    assert gps[1] == "N"
    assert gps[3] == "E"


def test_bomb_exceeds_default_archive_limits(layout: DemoLayout) -> None:
    limits = ArchiveLimits()
    bomb = layout.evidence_dir / "Downloads/bomb.zip"
    assert bomb.stat().st_size < 1024 * 1024
    with zipfile.ZipFile(bomb) as archive:
        (info,) = archive.infolist()
    assert info.file_size > limits.ratio_min_size
    assert info.file_size / info.compress_size > limits.max_ratio
    for entry in layout.entries:
        if entry.kind == "archive" and entry.path.endswith(".zip") and "bomb" not in entry.path:
            with zipfile.ZipFile(layout.evidence_dir / entry.path) as archive:
                for member in archive.infolist():
                    assert member.file_size < limits.ratio_min_size, "only the bomb may trip the limits"


def test_corrupt_jpeg_fails_to_decode(layout: DemoLayout) -> None:
    broken = layout.evidence_dir / "Pictures/broken.jpg"
    whole = (layout.evidence_dir / "DCIM/Camera/IMG_0008.jpg").read_bytes()
    assert whole.startswith(broken.read_bytes())
    with Image.open(broken) as image, pytest.raises(OSError, match="truncated"):
        image.load()


def test_wrong_extensions_hide_real_types(layout: DemoLayout) -> None:
    flagged = {e.path for e in layout.entries if e.wrong_extension}
    assert flagged == {"Documents/scan_0004.dat", "Documents/diagram.txt"}
    assert (layout.evidence_dir / "Documents/scan_0004.dat").read_bytes().startswith(b"\xff\xd8\xff")
    assert (layout.evidence_dir / "Documents/diagram.txt").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_video_expectations_hold(layout: DemoLayout) -> None:
    """The listed video and its clip share frames with the vPDQ file (distance <= 31 on every frame of
    the clip, the vPDQ rule being 80 %); the other video shares none."""
    assert layout.vpdq_hashset is not None
    [vpdq_file] = sorted(layout.vpdq_hashset.iterdir())
    known = [frame.pdq for frame in read_vpdq_file(vpdq_file)]
    assert len(known) == 12  # one frame a second of 12 s
    videos = [entry for entry in layout.entries if entry.kind in VIDEOS]
    assert {entry.kind for entry in videos} == set(VIDEOS)
    for entry in videos:
        facts, _media = analyze_video(
            str(layout.evidence_dir / entry.path),
            settings=VideoSettings(),
            limits=ImageLimits(),
            thumbnails=None,
        )
        nearest = [min(_distance(frame.pdq, other) for other in known) for frame in facts.frames]
        assert entry.expected_match == (entry.kind != "video-distinct"), entry.path
        if entry.expected_match:
            assert max(nearest) <= MATCH_THRESHOLD, (entry.path, nearest)
        else:
            assert min(nearest) > DISTINCT_FLOOR, (entry.path, nearest)
