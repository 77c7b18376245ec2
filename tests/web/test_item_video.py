"""The item view of a video: its container facts, where each match is, and its key-frame sheet shown like
a picture's thumbnail (blurred and grey, from the server), in English and in Arabic.

The review case of tests/web gets one more evidence folder: a known video re-muxed with a phone's
metadata (a hostile camera make among it), a clip of the known video, and one hashed in part.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageFilter, ImageStat
from sqlalchemy import select

from himaya.analyzers.video import analyze_video
from himaya.config import ImageLimits, ScanSettings, VideoSettings
from himaya.hashsets.importer import import_hash_set
from himaya.hashsets.vpdq import format_vpdq
from himaya.pipeline.scan import run_scan
from himaya.store.models import File, MediaFacts
from tests.builders.videos import clip, make_video, with_metadata
from tests.builders.web_case import CASE, HOSTILE
from tests.web.conftest import Web, post_form

SIZE = (160, 120)


@dataclass(frozen=True)
class Videos:
    phone: Path  # the folder scanned into the case
    partial: Path  # scanned with a frame budget
    known_list: Path  # the known video's vPDQ file


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Videos:
    base = tmp_path_factory.mktemp("web-videos")
    source = make_video(base / "source.mp4", seconds=8, size=SIZE, fps=5, seed=41)
    phone = base / "phone-videos"
    with_metadata(
        source,
        phone / "phone.mov",
        creation_time="2024-05-01T10:20:30.000000Z",
        make=HOSTILE,
        model="TEST-Model",
        location="+31.9500+035.9300/",
    )
    clip(source, phone / "clip.mp4", start=2, seconds=4)
    partial = base / "partial-videos"
    make_video(partial / "long.mp4", seconds=8, size=SIZE, fps=5, seed=42)
    facts, _sheet = analyze_video(
        str(source), settings=VideoSettings(), limits=ImageLimits(), thumbnails=None
    )
    known_list = base / "TEST-web-video.txt"
    known_list.write_text(format_vpdq(facts.frames), encoding="ascii")
    return Videos(phone, partial, known_list)


@pytest.fixture
def web_videos(web_sqlite: Web, videos: Videos, tmp_path: Path) -> Iterator[tuple[Web, dict[str, int]]]:
    """The review case with the videos scanned in (with thumbnails: the key-frame sheets); name -> file id."""
    import_hash_set(web_sqlite.store, videos.known_list, name="TEST-web-videos", fmt="vpdq")
    shutil.copytree(videos.phone, tmp_path / "phone-videos")
    shutil.copytree(videos.partial, tmp_path / "partial-videos")
    settings = ScanSettings(workers=0)
    run_scan(
        web_sqlite.store,
        CASE,
        [tmp_path / "phone-videos"],
        settings=settings,
        blobs=web_sqlite.blobs,
        quiet=True,
    )
    budget = ScanSettings(workers=0, video=VideoSettings(max_frames=12))
    run_scan(
        web_sqlite.store,
        CASE,
        [tmp_path / "partial-videos"],
        settings=budget,
        blobs=web_sqlite.blobs,
        quiet=True,
    )
    with web_sqlite.store.session() as session:
        rows = session.execute(select(File.id, File.path).where(File.path.like("%-videos/%")))
        ids = {path.rsplit("/", 1)[-1]: file_id for file_id, path in rows}
    assert set(ids) == {"phone.mov", "clip.mp4", "long.mp4"}
    yield web_sqlite, ids


def page(web: Web, file_id: int, user: str = "rami") -> str:
    client = web.login(user)
    response = client.get(f"/cases/{CASE}/files/{file_id}")
    assert response.status_code == 200, response.text
    return response.text


def section(html: str, start: str, end: str) -> str:
    assert start in html, start
    return html.split(start, 1)[1].split(end, 1)[0]


def test_item_page_shows_a_videos_facts(web_videos: tuple[Web, dict[str, int]]) -> None:
    web, ids = web_videos
    html = page(web, ids["phone.mov"])
    assert f"<h1>Video {ids['phone.mov']}</h1>" in html
    facts = section(html, '<dl class="facts" id="video-facts">', "</dl>")
    for text in (
        "<dt>Duration</dt><dd>0:08</dd>",
        "<dt>Video codec</dt><dd>h264</dd>",
        "<dt>Audio codec</dt><dd>none</dd>",
        "<dt>Dimensions</dt><dd>160 × 120</dd>",
        "<dt>Frame rate</dt><dd>5.00 frames a second</dd>",
        "<dt>Created (as the file says)</dt><dd>2024-05-01T10:20:30.000000Z</dd>",
        "<dt>Camera model</dt><dd>TEST-Model</dd>",
        "<dt>GPS</dt><dd>31.950000, 35.930000</dd>",
        "<dt>Frames hashed</dt><dd>8 <span",
    ):
        assert text in facts, text
    assert "<dt>Container</dt><dd>mov,mp4" in facts
    # The make came from the evidence: shown as text, never as markup.
    assert "<dt>Camera make</dt><dd>&lt;img src=x onerror=alert(1)&gt;</dd>" in facts
    assert "<img src=x" not in html
    assert "Hashed in part" not in html and "EXIF" not in html  # a video has no EXIF section


def test_item_page_says_where_each_match_is(web_videos: tuple[Web, dict[str, int]]) -> None:
    web, ids = web_videos
    whole = section(page(web, ids["phone.mov"]), "Hash-set matches", "</table>")
    assert "<th>Where in the video</th>" in whole
    assert "TEST-web-videos v1" in whole and "<td>vpdq</td><td>0</td>" in whole
    assert "0:00-0:07<br>100% of this video&#39;s frames (8 of 8)" in whole
    assert "100% of the known video&#39;s frames, at 0:00-0:07" in whole
    part = section(page(web, ids["clip.mp4"]), "Hash-set matches", "</table>")
    assert "0:00-0:03<br>100% of this video&#39;s frames (4 of 4)" in part
    assert "50% of the known video&#39;s frames, at 0:02-0:05" in part


def test_a_video_hashed_in_part_says_so_in_both_languages(web_videos: tuple[Web, dict[str, int]]) -> None:
    web, ids = web_videos
    html = page(web, ids["long.mp4"])
    found = section(html, '<p class="error" id="video-incomplete">', "</p>")
    assert found.startswith("Hashed in part: stopped after 12 decoded frames (video frame budget)")
    assert '<td colspan="8">In no hash set: new material.</td>' in html
    client = web.login("rami")
    assert post_form(client, "/account/language", {"language": "ar", "next": "/"}).status_code == 303
    arabic = client.get(f"/cases/{CASE}/files/{ids['long.mp4']}").text
    assert f"<h1>فيديو {ids['long.mp4']}</h1>" in arabic
    assert "<dt>المدة</dt><dd>0:08</dd>" in arabic
    assert "حُسبت بصمات جزء منه فقط: stopped after 12 decoded frames" in arabic  # the reason as recorded
    clip_page = client.get(f"/cases/{CASE}/files/{ids['clip.mp4']}").text
    assert "100% من إطارات هذا الفيديو (4 من 4)" in clip_page


def test_the_key_frame_sheet_is_the_thumbnail_blurred_and_grey(
    web_videos: tuple[Web, dict[str, int]],
) -> None:
    web, ids = web_videos
    file_id = ids["phone.mov"]
    client = web.login("rami")
    html = client.get(f"/cases/{CASE}/files/{file_id}").text
    tile = section(html, f'id="tile-{file_id}"', "</figure>")
    assert f'<img src="/cases/{CASE}/files/{file_id}/thumb"' in tile
    assert "/clear" not in tile  # nothing clear until the reviewer reveals it
    response = client.get(f"/cases/{CASE}/files/{file_id}/thumb")
    assert response.status_code == 200 and response.headers["content-type"] == "image/jpeg"
    served = Image.open(io.BytesIO(response.content))
    with web.store.session() as session:
        media = session.get(MediaFacts, file_id)
        assert media is not None and media.thumbnail_blob and media.blurred_blob and media.pdq is None
        sharp = Image.open(io.BytesIO(web.blobs.get(media.thumbnail_blob))).convert("L")
        blurred = Image.open(io.BytesIO(web.blobs.get(media.blurred_blob))).convert("L")
    assert served.mode == "L" and served.size == sharp.size  # the sheet itself, grey
    assert sharp.width > sharp.height  # three key frames to a row

    def edges(image: Image.Image) -> float:
        return ImageStat.Stat(image.filter(ImageFilter.FIND_EDGES)).mean[0]

    def difference(one: Image.Image, other: Image.Image) -> float:
        return ImageStat.Stat(ImageChops.difference(one, other)).mean[0]

    # The blurred sheet made at scan time (re-encoded grey), not the sharp one.
    assert difference(served, blurred) < 2 < difference(served, sharp)
    assert edges(served) < 0.7 * edges(sharp)
