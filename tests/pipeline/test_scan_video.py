"""Videos end to end: a seized folder holding the matching corpus (tests.builders.videos.build_corpus) is
scanned against a TEST hash set made from the originals' own vPDQ files, as Meta's tool writes them.

Every copy of a known video must match that video and nothing else, an unrelated video must match
nothing, and where a match lies must be right in both videos. Around that: a video inside a zip, videos
with decoding turned off, a video's MD5 in a plain list, a re-match after the set arrives, a known picture
that is a frame of a video, and worker processes (the video index travels to them by pickling).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import zipfile
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
from himaya.hashsets.importer import import_hash_set
from himaya.hashsets.vpdq import format_vpdq, parse_vpdq_lines
from himaya.matching.pdq_index import hamming
from himaya.matching.rematch import rematch
from himaya.pipeline.scan import run_scan
from himaya.store.db import Store, open_store
from himaya.store.models import (
    Case,
    EvidenceItem,
    File,
    HashEntry,
    HashSet,
    HashSetVersion,
    Match,
    VideoFacts,
)
from tests.builders.disks import ext4_image
from tests.builders.evidence import full_pdq
from tests.builders.images import encode
from tests.builders.videos import CLIP_SECONDS, CLIP_START, VideoCorpus, frame_at

CASE = "C-VIDEO-SCAN-TEST"
CORPUS_SIZE = (320, 240)
FRAME_SECONDS = 30.0  # the moment of the original kept as a known picture
ZIPPED = "shared-clip.mp4"


@dataclass(frozen=True)
class Hit:
    hash_set: str
    media_id: str | None
    method: str
    distance: int
    details: dict[str, Any]


@dataclass(frozen=True)
class Scanned:
    store: Store
    corpus: VideoCorpus
    known: Path  # the folder of the originals' vPDQ files
    names: dict[str, str]  # role -> file name in the seized folder


def open_test_store(home: Path) -> Store:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("HIMAYA_DATABASE_URL", raising=False)  # always the embedded SQLite store here
        return open_store(home)


def scan(store: Store, case: str, folders: list[Path], **settings: Any) -> None:
    options: dict[str, Any] = {"workers": 0, "thumbnails": False, **settings}
    create_case(store, case, "TEST video scan")
    run_scan(store, case, folders, settings=ScanSettings(**options), blobs=None, quiet=True)


def hits(store: Store, case: str) -> dict[str, list[Hit]]:
    """File name -> its live matches, for every file of the case (an empty list when it matched nothing)."""
    found: dict[str, list[Hit]] = {}
    with store.session() as session:
        files = session.execute(
            select(File.id, File.path).join(EvidenceItem).join(Case).where(Case.number == case)
        ).all()
        for file_id, path in files:
            rows = session.execute(
                select(HashSet.name, HashEntry.media_id, Match.method, Match.distance, Match.details)
                .join(HashEntry, Match.entry_id == HashEntry.id)
                .join(HashSetVersion, Match.hash_set_version_id == HashSetVersion.id)
                .join(HashSet, HashSetVersion.hash_set_id == HashSet.id)
                .where(Match.file_id == file_id, Match.retired_at.is_(None))
            ).all()
            name = path.rsplit("/", 1)[-1]
            found[name] = [Hit(s, m, method, d, json.loads(x) if x else {}) for s, m, method, d, x in rows]
    return found


def video_facts(store: Store, case: str) -> dict[str, VideoFacts | None]:
    """File name -> its stored video facts (None when it has none)."""
    with store.session() as session:
        rows = session.execute(
            select(File, VideoFacts)
            .join(EvidenceItem)
            .join(Case)
            .outerjoin(VideoFacts, VideoFacts.file_id == File.id)
            .where(Case.number == case)
        ).all()
        for _, facts in rows:
            if facts is not None:
                session.expunge(facts)
        return {file.path.rsplit("/", 1)[-1]: facts for file, facts in rows}


def vpdq_of(facts: VideoFacts | None) -> list[str]:
    assert facts is not None and facts.frames
    return [frame.pdq for frame in parse_vpdq_lines(facts.frames.split("\n"), "stored")]


def known_videos(corpus: VideoCorpus, folder: Path) -> Path:
    """The originals' vPDQ files (original.txt, second.txt): what a partner would send as known videos."""
    folder.mkdir()
    for video in (corpus.original, corpus.second):
        facts, _ = analyze_video(str(video), settings=VideoSettings(), limits=ImageLimits(), thumbnails=None)
        (folder / f"{video.stem}.txt").write_text(format_vpdq(facts.frames), encoding="ascii")
    return folder


@pytest.fixture(scope="module")
def scanned(video_corpus: VideoCorpus, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scanned]:
    base = tmp_path_factory.mktemp("scan-video")
    store = open_test_store(base / "home")
    known = known_videos(video_corpus, base / "known")
    import_hash_set(store, known, name="TEST-VIDEOS", fmt="vpdq")
    # A still of the original, kept as a known picture: a JPEG of its content at FRAME_SECONDS.
    still = encode(Image.fromarray(frame_at(1, CORPUS_SIZE, FRAME_SECONDS)), "JPEG")
    (base / "pictures.csv").write_text(f"pdq,category\n{full_pdq(still)},TEST-B\n")
    import_hash_set(store, base / "pictures.csv", name="TEST-PICTURES")
    (base / "md5.txt").write_text(hashlib.md5(video_corpus.original.read_bytes()).hexdigest() + "\n")
    import_hash_set(store, base / "md5.txt", name="TEST-VIDEO-MD5", hash_type="md5")

    seized = base / "seized"
    seized.mkdir()
    videos = {
        "original": video_corpus.original,
        "second": video_corpus.second,
        "reencoded": video_corpus.reencoded,
        "other_codec": video_corpus.other_codec,
        "clip": video_corpus.clip,
        "logo": video_corpus.logo,
        "letterboxed": video_corpus.letterboxed,
        **{f"unrelated-{n}": path for n, path in enumerate(video_corpus.unrelated)},
    }
    for path in videos.values():
        shutil.copyfile(path, seized / path.name)
    with zipfile.ZipFile(seized / "chat-export.zip", "w", zipfile.ZIP_STORED) as archive:
        archive.write(video_corpus.clip, ZIPPED)
    scan(store, CASE, [seized])
    try:
        yield Scanned(
            store=store,
            corpus=video_corpus,
            known=known,
            names={**{role: path.name for role, path in videos.items()}, "zipped": ZIPPED},
        )
    finally:
        store.close()


def vpdq_hits(found: list[Hit]) -> list[Hit]:
    return [hit for hit in found if hit.method == "vpdq"]


# The corpus ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "known"),
    [
        ("original", "original"),
        ("second", "second"),
        ("reencoded", "original"),
        ("other_codec", "original"),
        ("clip", "original"),
        ("logo", "original"),
        ("letterboxed", "original"),
        ("zipped", "original"),  # the clip again, read from a zip into memory
    ],
)
def test_every_copy_matches_its_known_video(scanned: Scanned, role: str, known: str) -> None:
    found = hits(scanned.store, CASE)[scanned.names[role]]
    [hit] = vpdq_hits(found)
    assert (hit.hash_set, hit.media_id) == ("TEST-VIDEOS", known)
    assert 0 <= hit.distance <= 31
    details = hit.details
    assert details["query_percent"] >= 80.0
    assert details["frames_matched"] <= details["frames_usable"]
    if role in ("original", "second"):
        assert hit.distance == 0 and details["query_percent"] == details["compared_percent"] == 100.0


def test_unrelated_videos_match_nothing(scanned: Scanned) -> None:
    found = hits(scanned.store, CASE)
    for n in range(len(scanned.corpus.unrelated)):
        assert found[scanned.names[f"unrelated-{n}"]] == [], scanned.names[f"unrelated-{n}"]
    # Nor does the second video match the original, or any copy of the original the second.
    assert {hit.media_id for hit in vpdq_hits(found[scanned.names["second"]])} == {"second"}
    for role in ("original", "reencoded", "other_codec", "clip", "logo", "letterboxed", "zipped"):
        assert {hit.media_id for hit in vpdq_hits(found[scanned.names[role]])} == {"original"}, role
    # Every file was read as a video; the zip itself is no video.
    facts = video_facts(scanned.store, CASE)
    assert facts.pop("chat-export.zip") is None
    assert len(facts) == len(scanned.names)
    assert all(f is not None and f.incomplete is None and f.frame_count > 0 for f in facts.values())


def test_a_clip_says_where_it_lies_in_the_known_video(scanned: Scanned) -> None:
    found = hits(scanned.store, CASE)
    last = CLIP_SECONDS - 1
    for role in ("clip", "zipped"):
        [hit] = vpdq_hits(found[scanned.names[role]])
        details = hit.details
        assert details["ranges"] == [[0.0, last]], role
        assert details["known_ranges"] == [[CLIP_START, CLIP_START + last]], role
        assert (details["frames_matched"], details["frames_usable"]) == (CLIP_SECONDS, CLIP_SECONDS)
        assert (details["known_frames_matched"], details["known_frames_usable"]) == (CLIP_SECONDS, 120)
        assert details["compared_percent"] == pytest.approx(100 * CLIP_SECONDS / 120, abs=0.1)
    # The whole-length copies match the whole of the original.
    for role in ("reencoded", "other_codec", "original"):
        [hit] = vpdq_hits(found[scanned.names[role]])
        assert hit.details["known_ranges"] == [[0.0, 119.0]], role


def test_the_letterboxed_copy_matches_by_the_picture_inside_its_bars(scanned: Scanned) -> None:
    facts = video_facts(scanned.store, CASE)
    boxed, original = facts[scanned.names["letterboxed"]], facts[scanned.names["original"]]
    own = vpdq_of(boxed)
    near = sum(hamming(a, b) <= 31 for a, b in zip(own, vpdq_of(original), strict=True))
    assert near < 0.8 * len(own)  # as they are, too few of its frames are near the original's to match
    assert boxed is not None and boxed.frames_trimmed
    assert len(boxed.frames_trimmed.strip().split("\n")) == len(own)  # every frame has its trimmed hash
    [hit] = vpdq_hits(hits(scanned.store, CASE)[scanned.names["letterboxed"]])
    assert hit.details["query_percent"] == 100.0


def test_a_known_picture_that_is_a_frame_of_the_video(scanned: Scanned) -> None:
    found = hits(scanned.store, CASE)
    [frame_hit] = [hit for hit in found[scanned.names["original"]] if hit.method == "pdq-frame"]
    assert frame_hit.hash_set == "TEST-PICTURES" and frame_hit.distance <= 31
    assert frame_hit.details["time"] == FRAME_SECONDS and frame_hit.details["frame"] == FRAME_SECONDS * 10
    assert frame_hit.details["frames_matched"] >= 1
    # The clip does not hold that moment, the unrelated videos never did.
    assert not [hit for hit in found[scanned.names["clip"]] if hit.method == "pdq-frame"]
    assert not [hit for hit in found[scanned.names["second"]] if hit.method == "pdq-frame"]


def test_a_video_md5_matches_the_file_exactly(scanned: Scanned) -> None:
    found = hits(scanned.store, CASE)
    [md5] = [hit for hit in found[scanned.names["original"]] if hit.method == "md5"]
    assert (md5.hash_set, md5.distance) == ("TEST-VIDEO-MD5", 0)
    copies = [name for name, matched in found.items() if any(hit.method == "md5" for hit in matched)]
    assert copies == [scanned.names["original"]]  # a copy with other bytes is no exact match


def test_without_video_decoding_videos_get_digests_only(scanned: Scanned, tmp_path: Path) -> None:
    seized = tmp_path / "seized"
    seized.mkdir()
    for path in (scanned.corpus.original, scanned.corpus.clip):
        shutil.copyfile(path, seized / path.name)
    case = "C-NO-VIDEO-TEST"
    scan(scanned.store, case, [seized], video=VideoSettings(enabled=False))
    facts = video_facts(scanned.store, case)
    assert facts == {"original.mp4": None, "clip.mp4": None}
    with scanned.store.session() as session:
        digests = session.execute(
            select(File.path, File.md5, File.status).join(EvidenceItem).join(Case).where(Case.number == case)
        ).all()
    assert {md5 for _, md5, _ in digests} == {
        hashlib.md5(path.read_bytes()).hexdigest() for path in (scanned.corpus.original, scanned.corpus.clip)
    }
    assert {status for _, _, status in digests} == {"ok"}
    found = hits(scanned.store, case)
    assert [(hit.hash_set, hit.method) for hit in found["original.mp4"]] == [("TEST-VIDEO-MD5", "md5")]
    assert found["clip.mp4"] == []


# A known video imported after the scan, and worker processes ----------------------------------------------


def test_rematch_finds_a_known_video_imported_after_the_scan(
    video_corpus: VideoCorpus, tmp_path: Path
) -> None:
    store = open_test_store(tmp_path / "home")
    try:
        seized = tmp_path / "seized"
        seized.mkdir()
        for path in (video_corpus.clip, video_corpus.unrelated[2]):
            shutil.copyfile(path, seized / path.name)
        scan(store, "C-REMATCH-TEST", [seized])
        assert hits(store, "C-REMATCH-TEST") == {"clip.mp4": [], "unrelated-5.flv": []}

        known = tmp_path / "known"
        known.mkdir()
        facts, _ = analyze_video(
            str(video_corpus.original), settings=VideoSettings(), limits=ImageLimits(), thumbnails=None
        )
        (known / "original.txt").write_text(format_vpdq(facts.frames), encoding="ascii")
        import_hash_set(store, known, name="TEST-VIDEOS-LATE", fmt="vpdq")
        [result] = rematch(store, ["C-REMATCH-TEST"])
        assert len(result.new) == 1 and result.lost == []
        found = hits(store, "C-REMATCH-TEST")
        [hit] = found["clip.mp4"]
        assert (hit.hash_set, hit.media_id, hit.method) == ("TEST-VIDEOS-LATE", "original", "vpdq")
        assert hit.details["known_ranges"] == [[CLIP_START, CLIP_START + CLIP_SECONDS - 1]]
        assert found["unrelated-5.flv"] == []
    finally:
        store.close()


def test_worker_processes_match_videos(video_corpus: VideoCorpus, tmp_path: Path) -> None:
    store = open_test_store(tmp_path / "home")
    try:
        known = known_videos(video_corpus, tmp_path / "known")
        import_hash_set(store, known, name="TEST-VIDEOS", fmt="vpdq")
        seized = tmp_path / "seized"
        seized.mkdir()
        for path in (video_corpus.clip, video_corpus.unrelated[0]):
            shutil.copyfile(path, seized / path.name)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.write(video_corpus.unrelated[1], "other.webm")
        (seized / "more.zip").write_bytes(buffer.getvalue())
        scan(store, "C-WORKERS-TEST", [seized], workers=2)
        found = hits(store, "C-WORKERS-TEST")
        [hit] = found["clip.mp4"]
        assert (hit.media_id, hit.method) == ("original", "vpdq")
        assert hit.details["known_ranges"] == [[CLIP_START, CLIP_START + CLIP_SECONDS - 1]]
        assert found["unrelated-3.3gp"] == [] and found["other.webm"] == []
        facts = video_facts(store, "C-WORKERS-TEST")
        assert facts["other.webm"] is not None and facts["other.webm"].frame_count == 20
    finally:
        store.close()


def test_video_scan_and_rematch_on_postgresql(
    video_corpus: VideoCorpus, tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Server mode: video facts, vpdq entries and match details through PostgreSQL, scan and re-match."""
    monkeypatch.setenv("HIMAYA_DATABASE_URL", postgres_url)
    store = open_store(tmp_path / "home")
    try:
        known = known_videos(video_corpus, tmp_path / "known")
        import_hash_set(store, known, name="TEST-VIDEOS", fmt="vpdq")
        seized = tmp_path / "seized"
        seized.mkdir()
        for path in (video_corpus.clip, video_corpus.unrelated[2]):
            shutil.copyfile(path, seized / path.name)
        scan(store, "C-PG-TEST", [seized])
        found = hits(store, "C-PG-TEST")
        [hit] = found["clip.mp4"]
        assert (hit.media_id, hit.method) == ("original", "vpdq")
        assert hit.details["known_ranges"] == [[CLIP_START, CLIP_START + CLIP_SECONDS - 1]]
        assert found["unrelated-5.flv"] == []
        facts = video_facts(store, "C-PG-TEST")["clip.mp4"]
        assert facts is not None and facts.frame_count == CLIP_SECONDS
        # A stricter set setting retires the match on re-match; relaxing it brings the same row back.
        import_hash_set(store, known, name="TEST-VIDEOS", fmt="vpdq", vpdq_compared_percent=50)
        [result] = rematch(store, ["C-PG-TEST"])
        assert (len(result.new), len(result.lost)) == (0, 1)
        import_hash_set(store, known, name="TEST-VIDEOS", fmt="vpdq", vpdq_compared_percent=0)
        [result] = rematch(store, ["C-PG-TEST"])
        assert (len(result.new), len(result.lost)) == (1, 0)
        [again] = hits(store, "C-PG-TEST")["clip.mp4"]
        assert again.details == hit.details
    finally:
        store.close()


def test_videos_in_a_disk_image_live_and_deleted_are_hashed_and_matched(
    video_corpus: VideoCorpus, tmp_path: Path
) -> None:
    """Read in place through the image's path spec (seekable, opened again), a deleted one by its inode."""
    store = open_test_store(tmp_path / "home")
    try:
        import_hash_set(store, known_videos(video_corpus, tmp_path / "known"), name="TEST-VIDEOS", fmt="vpdq")
        clip = video_corpus.clip.read_bytes()
        image = ext4_image(
            tmp_path / "phone.raw", {"DCIM/clip.mp4": clip}, deleted={"DCIM/old/clip-deleted.mp4": clip}
        )
        scan(store, "C-DISK-TEST", [image], carve=False)
        found = hits(store, "C-DISK-TEST")
        for name in ("clip.mp4", "clip-deleted.mp4"):
            [hit] = found[name]
            assert (hit.media_id, hit.method) == ("original", "vpdq"), name
        facts = video_facts(store, "C-DISK-TEST")
        assert facts["clip.mp4"] is not None and facts["clip.mp4"].frame_count == CLIP_SECONDS
    finally:
        store.close()
