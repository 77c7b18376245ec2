"""The demo case, scanned for real: golden export, digests equal to hashlib's, and every expectation."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from himaya.cases import create_case
from himaya.config import ScanSettings
from himaya.demo.builder import DemoLayout, build_demo
from himaya.hashsets.importer import import_hash_set
from himaya.pipeline.scan import run_scan
from himaya.reports.export import export_case
from himaya.store.db import open_store

GOLDEN = Path(__file__).parent.parent / "golden" / "demo-export.jsonl"


@pytest.fixture(scope="module")
def demo_scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoLayout, list[dict[str, object]]]:
    base = tmp_path_factory.mktemp("demo")
    os.environ.pop("HIMAYA_DATABASE_URL", None)
    layout = build_demo(base / "data")
    store = open_store(base / "home")
    create_case(store, "DEMO-0001", "TEST demo")
    import_hash_set(store, layout.md5_hashset, name=layout.md5_hashset.stem, hash_type="md5")
    import_hash_set(store, layout.pdq_hashset, name=layout.pdq_hashset.stem, hash_type="pdq")
    assert layout.vpdq_hashset is not None
    import_hash_set(store, layout.vpdq_hashset, name=layout.vpdq_hashset.name, fmt="vpdq")
    run_scan(
        store,
        "DEMO-0001",
        [layout.evidence_dir],
        settings=ScanSettings(workers=0, thumbnails=False),
        blobs=None,
        quiet=True,
    )
    out = io.StringIO()
    export_case(store, "DEMO-0001", "jsonl", out)
    store.close()
    return layout, [json.loads(line) for line in out.getvalue().splitlines()]


# File-system times of evidence the demo builds afresh on every run: not reproducible, left out.
_BUILD_TIMES = ("created", "modified", "accessed", "changed")


def test_export_equals_the_golden_file(demo_scan: tuple[DemoLayout, list[dict[str, object]]]) -> None:
    _, exported = demo_scan
    records = [{k: v for k, v in r.items() if k not in _BUILD_TIMES} for r in exported]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if os.environ.get("HIMAYA_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    golden = GOLDEN.read_text(encoding="utf-8").splitlines()
    lines = text.splitlines()
    assert len(lines) == len(golden)
    for got, want in zip(lines, golden, strict=True):
        assert json.loads(got) == json.loads(want)


def _digests(data: bytes) -> tuple[str, str, str]:
    return hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(), hashlib.sha256(data).hexdigest()


def _members(path: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    """Every file inside an archive, recursively, read with the standard library as an independent oracle."""
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                if info.is_dir():
                    continue
                name = f"{path}!/{info.filename}"
                if info.file_size > 16 * 1024 * 1024:  # the bomb: declared size only
                    yield name, b""
                    continue
                member = zf.read(info)
                yield name, member
                yield from _members(name, member)
        return
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data))  # noqa: SIM115 - closed by `with tar` below
    except tarfile.TarError:
        return
    with tar:
        for tinfo in tar.getmembers():
            if not tinfo.isfile():
                continue
            handle = tar.extractfile(tinfo)
            assert handle is not None
            member = handle.read()
            name = f"{path}!/{tinfo.name}"
            yield name, member
            yield from _members(name, member)


def test_every_demo_file_is_exported_with_hashlib_digests(
    demo_scan: tuple[DemoLayout, list[dict[str, object]]],
) -> None:
    layout, records = demo_scan
    expected: Counter[tuple[str, tuple[str, str, str] | None]] = Counter()
    for file in sorted(layout.evidence_dir.rglob("*")):
        if not file.is_file():
            continue
        rel = "evidence/" + file.relative_to(layout.evidence_dir).as_posix()
        data = file.read_bytes()
        expected[(rel, _digests(data))] += 1
        for name, member in _members(rel, data):
            # A member refused as a bomb is recorded without digests: nothing was read.
            expected[(name, _digests(member) if member else None)] += 1
    got: Counter[tuple[str, tuple[str, str, str] | None]] = Counter()
    for r in records:
        digests = (r["md5"], r["sha1"], r["sha256"]) if r["md5"] else None
        got[(str(r["path"]), digests)] += 1  # type: ignore[arg-type]
    assert got == expected


def test_demo_expectations_hold(demo_scan: tuple[DemoLayout, list[dict[str, object]]]) -> None:
    layout, records = demo_scan
    by_path: dict[str, list[dict[str, object]]] = {}
    for r in records:
        by_path.setdefault(str(r["path"]), []).append(r)
    for rel in layout.expected_matches:
        for r in by_path["evidence/" + rel]:
            assert any(m["kind"] == "alert" for m in r["matches"]), rel  # type: ignore[attr-defined]
    for rel in layout.expected_non_matches:
        for r in by_path["evidence/" + rel]:
            assert r["matches"] == [], rel
    errors = {str(r["path"]) for r in records if r["status"] == "error"}
    assert errors == {"evidence/Pictures/broken.jpg", "evidence/Downloads/bomb.zip!/zeros.bin"}
