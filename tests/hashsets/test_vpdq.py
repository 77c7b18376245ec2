"""vPDQ hash files (Meta's `vpdq-hash-video` output) as hash-set entries: one known video, one entry.

The frame hashes are PDQ of generated gradients with a moving square (`benign_frames`) or digests of
generated text (`pdq_of`); no video, real or generated, is needed to write a hash file. Every set's name
says TEST.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from himaya.analyzers.facts import VideoFrame
from himaya.errors import HashSetFormatError, UsageError
from himaya.hashsets import vpdq
from himaya.hashsets.detect import detect_format
from himaya.hashsets.export import export_hash_set, export_vpdq
from himaya.hashsets.importer import entries_alive_at, import_hash_set
from himaya.hashsets.plain import check_hash_type
from himaya.hashsets.vpdq import (
    VpdqFrame,
    file_names,
    format_vpdq,
    frames_of_entry,
    iter_vpdq,
    parse_vpdq_lines,
    read_vpdq_file,
)
from himaya.store.db import Store, open_store
from himaya.store.models import HashEntry, HashSet, HashSetVersion
from tests.builders.hashlists import pdq_of
from tests.cli.test_cli import Cli, himaya  # noqa: F401 - the command-line fixture

META_LINE = re.compile(r"[0-9]+,[0-9]{1,3},[0-9a-f]{64},[0-9]+\.[0-9]{3}")


def benign_frames(seed: int, count: int = 5) -> list[VpdqFrame]:
    """PDQ of `count` generated frames, one a second: a gradient with a white square moving across."""
    frames = []
    for second in range(count):
        picture = np.zeros((64, 64, 3), np.uint8)
        picture[..., seed % 3] = (np.arange(64)[None, :] * (seed + 2)) % 256
        top = (second * 7 + seed * 5) % 48
        picture[top : top + 16, 10 + seed % 30 : 26 + seed % 30] = 255
        bits, quality = pdqhash.compute(picture)
        pdq = np.packbits(bits.astype(np.uint8)).tobytes().hex()
        frames.append(VpdqFrame(second * 30, int(quality), pdq, float(second)))
    return frames


def meta_text(frames: list[VpdqFrame]) -> str:
    """As Meta's vpdq-hash-video writes it."""
    return "".join(f"{f.frame_number},{f.quality},{f.pdq},{f.timestamp:.3f}\n" for f in frames)


def hash_second_text(frames: list[VpdqFrame]) -> str:
    """As Meta's Python example and other tools write it: frame,hash,quality,time, time unrounded."""
    return "".join(f"{f.frame_number},{f.pdq.upper()},{f.quality},{f.timestamp!r}\n" for f in frames)


def video_folder(tmp_path: Path, seeds: dict[str, int], name: str = "TEST-videos") -> Path:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    for file_name, seed in seeds.items():
        (folder / file_name).write_text(meta_text(benign_frames(seed)), encoding="ascii")
    return folder


@pytest.fixture
def store(himaya_env: dict[str, Path]) -> Iterator[Store]:
    store = open_store(himaya_env["home"])
    yield store
    store.close()


def video_entries(store: Store, name: str, version: int | None = None) -> list[tuple[object, ...]]:
    with store.session() as session:
        query = select(HashSetVersion).join(HashSet).where(HashSet.name == name)
        if version is not None:
            query = query.where(HashSetVersion.version == version)
        chosen = session.scalars(query.order_by(HashSetVersion.version.desc())).first()
        assert chosen is not None
        rows = session.execute(
            select(
                HashEntry.hash_type, HashEntry.value, HashEntry.media_id, HashEntry.line, HashEntry.details
            )
            .where(*entries_alive_at(chosen))
            .order_by(HashEntry.media_id)
        )
        return [tuple(row) for row in rows]


def stored_counts(store: Store) -> tuple[int, int, int]:
    with store.session() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (HashSet, HashSetVersion, HashEntry)
        )


# --- the file format ---------------------------------------------------------------------------------


def test_meta_order_with_old_and_new_timestamps(tmp_path: Path) -> None:
    a, b, c = pdq_of("m1"), pdq_of("m2"), pdq_of("m3")
    path = tmp_path / "TEST-chair.txt"
    path.write_text(f"0,100,{a},0\n1,98,{b},0.0319\n30,80,{c},1.000\n", encoding="ascii")
    assert read_vpdq_file(path) == [
        VpdqFrame(0, 100, a, 0.0),
        VpdqFrame(1, 98, b, 0.0319),
        VpdqFrame(30, 80, c, 1.0),
    ]


def test_hash_second_order_is_told_from_where_the_hash_stands(tmp_path: Path) -> None:
    frames = benign_frames(1)
    path = tmp_path / "TEST-other-order.vpdq"
    path.write_text(hash_second_text(frames), encoding="ascii")
    assert read_vpdq_file(path) == frames  # hashes lower-cased, timestamps as written


@pytest.mark.parametrize(
    ("header", "order"),
    [
        ("frame_number,quality,hash,timestamp", "fqht"),
        ("frame,hash,quality,time", "fhqt"),
        ("Timestamp (sec), PDQ, Quality, Frame", "thqf"),
    ],
)
def test_a_header_fixes_the_column_order(tmp_path: Path, header: str, order: str) -> None:
    frames = benign_frames(2)

    def cells(frame: VpdqFrame) -> str:
        by_role = {
            "f": str(frame.frame_number),
            "q": str(frame.quality),
            "h": frame.pdq,
            "t": f"{frame.timestamp}",
        }
        return ",".join(by_role[role] for role in order)

    path = tmp_path / "TEST-header.txt"
    path.write_text(header + "\n" + "\n".join(cells(frame) for frame in frames) + "\n", encoding="ascii")
    assert read_vpdq_file(path) == frames
    assert detect_format(path) == "vpdq"


def test_blank_lines_crlf_bom_and_no_final_newline_are_read(tmp_path: Path) -> None:
    frames = benign_frames(3, count=3)
    text = meta_text(frames).replace("\n", "\r\n\r\n  \r\n").rstrip()
    path = tmp_path / "TEST-crlf.txt"
    path.write_bytes(b"\xef\xbb\xbf\r\n" + text.encode("ascii"))
    assert read_vpdq_file(path) == frames


def test_format_vpdq_writes_metas_form_and_takes_the_analyzers_frames() -> None:
    frames = [
        VideoFrame(frame_number=0, timestamp=0.0, pdq=pdq_of("f0").upper(), quality=100),
        VideoFrame(frame_number=25, timestamp=1.0004, pdq=pdq_of("f1"), quality=7, trimmed=pdq_of("t")),
        VideoFrame(frame_number=50, timestamp=2.0319, pdq=pdq_of("f2"), quality=0),
    ]
    text = format_vpdq(frames)
    lines = text.split("\n")
    assert lines[-1] == ""  # every line ends with a newline
    assert all(META_LINE.fullmatch(line) for line in lines[:-1]), lines
    assert lines[1] == f"25,7,{pdq_of('f1')},1.000"
    assert lines[2].endswith(",2.032")
    assert parse_vpdq_lines(text.splitlines(), "TEST") == [
        VpdqFrame(0, 100, pdq_of("f0"), 0.0),
        VpdqFrame(25, 7, pdq_of("f1"), 1.0),
        VpdqFrame(50, 0, pdq_of("f2"), 2.032),
    ]
    assert format_vpdq([VpdqFrame(0, 50, pdq_of("z"), -0.0)]).endswith(",0.000\n")  # never "-0.000"


@pytest.mark.parametrize(
    "frame",
    [
        VpdqFrame(-1, 50, pdq_of("x"), 0.0),
        VpdqFrame(0, 101, pdq_of("x"), 0.0),
        VpdqFrame(0, 50, pdq_of("x")[:63], 0.0),
        VpdqFrame(0, 50, pdq_of("x"), -1.0),
        VpdqFrame(0, 50, pdq_of("x"), float("nan")),
        VpdqFrame(0, 50, pdq_of("x"), 1e300),  # would print 300 digits
        VpdqFrame(10**15, 50, pdq_of("x"), 0.0),
    ],
)
def test_format_vpdq_refuses_a_frame_no_reader_would_take(frame: VpdqFrame) -> None:
    with pytest.raises(ValueError):
        format_vpdq([frame])


BAD_LINES = [
    ("7,100,{hash}", "3 comma-separated fields, but a vPDQ line has 4"),
    ("7,100,{hash},1.000,extra", "5 comma-separated fields"),
    ("7,100,{hash}zz,1.000", "hash '"),  # 66 characters
    ("7,100,{short},1.000", "is not a PDQ hash (64 hex digits)"),
    ("7,101,{hash},1.000", "quality '101' is not a whole number from 0 to 100"),
    ("-7,100,{hash},1.000", "frame number '-7' is not a whole number of 0 or more"),
    ("7,100,{hash},-1.000", "timestamp '-1.000' is not a number of seconds"),
    ("7,100,{hash},inf", "timestamp 'inf' is not a number of seconds"),
    ("seven,100,{hash},1.000", "frame number 'seven'"),
    ("this is not a vPDQ line", "1 comma-separated fields"),
]


@pytest.mark.parametrize(("bad", "words"), BAD_LINES)
def test_a_malformed_line_refuses_the_whole_folder_naming_file_and_line(
    store: Store, tmp_path: Path, bad: str, words: str
) -> None:
    folder = video_folder(tmp_path, {"TEST-a.txt": 1, "TEST-b.txt": 2, "TEST-c.txt": 3})
    broken = folder / "TEST-b.txt"
    lines = broken.read_text(encoding="ascii").splitlines()
    lines[2] = bad.format(hash=pdq_of("bad"), short=pdq_of("bad")[:60])
    broken.write_text("\n".join(lines) + "\n", encoding="ascii")

    with pytest.raises(HashSetFormatError) as caught:
        import_hash_set(store, folder, name="TEST-videos")

    assert f"{broken}: line 3: " in str(caught.value)
    assert words in str(caught.value)
    assert stored_counts(store) == (0, 0, 0)  # not the set, nor a version, nor the good videos


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "no frames"),
        (b"\n  \n", "no frames"),
        (b"frame,quality,hash,timestamp\n", "no frames"),
        (b"frame,quality,hash,size\n", "line 1: the header row"),
        ("0,100,x,0\n".encode("utf-16"), "UTF-16"),
        (b"\x00\x01" * 4096, "line 1: a line longer than 1024 bytes"),  # a stray binary file, read no further
        (b"0,100," + pdq_of("u").encode() + b",0.5\n0,100,\xff,0\n", "line 2: not text"),
    ],
)
def test_an_empty_or_foreign_file_is_refused(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "TEST-odd.txt"
    path.write_bytes(content)
    with pytest.raises(HashSetFormatError, match=re.escape(words)):
        read_vpdq_file(path)


def test_a_header_after_the_first_row_or_mixed_column_orders_are_refused(tmp_path: Path) -> None:
    a, b = benign_frames(4, count=2)
    path = tmp_path / "TEST-mixed.txt"
    path.write_text(f"{meta_text([a])}{hash_second_text([b])}", encoding="ascii")
    with pytest.raises(HashSetFormatError, match=r"line 2: .*every line must follow the column order"):
        read_vpdq_file(path)
    path.write_text(f"{meta_text([a])}frame,quality,hash,time\n", encoding="ascii")
    with pytest.raises(HashSetFormatError, match="line 2: frame number 'frame'"):
        read_vpdq_file(path)


# --- entries and the importer ------------------------------------------------------------------------


def test_each_file_of_a_folder_is_one_entry_with_its_frames(store: Store, tmp_path: Path) -> None:
    folder = video_folder(tmp_path, {"TEST-b-chair-19-sd-bar.txt": 5, "TEST-a.vpdq": 6, "TEST-c": 7})
    (folder / ".TEST-hidden.txt").write_text("not read\n", encoding="ascii")
    (folder / "TEST-sub").mkdir()
    (folder / "TEST-sub" / "TEST-nested.txt").write_text("not read either\n", encoding="ascii")
    old_style = folder / "TEST-c"
    old_style.write_text(hash_second_text(benign_frames(7)), encoding="ascii")  # same frames, other order

    summary = import_hash_set(store, folder, name="TEST-videos")

    assert (summary.format, summary.counts, summary.added, summary.version) == ("vpdq", {"vpdq": 3}, 3, 1)
    rows = video_entries(store, "TEST-videos")
    assert [(media_id, line) for _t, _v, media_id, line, _d in rows] == [
        ("TEST-a", 1),
        ("TEST-b-chair-19-sd-bar", 2),
        ("TEST-c", 3),
    ]
    for (hash_type, value, _media_id, _line, details), (name, seed) in zip(
        rows, [("TEST-a.vpdq", 6), ("TEST-b-chair-19-sd-bar.txt", 5), ("TEST-c", 7)], strict=True
    ):
        text = meta_text(benign_frames(seed))
        assert hash_type == "vpdq"
        assert value == hashlib.sha256(text.encode()).hexdigest()
        assert isinstance(details, str)
        assert json.loads(details) == {"frames": text, "name": name, "frame_count": 5, "duration": 4.0}
        assert frames_of_entry(details) == benign_frames(seed)
    with store.session() as session:
        version = session.scalars(select(HashSetVersion)).one()
        assert version.source_file == str(folder.resolve())
        assert version.source_sha256 == summary.source_sha256


def test_a_single_file_is_one_entry_and_long_names_are_cut_to_200(store: Store, tmp_path: Path) -> None:
    path = tmp_path / ("TEST-" + "x" * 240 + ".txt")
    path.write_text(meta_text(benign_frames(8)), encoding="ascii")
    summary = import_hash_set(store, path, name="TEST-one-video")
    assert summary.counts == {"vpdq": 1}
    [(_t, _v, media_id, line, _d)] = video_entries(store, "TEST-one-video")
    assert (media_id, line) == (("TEST-" + "x" * 240)[:200], 1)


def test_the_same_video_twice_is_one_entry(store: Store, tmp_path: Path) -> None:
    folder = video_folder(tmp_path, {"TEST-1.txt": 9, "TEST-2.txt": 9, "TEST-3.txt": 10})
    summary = import_hash_set(store, folder, name="TEST-videos")
    assert (summary.counts, summary.duplicates) == ({"vpdq": 2}, 1)
    assert [row[2] for row in video_entries(store, "TEST-videos")] == ["TEST-1", "TEST-3"]  # first wins


def test_reimporting_the_same_folder_is_unchanged(store: Store, tmp_path: Path) -> None:
    folder = video_folder(tmp_path, {"TEST-a.txt": 1, "TEST-b.txt": 2})
    first = import_hash_set(store, folder, name="TEST-videos")
    again = import_hash_set(store, folder, name="TEST-videos", vpdq_query_percent=90)
    assert again.unchanged and (again.version, again.version_id) == (first.version, first.version_id)
    assert stored_counts(store) == (1, 1, 2)
    with store.session() as session:
        assert session.scalars(select(HashSet.vpdq_query_percent)).one() == 90  # settings still apply
    # The provenance digest covers every file's bytes: a blank line added is a new version, of the same
    # entries.
    with (folder / "TEST-b.txt").open("a", encoding="ascii") as handle:
        handle.write("\n")
    edited = import_hash_set(store, folder, name="TEST-videos")
    assert (edited.unchanged, edited.version, edited.added, edited.changed, edited.removed) == (
        False,
        2,
        0,
        0,
        0,
    )
    assert stored_counts(store) == (1, 2, 2)


def test_a_changed_folder_is_version_2_with_what_it_added_changed_and_removed(
    store: Store, tmp_path: Path
) -> None:
    folder = video_folder(tmp_path, {"TEST-a.txt": 1, "TEST-b.txt": 2, "TEST-c.txt": 3})
    first = import_hash_set(store, folder, name="TEST-videos")
    (folder / "TEST-b.txt").rename(folder / "TEST-b-renamed.txt")  # same frames: the entry is re-labelled
    (folder / "TEST-c.txt").unlink()
    video_folder(tmp_path, {"TEST-d.txt": 4})

    second = import_hash_set(store, folder, name="TEST-videos")

    assert second.version == 2 and not second.unchanged
    assert (second.added, second.changed, second.removed) == (1, 1, 1)
    assert second.source_sha256 != first.source_sha256
    assert [row[2] for row in video_entries(store, "TEST-videos")] == ["TEST-a", "TEST-b-renamed", "TEST-d"]
    assert [row[2] for row in video_entries(store, "TEST-videos", 1)] == ["TEST-a", "TEST-b", "TEST-c"]


def test_a_folder_changed_while_it_is_imported_is_refused(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = video_folder(tmp_path, {"TEST-a.txt": 1, "TEST-b.txt": 2})
    real_iter = vpdq.iter_vpdq

    def iter_then_add_a_file(path: Path) -> Iterator[object]:
        yield from real_iter(path)
        video_folder(tmp_path, {"TEST-late.txt": 3})  # a copy still arriving

    monkeypatch.setattr(vpdq, "iter_vpdq", iter_then_add_a_file)
    with pytest.raises(HashSetFormatError, match="the folder changed while it was being imported"):
        import_hash_set(store, folder, name="TEST-videos")
    assert stored_counts(store) == (0, 0, 0)


def test_an_empty_folder_is_refused(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "TEST-empty"
    folder.mkdir()
    (folder / ".DS_Store").write_bytes(b"\0")
    with pytest.raises(HashSetFormatError, match="no files in this folder"):
        import_hash_set(store, folder, name="TEST-videos")
    with pytest.raises(HashSetFormatError, match="no files in this folder"):
        list(iter_vpdq(folder))
    assert stored_counts(store) == (0, 0, 0)


def test_vpdq_files_and_folders_are_detected(tmp_path: Path) -> None:
    folder = video_folder(tmp_path, {"TEST-a.txt": 1, "TEST-b.txt": 2})
    other = tmp_path / "TEST-other.txt"
    other.write_text(hash_second_text(benign_frames(3)), encoding="ascii")
    assert detect_format(folder) == "vpdq"
    assert detect_format(folder / "TEST-a.txt") == "vpdq"
    assert detect_format(other) == "vpdq"
    # A later bad line still reads as vPDQ, so that its reader names that line.
    (folder / "TEST-b.txt").write_text(meta_text(benign_frames(2)) + "7,100,zz,1\n", encoding="ascii")
    assert detect_format(folder / "TEST-b.txt") == "vpdq"


@pytest.mark.parametrize(
    "first_line",
    [
        "{hash},A1",  # NCMEC-style
        "md5,sha1,sha256,pdq",  # a plain list's header
        "{hash},{hash},{hash},{hash}",
        "1,{hash},2",  # three fields
        "hash,category,series,quality",
    ],
)
def test_lists_of_other_formats_are_not_taken_for_vpdq(tmp_path: Path, first_line: str) -> None:
    path = tmp_path / "TEST-list.txt"
    path.write_text(first_line.format(hash=pdq_of("o")) + "\n", encoding="ascii")
    with contextlib.suppress(HashSetFormatError):  # refused for another reason: not taken for vPDQ either
        assert detect_format(path) != "vpdq"


def test_a_folder_of_other_lists_is_refused_naming_the_file(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "TEST-lists"
    folder.mkdir()
    (folder / "TEST-md5.txt").write_text(hashlib.md5(b"TEST").hexdigest() + "\n", encoding="ascii")
    with pytest.raises(
        HashSetFormatError, match=re.escape("first file 'TEST-md5.txt' is not vPDQ but plain")
    ):
        import_hash_set(store, folder, name="TEST-lists")
    with pytest.raises(UsageError, match="is a folder, and only vPDQ hash files"):
        import_hash_set(store, folder, name="TEST-lists", fmt="icse")
    # Forced, the folder is read as vPDQ and the reader names the file and line.
    with pytest.raises(HashSetFormatError, match=r"TEST-md5.txt: line 1: 1 comma-separated fields"):
        import_hash_set(store, folder, name="TEST-lists", fmt="vpdq")
    assert stored_counts(store) == (0, 0, 0)


def test_format_and_type_options_with_vpdq(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "TEST-video.dat"
    path.write_text(meta_text(benign_frames(1)), encoding="ascii")
    with pytest.raises(HashSetFormatError, match="not a plain list but VPDQ; use --format vpdq"):
        import_hash_set(store, path, name="TEST-video", fmt="plain")
    with pytest.raises(UsageError, match="--type does not apply to vPDQ hash files"):
        import_hash_set(store, path, name="TEST-video", hash_type="pdq")
    with pytest.raises(UsageError, match=r"--type vpdq is not a type of hash list.*--format vpdq"):
        check_hash_type("VPDQ")
    plain = tmp_path / "TEST-plain.txt"
    plain.write_text(pdq_of("p") + "\n", encoding="ascii")
    with pytest.raises(UsageError, match="--type vpdq is not a type of hash list"):
        import_hash_set(store, plain, name="TEST-plain", hash_type="vpdq")
    assert import_hash_set(store, path, name="TEST-video", fmt="vpdq").counts == {"vpdq": 1}


def test_vpdq_percentages_are_kept_on_the_set(store: Store, tmp_path: Path) -> None:
    folder = video_folder(tmp_path, {"TEST-a.txt": 1})
    import_hash_set(store, folder, name="TEST-videos")
    with store.session() as session:
        hash_set = session.scalars(select(HashSet)).one()
        assert (hash_set.vpdq_query_percent, hash_set.vpdq_compared_percent) == (80, 0)
    video_folder(tmp_path, {"TEST-b.txt": 2})
    import_hash_set(store, folder, name="TEST-videos", vpdq_query_percent=70.5, vpdq_compared_percent=20)
    video_folder(tmp_path, {"TEST-c.txt": 3})
    import_hash_set(store, folder, name="TEST-videos")  # None keeps them
    with store.session() as session:
        hash_set = session.scalars(select(HashSet)).one()
        assert (hash_set.vpdq_query_percent, hash_set.vpdq_compared_percent) == (70.5, 20)
    for option in ("vpdq_query_percent", "vpdq_compared_percent"):
        for value in (-1, 100.5, float("nan")):
            with pytest.raises(UsageError, match="out of range; use a percentage from 0 to 100"):
                import_hash_set(store, folder, name="TEST-videos", **{option: value})  # type: ignore[arg-type]


# --- export ------------------------------------------------------------------------------------------


def test_vpdq_export_writes_one_file_per_video_that_reimports_the_same(store: Store, tmp_path: Path) -> None:
    folder = video_folder(tmp_path, {"TEST-a.txt": 1, "TEST-b.txt": 2, "TEST-c.txt": 3})
    old_style = folder / "TEST-c.txt"
    old_style.write_text(hash_second_text(benign_frames(3)), encoding="ascii")
    import_hash_set(store, folder, name="TEST-videos")
    out = tmp_path / "TEST-out" / "videos"

    summary = export_vpdq(store, "TEST-videos", out)

    assert (summary.written, summary.left_out) == (3, 0)
    assert sorted(path.name for path in out.iterdir()) == ["TEST-a.txt", "TEST-b.txt", "TEST-c.txt"]
    assert (out / "TEST-c.txt").read_text(encoding="ascii") == meta_text(benign_frames(3))  # Meta's order
    for path in out.iterdir():
        assert all(META_LINE.fullmatch(line) for line in path.read_text(encoding="ascii").splitlines())
    import_hash_set(store, out, name="TEST-videos-again")
    assert video_entries(store, "TEST-videos-again") == video_entries(store, "TEST-videos")


def test_vpdq_export_never_overwrites(store: Store, tmp_path: Path) -> None:
    import_hash_set(store, video_folder(tmp_path, {"TEST-a.txt": 1, "TEST-b.txt": 2}), name="TEST-videos")
    out = tmp_path / "TEST-out"
    out.mkdir()
    (out / "TEST-b.txt").write_text("the examiner's own file\n", encoding="ascii")
    (out / "TEST-unrelated.txt").write_text("kept\n", encoding="ascii")
    with pytest.raises(UsageError, match=r"TEST-b\.txt already .*export into an empty folder"):
        export_vpdq(store, "TEST-videos", out)
    assert sorted(path.name for path in out.iterdir()) == [
        "TEST-b.txt",
        "TEST-unrelated.txt",
    ]  # nothing written
    assert (out / "TEST-b.txt").read_text(encoding="ascii") == "the examiner's own file\n"
    with pytest.raises(UsageError, match="is a file; --format vpdq writes into a folder"):
        export_vpdq(store, "TEST-videos", out / "TEST-b.txt")


def test_export_file_names_are_safe_and_unique() -> None:
    value = "ab" * 32
    names = file_names(
        [
            ("chair-19-sd-bar", "01" * 32),
            ("../../etc/passwd", "02" * 32),
            ("C:\\evidence\\clip", "03" * 32),
            ("line\nbreak\x00", "04" * 32),
            (".hidden", "05" * 32),
            (None, value),
            ("..", "06" * 32),
            ("CHAIR-19-SD-BAR", "07" * 32),
            ("é" * 200, "08" * 32),
        ]
    )
    assert names[:5] == [
        "chair-19-sd-bar.txt",
        "_.._etc_passwd.txt",
        "C__evidence_clip.txt",
        "line_break_.txt",
        "hidden.txt",
    ]
    assert names[5] == value[:16] + ".txt"
    assert names[6] == "06" * 8 + ".txt"
    assert names[7] == "CHAIR-19-SD-BAR-" + "07" * 8 + ".txt"  # the same name on a case-blind disk
    assert len(names[8].encode()) <= 204 and names[8].endswith(".txt")
    assert len({name.casefold() for name in names}) == len(names)


def test_videos_are_left_out_of_vics_icse_and_plain_exports(store: Store, tmp_path: Path) -> None:
    import_hash_set(store, video_folder(tmp_path, {"TEST-a.txt": 1, "TEST-b.txt": 2}), name="TEST-videos")
    for fmt in ("vics", "icse", "plain"):
        out = tmp_path / f"TEST-out.{fmt}"
        with out.open("wb") as binary, io.TextIOWrapper(binary, encoding="utf-8", newline="") as text_out:
            summary = export_hash_set(store, "TEST-videos", fmt, binary if fmt == "vics" else text_out)
        assert (summary.written, summary.left_out, summary.videos_left_out) == (0, 2, 2), fmt
        text = out.read_text(encoding="utf-8")
        assert "vpdq" not in text and "TEST-a" not in text, fmt
    assert out.read_text(encoding="utf-8") == "md5,sha1,sha256,pdq,category,series\n"
    with pytest.raises(UsageError, match="--format vpdq writes a folder"):
        export_hash_set(store, "TEST-videos", "vpdq", io.StringIO())


def test_a_picture_list_exported_as_vpdq_writes_nothing_and_counts_it(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "TEST-list.txt"
    path.write_text("md5\n" + hashlib.md5(b"TEST 1").hexdigest() + "\n", encoding="ascii")
    import_hash_set(store, path, name="TEST-list")
    summary = export_vpdq(store, "TEST-list", tmp_path / "TEST-out")
    assert (summary.written, summary.left_out) == (0, 1)
    assert list((tmp_path / "TEST-out").iterdir()) == []


# --- the command line --------------------------------------------------------------------------------


def test_cli_imports_a_folder_with_the_vpdq_percentages_and_exports_it(
    himaya: Cli,  # noqa: F811
    himaya_env: dict[str, Path],
    tmp_path: Path,
) -> None:
    folder = video_folder(tmp_path, {"TEST-a.txt": 1, "TEST-b.txt": 2})
    outcome = himaya(
        "hashset", "import", str(folder), "--name", "TEST-videos",
        "--vpdq-query-percent", "90", "--vpdq-compared-percent", "12.5", "-q",
    )  # fmt: skip
    assert outcome.code == 0, outcome.text
    assert "version 1 (vpdq): 2 vpdq; 2 added" in outcome.text
    again = himaya("hashset", "import", str(folder), "--name", "TEST-videos", "-q")
    assert "is identical to version 1" in again.text
    bad = himaya("hashset", "import", str(folder), "--name", "TEST-videos", "--vpdq-query-percent", "120")
    assert bad.code == 2 and "--vpdq-query-percent 120.0 is out of range" in bad.text
    store = open_store(himaya_env["home"])
    try:
        with store.session() as session:
            hash_set = session.scalars(select(HashSet)).one()
            assert (hash_set.vpdq_query_percent, hash_set.vpdq_compared_percent) == (90, 12.5)
    finally:
        store.close()

    out = tmp_path / "TEST-exported"
    exported = himaya("hashset", "export", "TEST-videos", "--format", "vpdq", "--out", str(out))
    assert exported.code == 0, exported.text
    assert "2 vPDQ video files written" in exported.text
    assert sorted(path.name for path in out.iterdir()) == ["TEST-a.txt", "TEST-b.txt"]
    vics = himaya("hashset", "export", "TEST-videos", "--format", "vics", "--out", str(tmp_path / "v.json"))
    assert "2 vPDQ videos left out (export them with --format vpdq)" in vics.text
    refused = himaya("hashset", "export", "TEST-videos", "--format", "vpdq", "--out", str(out))
    assert (
        refused.code == 2
        and "TEST-a.txt already" in refused.text
        and "export into an empty folder" in refused.text
    )

    broken = folder / "TEST-b.txt"
    broken.write_text("0,100,nothex,0.000\n", encoding="ascii")
    failed = himaya("hashset", "import", str(folder), "--name", "TEST-videos", "-q")
    assert failed.code == 1
    assert "TEST-b.txt: line 1: neither the second nor the third field is a PDQ hash" in failed.text


def test_cli_help_names_the_vpdq_options(himaya: Cli) -> None:  # noqa: F811
    text = himaya("hashset", "import", "--help").text
    for word in ("--vpdq-query-percent", "--vpdq-compared-percent", "vpdq", "folder"):
        assert word in text
    assert "vpdq" in himaya("hashset", "export", "--help").text


# --- properties --------------------------------------------------------------------------------------

_frames = st.lists(
    st.builds(
        VpdqFrame,
        frame_number=st.integers(0, 10**9),
        quality=st.integers(0, 100),
        pdq=st.binary(min_size=32, max_size=32).map(bytes.hex),
        timestamp=st.integers(0, 10**9).map(lambda ms: ms / 1000),
    ),
    min_size=1,
    max_size=12,
)


@given(frames=_frames)
def test_format_then_parse_gives_the_frames_back(frames: list[VpdqFrame]) -> None:
    text = format_vpdq(frames)
    assert all(META_LINE.fullmatch(line) for line in text.splitlines())
    assert parse_vpdq_lines(text.splitlines(keepends=True), "TEST") == frames
    assert parse_vpdq_lines(text.split("\n"), "TEST") == frames


@given(frames=_frames, header=st.booleans(), newline=st.sampled_from(["\n", "\r\n"]))
def test_the_other_column_order_gives_the_same_frames(
    frames: list[VpdqFrame], header: bool, newline: str
) -> None:
    lines = (["frame,hash,quality,time"] if header else []) + hash_second_text(frames).splitlines()
    assert parse_vpdq_lines((line + newline for line in lines), "TEST") == frames
    assert format_vpdq(parse_vpdq_lines(lines, "TEST")) == format_vpdq(frames)


@given(lines=st.lists(st.text(alphabet="0123456789abcdefABCDEF,.-e \r\tx", max_size=90), max_size=6))
def test_the_parser_raises_only_format_errors(lines: list[str]) -> None:
    try:
        frames = parse_vpdq_lines(lines, "TEST")
    except HashSetFormatError:
        return
    assert frames and parse_vpdq_lines(format_vpdq(frames).splitlines(), "TEST") == [
        frame._replace(timestamp=float(f"{frame.timestamp:.3f}")) for frame in frames
    ]
