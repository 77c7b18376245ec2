"""`himaya report`: one self-contained HTML file that shows every match and every unread file, safely.

The report is opened on case workstations and attached to case files, so it must not load anything (no
scripts, no pictures, no external addresses) and evidence names must never become markup. Checked on
the HTML text itself; no browser is needed.
"""

from __future__ import annotations

import html
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from himaya.errors import CaseNotFoundError
from himaya.reports.export import export_case
from himaya.reports.html import write_report
from tests.reports.conftest import CASE, HOSTILE_PATH, TITLE, ScannedCase


class Tables(HTMLParser):
    """Every <table> as (heading above it, header cells, body rows); cell text with entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[tuple[str, list[str], list[list[str]]]] = []
        self._heading = ""
        self._in_heading = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            self._in_heading, self._heading = True, ""
        elif tag == "table":
            self.tables.append((self._heading, [], []))
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2":
            self._in_heading = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join(part.strip() for part in self._cell if part.strip()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            _heading, header, rows = self.tables[-1]
            if not header:
                header.extend(self._row)
            else:
                rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._in_heading:
            self._heading += data
        if self._cell is not None:
            self._cell.append(data)

    def table(self, heading_start: str) -> tuple[list[str], list[list[str]]]:
        found = [(header, rows) for heading, header, rows in self.tables if heading.startswith(heading_start)]
        assert len(found) == 1, [heading for heading, _, _ in self.tables]
        return found[0]


@pytest.fixture(scope="module")
def report(scanned_case: ScannedCase, tmp_path_factory: pytest.TempPathFactory) -> str:
    out = tmp_path_factory.mktemp("report") / "nested" / "triage.html"
    data = write_report(scanned_case.store, scanned_case.number, out)
    assert (data.files, data.errors) == (len(scanned_case.paths), 1)
    raw = out.read_bytes()
    assert TITLE.encode("utf-8") in raw  # written as UTF-8, whatever the platform's default encoding
    return raw.decode("utf-8")


@pytest.fixture(scope="module")
def tables(report: str) -> Tables:
    parser = Tables()
    parser.feed(report)
    parser.close()
    return parser


@pytest.fixture(scope="module")
def records(scanned_case: ScannedCase) -> list[dict[str, Any]]:
    out = io.StringIO()
    export_case(scanned_case.store, scanned_case.number, "jsonl", out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_report_is_self_contained(report: str) -> None:
    lowered = report.lower()
    for forbidden in ("<script", "<img", "data:image", "<link", "<iframe", "<object", "<embed", "@import"):
        assert forbidden not in lowered, forbidden
    assert not re.search(r"\b(src|href|action|srcset)\s*=", lowered)
    assert not re.search(r"url\s*\(", lowered)
    assert not re.search(r"(https?|ftp):|//[a-z0-9]", lowered)


def test_case_and_arabic_title_render_intact(report: str) -> None:
    assert '<meta charset="utf-8">' in report
    assert html.escape(CASE) in report
    assert f'<div dir="auto">{TITLE}</div>' in report
    assert "phone/صور/صورة.jpg" in report


def test_hostile_file_name_is_escaped(report: str, tables: Tables) -> None:
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.jpg" in report
    assert "<script" not in report.lower()
    _header, rows = tables.table("Every match")
    assert HOSTILE_PATH == "phone/<script>alert(1)</script>.jpg"
    assert any(row[1] == HOSTILE_PATH for row in rows)  # shown to the reviewer exactly as the name reads


def test_every_match_is_listed_with_digests_method_distance_and_hash_set_version(
    tables: Tables, records: list[dict[str, Any]]
) -> None:
    header, rows = tables.table("Every match")
    assert header[:6] == ["Evidence", "Path", "Digests", "Method", "Distance", "Hash set (version)"]
    shown = sorted((row[0], row[1], row[3].split()[0], int(row[4]), row[5], row[6], row[7]) for row in rows)
    expected = sorted(
        (
            r["evidence"],
            r["path"],
            m["method"],
            m["distance"],
            f"{m['hashset']} (v{m['hashset_version']})",
            m["kind"],
            m["category"] or "",
        )
        for r in records
        for m in r["matches"]
    )
    assert shown == expected
    assert len(expected) == 10  # 4 copies x (md5 + pdq), the resized copy, the ignore hit
    by_path = {r["path"]: r for r in records}
    for row in rows:
        record = by_path[row[1]]
        assert f"MD5 {record['md5']}" in row[2]
        assert f"SHA1 {record['sha1']}" in row[2]
        assert f"SHA256 {record['sha256']}" in row[2]
        if row[3].startswith("pdq"):
            assert f"PDQ {record['pdq']}" in row[2]
            assert row[3].split()[1].startswith("pdq-")  # the pipeline that produced the hash


def test_counts_by_category_count_each_alerting_file_once(tables: Tables, report: str) -> None:
    header, rows = tables.table("Matches by category")
    assert header == ["Category (source label)", "Files"]
    # TEST-A: the three byte-identical copies (md5); TEST-B: those three, the original and the resized copy.
    assert sorted(rows) == [["TEST-A", "4"], ["TEST-B", "5"]]
    # The ignore-set hit (notes.txt) is a match but not an alert: 5 files alert.
    assert re.search(r'<b class="alert">5</b>files matching an alert hash set', report)


def test_errors_section_lists_the_corrupt_file_with_its_reason(tables: Tables) -> None:
    header, rows = tables.table("Files that could not be fully read (1)")
    assert header == ["Evidence", "Path", "Reason"]
    [(evidence, path, reason)] = rows
    assert (evidence, path) == ("phone", "phone/DCIM/broken.jpg")
    assert reason.startswith("image is truncated or corrupt")


def test_evidence_and_scan_run_are_recorded(tables: Tables) -> None:
    _header, evidence = tables.table("Evidence")
    assert sorted(row[0] for row in evidence) == ["=cmd.jpg", "phone"]
    header, runs = tables.table("Scan runs")
    assert len(runs) == 1
    run = dict(zip(header, runs[0], strict=True))
    assert (run["Status"], run["Files"], run["Errors"], run["Matched files"]) == ("finished", "8", "1", "5")


def test_unknown_case_writes_no_file(scanned_case: ScannedCase, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    with pytest.raises(CaseNotFoundError):
        write_report(scanned_case.store, "C-404", out)
    assert not out.exists()
