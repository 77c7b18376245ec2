"""What leaves the store about videos: the export records, the vPDQ hash files, and the HTML report.

One case is scanned once for the module, with tiny generated videos (160x120, 5 frames a second): a known
video, a clip of it, a copy re-muxed with a phone's metadata, one that shows a known picture in its first
frame, an unrelated one, one hashed in part (a frame budget) and a copy of the clip under a hostile name.
The known video's TEST hash set is made from its own frame hashes, as Meta's tool would write them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from himaya.analyzers.video import analyze_video
from himaya.cases import create_case
from himaya.config import ImageLimits, ScanSettings, VideoSettings
from himaya.errors import UsageError
from himaya.hashsets.importer import import_hash_set
from himaya.hashsets.vpdq import format_vpdq, read_vpdq_file
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.reports.html import collect, render
from himaya.reports.video_hashes import export_case_vpdq
from himaya.store.db import Store, open_store
from himaya.store.models import AuditEvent, File, HashEntry, HashSet, VideoFacts
from tests.builders.evidence import full_pdq
from tests.builders.images import encode, photo_jpeg
from tests.builders.videos import clip, frame_at, make_video, with_metadata
from tests.cli.test_cli import Cli
from tests.reports.test_export import FILE_KEYS, MATCH_KEYS

CASE = "C-VIDEO-TEST-1"
SIZE = (160, 120)
VIDEO_KEYS = [
    "duration", "container", "video_codec", "audio_codec", "width", "height", "frame_rate",
    "creation_time", "make", "model", "gps_lat", "gps_lon", "pipeline", "frame_count", "incomplete",
]  # fmt: skip
VPDQ_KEYS = {
    "query_percent", "compared_percent", "frames_matched", "frames_usable", "known_frames_matched",
    "known_frames_usable", "ranges", "known_ranges", "matched_seconds",
}  # fmt: skip
HOSTILE_MAKE = "<img src=x onerror=alert(1)>"
# Separators of another system, markup and what Windows refuses: all must stay inside the export folder.
HOSTILE_NAME = "..\\..\\<b>x|?:*.mp4"
META_LINE = re.compile(r"(0|[1-9][0-9]*),([0-9]|[1-9][0-9]|100),[0-9a-f]{64},[0-9]+\.[0-9]{3}")


@dataclass(frozen=True)
class VideoCase:
    store: Store
    number: str
    base: Path
    known_list: Path  # the known video's vPDQ file (TEST-VIDEOS)
    paths: dict[str, str]  # role -> export path


@pytest.fixture(scope="module")
def video_case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VideoCase]:
    base = tmp_path_factory.mktemp("videos")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("HIMAYA_DATABASE_URL", raising=False)  # always the embedded store here
        store = open_store(base / "home")
    source = make_video(base / "source.mp4", seconds=8, size=SIZE, fps=5, seed=21)
    movies = base / "phone" / "Movies"
    movies.mkdir(parents=True)
    shutil.copyfile(source, movies / "known.mp4")
    clip(source, movies / "clip.mp4", start=2, seconds=4)
    shutil.copyfile(movies / "clip.mp4", movies / HOSTILE_NAME)
    with_metadata(
        source,
        movies / "phone.mov",
        creation_time="2024-05-01T10:20:30.000000Z",
        make=HOSTILE_MAKE,
        model="TEST-Model",
        location="+31.9500+035.9300/",
    )
    make_video(movies / "other.mkv", seconds=4, size=SIZE, fps=5, seed=22)
    make_video(movies / "still.mp4", seconds=3, size=SIZE, fps=5, seed=23)
    (base / "phone" / "DCIM").mkdir()
    (base / "phone" / "DCIM" / "picture.jpg").write_bytes(photo_jpeg(seed=31, width=320, height=240))
    make_video(base / "partial" / "long.mp4", seconds=8, size=SIZE, fps=5, seed=24)

    lists = base / "lists"
    lists.mkdir()
    facts, _sheet = analyze_video(
        str(source), settings=VideoSettings(), limits=ImageLimits(), thumbnails=None
    )
    known_list = lists / "TEST-known-video.txt"
    known_list.write_text(format_vpdq(facts.frames), encoding="ascii")
    import_hash_set(store, known_list, name="TEST-VIDEOS", fmt="vpdq")
    # A known picture: the first moment of still.mp4, as a still would have been taken from it.
    still = encode(Image.fromarray(frame_at(23, SIZE, 0.0)), "PNG")
    pictures = lists / "TEST-pictures.csv"
    pictures.write_text(f"pdq,category\n{full_pdq(still)},TEST-B\n")
    import_hash_set(store, pictures, name="TEST-pictures")

    create_case(store, CASE, "TEST video case")
    settings = ScanSettings(workers=0, thumbnails=False)
    run_scan(store, CASE, [base / "phone"], settings=settings, blobs=None, quiet=True)
    # 12 decoded frames (2.4 s), then the budget stops it: a few of its 8 seconds hashed.
    budget = ScanSettings(workers=0, thumbnails=False, video=VideoSettings(max_frames=12))
    run_scan(store, CASE, [base / "partial"], settings=budget, blobs=None, quiet=True)
    try:
        yield VideoCase(
            store=store,
            number=CASE,
            base=base,
            known_list=known_list,
            paths={
                "known": "phone/Movies/known.mp4",
                "clip": "phone/Movies/clip.mp4",
                # Stored with its backslashes doubled (himaya.sources.names: escapes are written with one).
                "hostile": "phone/Movies/" + HOSTILE_NAME.replace("\\", "\\\\"),
                "phone": "phone/Movies/phone.mov",
                "other": "phone/Movies/other.mkv",
                "still": "phone/Movies/still.mp4",
                "picture": "phone/DCIM/picture.jpg",
                "partial": "partial/long.mp4",
            },
        )
    finally:
        store.close()


def records(case: VideoCase, only_matches: bool = False) -> dict[str, dict[str, Any]]:
    out = io.StringIO()
    export_case(case.store, case.number, "jsonl", out, only_matches=only_matches)
    return {r["path"]: r for r in map(json.loads, out.getvalue().splitlines())}


def stored_frames(case: VideoCase) -> dict[int, tuple[str, str]]:
    """file id -> (path, frames text as the scan stored it), for every hashed video."""
    with case.store.session() as session:
        rows = session.execute(select(File.id, File.path, VideoFacts.frames).join(VideoFacts))
        return {file_id: (path, frames) for file_id, path, frames in rows}


# --- JSON lines and CSV ---------------------------------------------------------------------------------


def test_a_video_record_has_its_facts_and_other_records_keep_their_keys(video_case: VideoCase) -> None:
    found = records(video_case)
    assert set(found) == set(video_case.paths.values())
    for role in ("known", "clip", "hostile", "phone", "other", "still", "partial"):
        record = found[video_case.paths[role]]
        assert list(record) == [*FILE_KEYS, "video"], role
        assert list(record["video"]) == VIDEO_KEYS, role
    picture = found[video_case.paths["picture"]]
    assert list(picture) == FILE_KEYS  # not even "video": null; the key set of a picture is unchanged
    known = found[video_case.paths["known"]]["video"]
    assert known == {
        "duration": 8.0,
        "container": known["container"],
        "video_codec": "h264",
        "audio_codec": None,
        "width": 160,
        "height": 120,
        "frame_rate": 5.0,
        "creation_time": None,
        "make": None,
        "model": None,
        "gps_lat": None,
        "gps_lon": None,
        "pipeline": known["pipeline"],
        "frame_count": 8,  # one frame a second
        "incomplete": None,
    }
    assert "mp4" in known["container"] and known["pipeline"].startswith("vpdq")
    assert found[video_case.paths["other"]]["video"]["container"].startswith("matroska")


def test_a_clip_match_says_where_it_is_in_both_videos(video_case: VideoCase) -> None:
    clip_record = records(video_case)[video_case.paths["clip"]]
    [match] = clip_record["matches"]
    assert [key for key in match if key in MATCH_KEYS] == MATCH_KEYS
    assert (match["hashset"], match["method"], match["kind"]) == ("TEST-VIDEOS", "vpdq", "alert")
    assert 0 <= match["distance"] <= 31  # re-encoded: near, not equal
    details = match["details"]
    assert set(details) == VPDQ_KEYS
    assert details["ranges"] == [[0.0, 3.0]]  # the whole clip ...
    assert details["known_ranges"] == [[2.0, 5.0]]  # ... is seconds 2 to 5 of the known video
    assert (details["frames_matched"], details["frames_usable"], details["query_percent"]) == (4, 4, 100.0)
    assert (details["known_frames_matched"], details["known_frames_usable"]) == (4, 8)
    assert details["compared_percent"] == 50.0


def test_the_known_video_and_a_remuxed_copy_match_whole(video_case: VideoCase) -> None:
    found = records(video_case)
    for role in ("known", "phone"):
        [match] = found[video_case.paths[role]]["matches"]
        assert (match["method"], match["distance"]) == ("vpdq", 0), role  # the same frames, bit for bit
        assert match["details"]["ranges"] == match["details"]["known_ranges"] == [[0.0, 7.0]]
        assert match["details"]["compared_percent"] == 100.0
    phone = found[video_case.paths["phone"]]["video"]
    assert (phone["creation_time"], phone["make"], phone["model"]) == (
        "2024-05-01T10:20:30.000000Z",
        HOSTILE_MAKE,  # exported as found: JSON needs no escaping, the report and the app do it
        "TEST-Model",
    )
    assert (phone["gps_lat"], phone["gps_lon"]) == (pytest.approx(31.95), pytest.approx(35.93))


def test_a_known_picture_in_a_frame_and_the_other_matches(video_case: VideoCase) -> None:
    found = records(video_case)
    [match] = found[video_case.paths["still"]]["matches"]
    assert (match["hashset"], match["method"], match["category"]) == ("TEST-pictures", "pdq-frame", "TEST-B")
    assert match["details"] == {"frames_matched": 1, "frame": 0, "time": 0.0, "ranges": [[0.0, 0.0]]}
    assert found[video_case.paths["other"]]["matches"] == []
    for match in found[video_case.paths["picture"]]["matches"]:
        assert "details" not in match  # a picture's match keeps the keys it always had


def test_a_video_hashed_in_part_says_why(video_case: VideoCase) -> None:
    partial = records(video_case)[video_case.paths["partial"]]
    assert partial["status"] == "ok"  # a budget is no read error: what was hashed is evidence
    assert 0 < partial["video"]["frame_count"] < 8  # hashed until the budget ran out, and kept
    assert "budget" in partial["video"]["incomplete"]
    assert records(video_case)[video_case.paths["known"]]["video"]["incomplete"] is None


def test_only_matches_keeps_the_matched_videos(video_case: VideoCase) -> None:
    only = records(video_case, only_matches=True)
    assert set(only) == {video_case.paths[role] for role in ("known", "clip", "hostile", "phone", "still")}


def test_csv_keeps_its_columns_and_says_where_in_the_matches_cell(video_case: VideoCase) -> None:
    out = io.StringIO()
    count = export_case(video_case.store, video_case.number, "csv", out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == FILE_KEYS  # the same columns for a case with videos: readers by position keep working
    assert count == len(rows) - 1 == len(video_case.paths)
    table = {row[2]: dict(zip(FILE_KEYS, row, strict=True)) for row in rows[1:]}
    assert table[video_case.paths["clip"]][
        "matches"
    ] == "TEST-VIDEOS v1 vpdq d={} [at 0:00-0:03; 100% of frames]".format(
        records(video_case)[video_case.paths["clip"]]["matches"][0]["distance"]
    )
    assert (
        table[video_case.paths["known"]]["matches"]
        == "TEST-VIDEOS v1 vpdq d=0 [at 0:00-0:07; 100% of frames]"
    )
    assert table[video_case.paths["still"]][
        "matches"
    ] == "TEST-pictures v1 pdq-frame d={} TEST-B [at 0:00]".format(
        records(video_case)[video_case.paths["still"]]["matches"][0]["distance"]
    )
    assert table[video_case.paths["other"]]["matches"] == ""


# --- vPDQ hash files ------------------------------------------------------------------------------------


def test_vpdq_export_writes_the_stored_frames_in_metas_format(video_case: VideoCase, tmp_path: Path) -> None:
    folder = tmp_path / "out" / "vpdq"  # created, parents too
    written = export_case_vpdq(video_case.store, video_case.number, folder)
    stored = stored_frames(video_case)
    assert written == len(stored) == 7  # every hashed video; not the picture
    files = sorted(folder.iterdir())
    assert len(files) == written
    by_id = {int(path.name.split("-", 1)[0]): path for path in files}
    assert set(by_id) == set(stored)
    for file_id, (path, frames) in stored.items():
        exported = by_id[file_id]
        assert exported.parent == folder and exported.resolve().parent == folder.resolve()
        assert exported.read_bytes() == frames.encode("ascii")  # exactly what the scan stored
        lines = exported.read_text(encoding="ascii").splitlines()
        assert lines and all(META_LINE.fullmatch(line) for line in lines), exported.name
        assert len(read_vpdq_file(exported)) == len(lines)  # and the reader takes it back
        if path == video_case.paths["clip"]:
            assert exported.name == f"{file_id}-clip.mp4.txt"
    # The known video's file is the TEST set's own file, byte for byte: same video, same hashes.
    known_id = next(i for i, (path, _) in stored.items() if path == video_case.paths["known"])
    assert by_id[known_id].read_bytes() == video_case.known_list.read_bytes()


def test_vpdq_export_keeps_a_hostile_name_inside_the_folder(video_case: VideoCase, tmp_path: Path) -> None:
    folder = tmp_path / "vpdq"
    export_case_vpdq(video_case.store, video_case.number, folder)
    stored = stored_frames(video_case)
    hostile_id = next(i for i, (path, _) in stored.items() if path == video_case.paths["hostile"])
    [exported] = [p for p in folder.iterdir() if p.name.startswith(f"{hostile_id}-")]
    assert exported.name == f"{hostile_id}-__..___b_x____.mp4.txt"
    assert not set(exported.name) & set('\\/<>:"|?*')
    assert [p.name for p in tmp_path.iterdir()] == ["vpdq"]  # nothing written beside or above it


def test_vpdq_export_reimports_as_the_same_known_videos(video_case: VideoCase, tmp_path: Path) -> None:
    folder = tmp_path / "vpdq"
    export_case_vpdq(video_case.store, video_case.number, folder, only_matches=True)
    summary = import_hash_set(video_case.store, folder, name="TEST-roundtrip", fmt="vpdq")
    with video_case.store.session() as session:

        def values(name: str) -> set[str]:
            query = select(HashEntry.value).join(HashSet).where(HashSet.name == name)
            return set(session.scalars(query))

        known, roundtrip = values("TEST-VIDEOS"), values("TEST-roundtrip")
    # One entry per distinct frame list: known.mp4 and phone.mov hash alike, and so do the clip and its
    # copy under the hostile name; still.mp4 is a third.
    assert len(roundtrip) == 3, summary
    assert known < roundtrip  # the known video comes back as the very entry it was imported as
    clip_text = next(
        frames for path, frames in stored_frames(video_case).values() if path.endswith("clip.mp4")
    )
    assert hashlib.sha256(clip_text.encode("ascii")).hexdigest() in roundtrip


def test_vpdq_export_refuses_to_overwrite_and_writes_nothing(video_case: VideoCase, tmp_path: Path) -> None:
    folder = tmp_path / "vpdq"
    export_case_vpdq(video_case.store, video_case.number, folder)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    victim = sorted(before)[-1]
    (folder / victim).write_text("TEST examiner's own file\n")
    for name in sorted(before)[:-1]:
        (folder / name).unlink()  # every other file is gone: the refusal must come before any write
    with pytest.raises(UsageError, match="exists already") as caught:
        export_case_vpdq(video_case.store, video_case.number, folder)
    assert victim in str(caught.value) and caught.value.exit_code == 2
    assert [path.name for path in folder.iterdir()] == [victim]
    assert (folder / victim).read_text() == "TEST examiner's own file\n"
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        export_case_vpdq(video_case.store, video_case.number, a_file)


def test_vpdq_export_through_the_command_line_is_audited(
    himaya_env: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    video_case: VideoCase,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # fewer wrapped lines in Rich's output
    himaya = Cli(monkeypatch, capsys)  # a home of its own (himaya_env), apart from the module's case
    evidence = tmp_path / "ev"
    evidence.mkdir()
    shutil.copyfile(video_case.base / "phone" / "Movies" / "clip.mp4", evidence / "clip.mp4")
    listing = str(video_case.known_list)
    assert himaya("hashset", "import", listing, "--name", "TEST-VIDEOS", "--format", "vpdq").code == 0
    assert himaya("case", "create", "TEST-V1").code == 0
    assert himaya("scan", "TEST-V1", str(evidence), "--workers", "0", "-q").code == 0
    no_folder = himaya("export", "TEST-V1", "--format", "vpdq")
    assert no_folder.code == 2 and "--out" in no_folder.text
    folder = tmp_path / "vpdq"
    outcome = himaya("export", "TEST-V1", "--format", "vpdq", "--out", str(folder))
    assert outcome.code == 0, outcome.text
    assert "1 vPDQ hash files written" in outcome.text
    [exported] = folder.iterdir()
    assert exported.name.endswith("-clip.mp4.txt")
    again = himaya("export", "TEST-V1", "--format", "vpdq", "--out", str(folder))
    assert again.code == 2 and "exists already" in again.text
    jsonl = himaya("export", "TEST-V1", "--format", "jsonl")
    [record] = [json.loads(line) for line in jsonl.out.splitlines()]
    assert record["video"]["frame_count"] == 4 and record["matches"][0]["details"]["ranges"] == [[0.0, 3.0]]
    store = open_store(himaya_env["home"])
    try:
        with store.session() as session:
            events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "export")))
            details = [json.loads(event.detail) for event in events]
    finally:
        store.close()
    assert {"format": "vpdq", "records": 1, "out": str(folder)} in details
    assert len([d for d in details if d["format"] == "vpdq"]) == 1  # the refused export is not recorded


# --- the HTML report ------------------------------------------------------------------------------------


def test_report_says_where_videos_match_and_holds_no_picture(video_case: VideoCase) -> None:
    data = collect(video_case.store, video_case.number)
    html = render(data)
    assert data.videos == 7 and len(data.video_matches) == 5
    section = html.split("<h2>Matched videos", 1)[1].split("<h2>", 1)[0]
    assert "(5 matches; 7 videos hashed)" in section
    rows = {row.file.path: row for row in data.video_matches}
    clip_row = rows[video_case.paths["clip"]]
    assert (clip_row.duration, clip_row.ranges, clip_row.known_ranges) == ("0:04", "0:00-0:03", "0:02-0:05")
    assert clip_row.share == "100% of its frames (4 of 4); 50% of the known video's (4 of 8)"
    assert rows[video_case.paths["still"]].frame_time == "0:00"
    for text in ("0:00-0:03", "0:02-0:05", "0:00-0:07", "100% of its frames (4 of 4)", "h264", "160×120"):
        assert text in section, text
    assert "nearest frame at 0:00" in section
    # Evidence names are escaped; the hostile make is not in the report at all.
    assert "..\\\\..\\\\&lt;b&gt;x|?:*.mp4" in section and "<b>x" not in html
    # Hashed in part: listed with its reason.
    assert "1 video(s) were hashed in part" in section
    assert "budget" in section and video_case.paths["partial"] in section
    # No picture of any kind: not a key-frame sheet, not a thumbnail, not a data URL.
    for forbidden in ("<img", "data:image", "base64", "<video", "<object", "<embed", "<svg"):
        assert forbidden not in html.lower(), forbidden


def test_report_of_a_case_without_videos_has_no_video_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HIMAYA_DATABASE_URL", raising=False)
    store = open_store(tmp_path / "home")
    try:
        create_case(store, "C-NO-VIDEO-TEST", None)
        (tmp_path / "ev").mkdir()
        (tmp_path / "ev" / "a.jpg").write_bytes(photo_jpeg(seed=32))
        run_scan(
            store,
            "C-NO-VIDEO-TEST",
            [tmp_path / "ev"],
            settings=ScanSettings(workers=0, thumbnails=False),
            blobs=None,
            quiet=True,
        )
        html = render(collect(store, "C-NO-VIDEO-TEST"))
    finally:
        store.close()
    assert "Matched videos" not in html and "hashed in part" not in html
