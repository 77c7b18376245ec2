"""A benign synthetic disk: a folder tree of photos and documents, a raw ext4 image of it, and an E01 of that.

    .venv/bin/python bench/make_disk_corpus.py [--photos 300] [--documents 1200] [--jobs 2]

Everything is generated (numpy + Pillow pictures, made-up words), nothing is downloaded. Built once into
bench/out/disk-corpus-PHOTOS-DOCUMENTS/ and reused by bench/bench_disk.py (delete the folder, or one of its
parts, to rebuild it):

  files/      the tree: a user's home with camera photos (12 MP JPEGs, ~3.4 MB, EXIF make/model/date/GPS,
              as bench_images.py makes them), messenger pictures (1600x1200, no EXIF), PNG screenshots,
              and documents of many sizes (text, notes, CSV, HTML, logs, PDFs with text or a scanned page,
              DOCX files, some with a picture inside), plus a few system-like files;
  disk.raw    an ext4 file system holding the tree, made by `mke2fs -t ext4 -d files/` (no mounting,
              no root), a bare volume without a partition table;
  disk.E01    `ewfacquire -u -c deflate:fast` of disk.raw: EnCase 6 format, deflate at the "fast" level
              (the usual examiner's setting: FTK Imager and EnCase compress by default), default 1.4 GiB
              segments, so a single segment for this size;
  corpus.json what was built: counts, bytes, sizes, the commands.

Needs e2fsprogs (mke2fs >= 1.43 for -d) and ewf-tools (ewfacquire): `make setup` installs both.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

OUT = Path(__file__).parent / "out"
USER = "amal"
CAMERAS = [
    ("TESTCAM", "Model T1"),
    ("TESTPHONE", "TP-12 Pro"),
    ("FAKEFONE", "FF 8"),
    ("BENCHCAM", "BC-400D"),
]
WORDS = [
    "report", "meeting", "budget", "invoice", "schedule", "project", "river", "garden", "school", "market",
    "winter", "summer", "letter", "contract", "delivery", "office", "travel", "family", "recipe",
    "chapter", "notes", "minutes", "review", "draft", "final", "customer", "account", "payment", "order",
    "shipment", "warehouse", "training", "manual", "policy", "quarter", "annual", "north", "south", "city",
    "village", "morning", "evening", "weekend", "holiday", "library", "museum", "bridge", "station",
    "harbour", "mountain", "valley",
]  # fmt: skip


# Pictures ---------------------------------------------------------------------------------------------


def camera_photo(seed: int, path: str) -> int:
    """A 12 MP camera JPEG (bench_images' photo) with varied EXIF make/model/date/GPS."""
    from bench_images import photo_image

    from himaya.demo.pictures import camera_exif

    photo = photo_image(seed)
    make, model = CAMERAS[seed % len(CAMERAS)]
    when = _moment(seed)
    exif = camera_exif(
        make=make,
        model=model,
        serial=f"SN-BENCH-{seed % 7:04d}",
        when=time.strftime("%Y:%m:%d %H:%M:%S", time.gmtime(when)),
        gps=(36.0 + (seed % 50) / 100, 37.0 + (seed % 37) / 100) if seed % 3 else None,
    )
    photo.save(path, format="JPEG", quality=92, exif=exif)
    os.utime(path, (when, when))
    return os.path.getsize(path)


def messenger_picture(seed: int, path: str) -> int:
    """A re-shared picture as messengers store them: 1600x1200, quality 80, EXIF stripped."""
    from himaya.demo.pictures import photo_like

    photo_like(50_000 + seed, 1600, 1200, noise=4.0).save(path, format="JPEG", quality=80)
    when = _moment(seed + 7)
    os.utime(path, (when, when))
    return os.path.getsize(path)


def screenshot(seed: int, path: str) -> int:
    """A phone screenshot: flat panels, bars and text lines, saved as PNG."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    image = Image.new("RGB", (1080, 2340), tuple(rng.randrange(200, 256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 1080, 90), fill=(30, 30, 30))
    y = 140
    while y < 2200:
        height = rng.randrange(60, 260)
        colour = tuple(rng.randrange(0, 256) for _ in range(3))
        draw.rounded_rectangle((40, y, 1040, y + height), radius=24, fill=colour)
        draw.text((70, y + 20), " ".join(rng.choices(WORDS, k=6)), fill=(0, 0, 0), font_size=36)
        y += height + 30
    image.save(path, format="PNG")
    when = _moment(seed + 11)
    os.utime(path, (when, when))
    return os.path.getsize(path)


def _moment(seed: int) -> float:
    """A deterministic time between 2021 and 2024 for a seed."""
    return 1_609_459_200 + (seed * 7_919_231) % (4 * 365 * 86_400)


# Documents --------------------------------------------------------------------------------------------


def _text(rng: random.Random, size: int) -> str:
    lines, total = [], 0
    while total < size:
        line = " ".join(rng.choices(WORDS, k=rng.randrange(4, 16))).capitalize() + "."
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines)[:size]


def _pdf_text(rng: random.Random, size: int) -> bytes:
    """A small but valid PDF: pages of text in uncompressed content streams."""
    pages, objects = [], []
    per_page = 3000
    for _ in range(max(1, size // per_page)):
        body = ["BT /F1 10 Tf 50 780 Td 12 TL"]
        for line in _text(rng, per_page).splitlines():
            body.append("(" + line.replace("\\", "").replace("(", "").replace(")", "") + ") '")
        body.append("ET")
        pages.append("\n".join(body).encode("latin-1"))
    count = len(pages)
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(count))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, stream in enumerate(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {5 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def _pdf_scan(seed: int, pages: int) -> bytes:
    """A 'scanned' PDF: page pictures (JPEG inside, as Pillow writes PDFs)."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    images = []
    for _ in range(pages):
        page = Image.new("RGB", (1240, 1754), (246, 244, 238))
        draw = ImageDraw.Draw(page)
        y = 120
        while y < 1650:
            draw.text((100, y), " ".join(rng.choices(WORDS, k=9)), fill=(20, 20, 30), font_size=26)
            y += 40
        images.append(page)
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", resolution=150, save_all=True, append_images=images[1:], quality=75)
    return buffer.getvalue()


def _docx(rng: random.Random, size: int, picture: bytes | None) -> bytes:
    """A minimal Office Open XML document (a zip), optionally with a picture in word/media/."""
    paragraphs = "".join(f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>" for line in _text(rng, size).splitlines())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/'
            '2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-'
            'package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="jpeg" ContentType="image/jpeg"/><Override PartName="/word/document.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"'
            "/></Types>",
        )
        archive.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        )
        archive.writestr(
            "word/document.xml",
            '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
            f'wordprocessingml/2006/main"><w:body>{paragraphs}</w:body></w:document>',
        )
        if picture is not None:
            archive.writestr("word/media/image1.jpeg", picture)
    return buffer.getvalue()


def document(seed: int, path: str) -> int:
    """One document; its kind follows the extension of PATH, its size is log-uniform over 1 KB..~4 MB."""
    from himaya.demo.pictures import photo_jpeg

    rng = random.Random(seed)
    size = int(math.exp(rng.uniform(math.log(1_000), math.log(2_000_000))))
    kind = Path(path).suffix
    if kind in (".txt", ".md", ".log"):
        data = _text(rng, size).encode()
    elif kind == ".csv":
        rows = ["date,account,amount,description"]
        while sum(len(r) + 1 for r in rows) < size:
            rows.append(
                f"2023-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d},{rng.randrange(10**7, 10**8)},"
                f"{rng.uniform(1, 5000):.2f},{' '.join(rng.choices(WORDS, k=3))}"
            )
        data = "\n".join(rows).encode()
    elif kind == ".html":
        data = f"<html><body><p>{_text(rng, size).replace(chr(10), '</p><p>')}</p></body></html>".encode()
    elif kind == ".pdf":
        data = _pdf_scan(seed, rng.randrange(1, 6)) if seed % 3 == 0 else _pdf_text(rng, size)
    elif kind == ".docx":
        picture = photo_jpeg(70_000 + seed, 800, 600) if seed % 5 == 0 else None
        data = _docx(rng, min(size, 400_000), picture)
    else:
        raise ValueError(kind)
    Path(path).write_bytes(data)
    when = _moment(seed + 3)
    os.utime(path, (when, when))
    return len(data)


# The tree ---------------------------------------------------------------------------------------------

DOCUMENT_FOLDERS = {
    "Documents/Work/Reports": (".pdf", ".docx", ".txt"),
    "Documents/Work/Invoices": (".pdf", ".csv"),
    "Documents/Work/Minutes": (".docx", ".txt", ".md"),
    "Documents/Personal/Letters": (".docx", ".pdf", ".txt"),
    "Documents/Personal/Bank": (".csv", ".pdf"),
    "Documents/School": (".docx", ".pdf", ".md"),
    "Downloads": (".pdf", ".html", ".docx", ".txt"),
    ".local/share/app/logs": (".log",),
    "Desktop": (".txt", ".md"),
}


def plan(photos: int, documents: int) -> list[tuple[str, int, str]]:
    """(job name, seed, relative path) for every file, deterministic."""
    jobs: list[tuple[str, int, str]] = []
    home = f"home/{USER}"
    for seed in range(photos):
        stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime(_moment(seed)))
        folder = "DCIM/Camera" if seed % 4 else f"Pictures/{stamp[:4]}/{stamp[4:6]}"
        jobs.append(("camera", seed, f"{home}/{folder}/IMG_{stamp}_{seed:03d}.jpg"))
    for seed in range(photos * 2 // 3):
        stamp = time.strftime("%Y%m%d", time.gmtime(_moment(seed + 7)))
        jobs.append(("messenger", seed, f"{home}/Pictures/Messenger/IMG-{stamp}-WA{seed:04d}.jpg"))
    for seed in range(photos // 5):
        jobs.append(("screenshot", seed, f"{home}/Pictures/Screenshots/Screenshot_{seed:04d}.png"))
    folders = list(DOCUMENT_FOLDERS.items())
    for seed in range(documents):
        folder, kinds = folders[seed % len(folders)]
        kind = kinds[(seed // len(folders)) % len(kinds)]
        stem = f"{random.Random(seed).choice(WORDS)}_{seed:04d}"
        jobs.append(("document", seed, f"{home}/{folder}/{stem}{kind}"))
    return jobs


MAKERS = {
    "camera": camera_photo,
    "messenger": messenger_picture,
    "screenshot": screenshot,
    "document": document,
}


def _make(job: tuple[str, int, str], root: str) -> int:
    name, seed, relative = job
    path = os.path.join(root, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return MAKERS[name](seed, path)


def system_files(root: Path) -> None:
    """A few small files a Linux system has, so that the tree is not only a home folder."""
    etc = root / "etc"
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "hostname").write_text("bench-laptop\n")
    (etc / "hosts").write_text("127.0.0.1 localhost\n127.0.1.1 bench-laptop\n")
    (etc / "os-release").write_text('NAME="Benchmark Linux"\nVERSION_ID="1"\n')
    (etc / "passwd").write_text(f"root:x:0:0:root:/root:/bin/sh\n{USER}:x:1000:1000::/home/{USER}:/bin/sh\n")
    log = root / "var" / "log"
    log.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    (log / "syslog").write_text(_text(rng, 300_000))
    (root / "tmp").mkdir(exist_ok=True)
    (root / f"home/{USER}/.bash_history").write_text("ls\ncd Documents\n" * 50)


def build_tree(corpus: Path, photos: int, documents: int, jobs_count: int) -> Path:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    root = corpus / "files"
    done = corpus / ".files-complete"
    if done.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    jobs = plan(photos, documents)
    jobs.sort(key=lambda job: job[0] != "camera")  # the slow ones first, for an even finish
    started = time.monotonic()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs_count, mp_context=context) as pool:
        futures = [pool.submit(_make, job, str(root)) for job in jobs]
        for n, future in enumerate(futures, start=1):
            future.result()
            if n % 20 == 0 or n == len(futures):
                print(f"\rbuilding files: {n}/{len(futures)}", end="", file=sys.stderr)
    system_files(root)
    print(f" ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    done.touch()
    return root


def tree_stats(root: Path) -> tuple[int, int]:
    count = size = 0
    for folder, _dirs, names in os.walk(root):
        for name in names:
            count += 1
            size += os.path.getsize(os.path.join(folder, name))
    return count, size


def build_raw(corpus: Path, root: Path) -> tuple[Path, list[str]]:
    raw = corpus / "disk.raw"
    done = corpus / ".raw-complete"
    _count, size = tree_stats(root)
    mib = 1024 * 1024
    volume_mib = (int(size * 1.12) + 96 * mib) // mib  # content + metadata + ~10% free space
    command = [
        "mke2fs", "-q", "-F", "-t", "ext4", "-L", "EVIDENCE", "-U", "6b1c3a52-1e0f-4d6e-9a11-0be5c4d2e001",
        "-E", "hash_seed=0f5e3c1a-7d2b-4c8e-b1a0-3e9d8f7c6b5a,root_owner=0:0",
        "-d", str(root), str(raw), f"{volume_mib}M",
    ]  # fmt: skip
    if not done.exists():
        raw.unlink(missing_ok=True)
        started = time.monotonic()
        env = dict(os.environ, E2FSPROGS_FAKE_TIME="1704067200")  # a fixed creation time
        subprocess.run(command, check=True, env=env)
        took = time.monotonic() - started
        print(f"mke2fs: {raw.stat().st_size / 1e9:.2f} GB ({took:.0f} s)", file=sys.stderr)
        done.touch()
    return raw, command


def build_e01(corpus: Path, raw: Path) -> tuple[Path, list[str]]:
    target = corpus / "disk"
    e01 = corpus / "disk.E01"
    done = corpus / ".e01-complete"
    command = [
        "ewfacquire", "-u", "-q", "-c", "deflate:fast", "-f", "encase6", "-m", "fixed", "-M", "physical",
        "-C", "BENCH-001", "-D", "synthetic benign ext4 volume", "-e", "bench", "-E", "1",
        "-N", "generated by bench/make_disk_corpus.py", "-t", str(target), str(raw),
    ]  # fmt: skip
    if not done.exists():
        for old in corpus.glob("disk.E*"):
            old.unlink()
        started = time.monotonic()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        print(f"ewfacquire: {time.monotonic() - started:.0f} s", file=sys.stderr)
        done.touch()
    return e01, command


def corpus_folder(photos: int, documents: int) -> Path:
    return OUT / f"disk-corpus-{photos}-{documents}"


def build(photos: int = 300, documents: int = 1200, jobs: int = 2) -> dict[str, object]:
    """Build what is missing and return the description of the corpus (also in corpus.json)."""
    corpus = corpus_folder(photos, documents)
    corpus.mkdir(parents=True, exist_ok=True)
    root = build_tree(corpus, photos, documents, jobs)
    raw, mke2fs = build_raw(corpus, root)
    e01, acquire = build_e01(corpus, raw)
    count, size = tree_stats(root)
    segments = sorted(corpus.glob("disk.E[0-9][0-9]"))
    kinds: dict[str, list[int]] = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            kinds.setdefault(Path(name).suffix.lower() or "(none)", []).append(
                os.path.getsize(os.path.join(folder, name))
            )
    info: dict[str, object] = {
        "files": count,
        "bytes": size,
        "by_extension": {k: {"files": len(v), "bytes": sum(v)} for k, v in sorted(kinds.items())},
        "raw": str(raw),
        "raw_bytes": raw.stat().st_size,
        "e01": str(e01),
        "e01_segments": [p.name for p in segments],
        "e01_bytes": sum(p.stat().st_size for p in segments),
        "mke2fs": " ".join(mke2fs),
        "ewfacquire": " ".join(acquire),
        "photos": photos,
        "documents": documents,
    }
    (corpus / "corpus.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photos", type=int, default=300, help="12 MP camera photos (default 300)")
    parser.add_argument("--documents", type=int, default=1200, help="documents (default 1200)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="processes building files")
    args = parser.parse_args()
    info = build(args.photos, args.documents, args.jobs)
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
