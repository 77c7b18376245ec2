"""`himaya export`: the JSONL record of DESIGN.md's command-line contract, CSV, and what leaves the store.

Tests outside the project parse these exports, so the field names, their order and their value forms are
checked exactly. The contract may only grow; a new field is added to the lists here in the same change.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from typing import Any

import pytest

from himaya.errors import CaseNotFoundError, UsageError
from himaya.reports.export import export_case
from tests.reports.conftest import FORMULA_NAME, ScannedCase

FILE_KEYS = [
    "case", "evidence", "path", "size", "md5", "sha1", "sha256", "mime", "pdq", "pdq_quality",
    "deleted", "status", "error", "matches",
    "extension_mismatch", "locator",  # grown since the contract was written
    "file_category", "category_labels", "categories_disagree",  # grown with the category model
    # grown with seized devices
    "carved", "origin", "created", "modified", "accessed", "changed", "path_spec",
]  # fmt: skip
MATCH_KEYS = ["hashset", "kind", "method", "distance", "category"]
MATCH_GROWTH = {"hashset_version", "internal_category", "category_scheme"}  # the contract allows growth
METHODS = {"md5", "sha1", "sha256", "pdq"}
LOWER_HEX = {"md5": re.compile(r"[0-9a-f]{32}"), "sha1": re.compile(r"[0-9a-f]{40}")}
LOWER_HEX["sha256"] = LOWER_HEX["pdq"] = re.compile(r"[0-9a-f]{64}")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def export(case: ScannedCase, fmt: str = "jsonl", only_matches: bool = False) -> tuple[int, str]:
    out = io.StringIO()
    count = export_case(case.store, case.number, fmt, out, only_matches=only_matches)
    return count, out.getvalue()


def jsonl(case: ScannedCase, only_matches: bool = False) -> list[dict[str, Any]]:
    count, text = export(case, only_matches=only_matches)
    records = [json.loads(line) for line in text.splitlines()]
    assert count == len(records)
    assert text.endswith("\n")
    return records


def by_path(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["path"]: r for r in records}


def test_every_record_has_the_contract_fields_in_order(scanned_case: ScannedCase) -> None:
    records = jsonl(scanned_case)
    assert {r["path"] for r in records} == set(scanned_case.paths.values())
    for record in records:
        assert list(record) == FILE_KEYS, record["path"]
        assert record["case"] == scanned_case.number
        assert isinstance(record["size"], int)
        assert isinstance(record["deleted"], bool)
        assert record["status"] in ("ok", "error")
        assert (record["error"] is None) == (record["status"] == "ok")
        for field in ("md5", "sha1", "sha256"):
            assert LOWER_HEX[field].fullmatch(record[field]), (record["path"], field)
        if record["pdq"] is None:
            assert record["pdq_quality"] is None
        else:
            assert LOWER_HEX["pdq"].fullmatch(record["pdq"])
            assert 0 <= record["pdq_quality"] <= 100
        for match in record["matches"]:
            assert [key for key in match if key in MATCH_KEYS] == MATCH_KEYS
            assert set(match) - set(MATCH_KEYS) == MATCH_GROWTH
            assert match["method"] in METHODS
            assert match["kind"] in ("alert", "ignore")
            assert isinstance(match["distance"], int)


def test_values_of_a_matched_picture(scanned_case: ScannedCase) -> None:
    record = by_path(jsonl(scanned_case))[scanned_case.paths["listed"]]
    assert record["evidence"] == "phone"
    assert record["md5"] == scanned_case.listed_md5  # the list gave it in upper case; exports are lower
    assert record["mime"] == "image/jpeg"
    assert record["status"] == "ok"
    assert record["pdq_quality"] == 100
    assert record["matches"] == [
        {
            "hashset": "TEST-md5",
            "hashset_version": 2,
            "kind": "alert",
            "method": "md5",
            "distance": 0,
            "category": "TEST-A",
            "internal_category": "uncategorized",  # a label no table knows
            "category_scheme": "custom",
        },
        {
            "hashset": "TEST-pdq",
            "hashset_version": 1,
            "kind": "alert",
            "method": "pdq",
            "distance": 0,
            "category": "TEST-B",
            "internal_category": "uncategorized",
            "category_scheme": "custom",
        },
    ]
    small = by_path(jsonl(scanned_case))[scanned_case.paths["small"]]
    assert [(m["hashset"], m["method"]) for m in small["matches"]] == [("TEST-pdq", "pdq")]
    assert 0 < small["matches"][0]["distance"] <= 31


def test_non_pictures_errors_and_ignore_hits(scanned_case: ScannedCase) -> None:
    records = by_path(jsonl(scanned_case))
    notes = records[scanned_case.paths["notes"]]
    assert (notes["mime"], notes["pdq"], notes["pdq_quality"]) == ("text/plain", None, None)
    assert notes["sha1"] == hashlib.sha1(b"meeting on tuesday\n").hexdigest()
    assert [(m["hashset"], m["kind"], m["method"], m["category"]) for m in notes["matches"]] == [
        ("TEST-known-good", "ignore", "sha1", None)
    ]
    broken = records[scanned_case.paths["broken"]]
    assert broken["status"] == "error"
    assert "truncated or corrupt" in broken["error"]
    assert broken["size"] == 3000 and LOWER_HEX["md5"].fullmatch(broken["md5"])  # digests still cover it
    assert (broken["pdq"], broken["matches"]) == (None, [])
    assert records[scanned_case.paths["other"]]["matches"] == []


def test_names_are_exported_as_stored(scanned_case: ScannedCase) -> None:
    _count, text = export(scanned_case)
    records = by_path([json.loads(line) for line in text.splitlines()])
    for role in ("hostile", "arabic", "formula"):
        assert records[scanned_case.paths[role]]["md5"] == scanned_case.listed_md5
    assert "صورة.jpg" in text  # UTF-8 as is, not \u escapes: examiners read these files
    assert records[FORMULA_NAME]["evidence"] == FORMULA_NAME  # JSON needs no formula guard


def test_only_matches_keeps_exactly_the_files_with_a_match(scanned_case: ScannedCase) -> None:
    everything = jsonl(scanned_case)
    only = jsonl(scanned_case, only_matches=True)
    assert only == [r for r in everything if r["matches"]]
    assert {r["path"] for r in only} == {
        scanned_case.paths[role] for role in ("listed", "small", "hostile", "arabic", "formula", "notes")
    }


def test_export_order_is_stable(scanned_case: ScannedCase) -> None:
    first, second = export(scanned_case), export(scanned_case)
    assert first == second
    paths = [(r["evidence"], r["path"]) for r in jsonl(scanned_case)]
    assert paths == sorted(paths)


def test_csv_has_the_contract_columns_and_the_same_records(scanned_case: ScannedCase) -> None:
    count, text = export(scanned_case, "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == FILE_KEYS
    assert count == len(rows) - 1 == len(jsonl(scanned_case))
    table = {row[2].removeprefix("'"): dict(zip(FILE_KEYS, row, strict=True)) for row in rows[1:]}
    listed = table[scanned_case.paths["listed"]]
    assert listed["md5"] == scanned_case.listed_md5
    assert listed["matches"] == "TEST-md5 v2 md5 d=0 TEST-A; TEST-pdq v1 pdq d=0 TEST-B"
    assert table[scanned_case.paths["notes"]]["matches"] == "TEST-known-good v1 sha1 d=0"
    assert table[scanned_case.paths["broken"]]["status"] == "error"
    assert table[scanned_case.paths["arabic"]]["path"] == "phone/صور/صورة.jpg"
    assert table[scanned_case.paths["hostile"]]["path"] == "phone/<script>alert(1)</script>.jpg"
    only_count, only_text = export(scanned_case, "csv", only_matches=True)
    assert only_count == 6 and len(only_text.splitlines()) == 7


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_quoted(scanned_case: ScannedCase) -> None:
    _count, text = export(scanned_case, "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    formula = next(row for row in rows if row["path"].endswith(FORMULA_NAME))
    assert formula["evidence"] == "'" + FORMULA_NAME
    assert formula["path"] == "'" + FORMULA_NAME
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(FORMULA_PREFIXES), (column, cell)
    # A formula character inside a value is harmless and left alone: the path must stay the path.
    assert any(row["path"] == "phone/DCIM/listed_small.jpg" for row in rows)


@pytest.mark.parametrize("fmt", ["xml", "JSONL", "", "vics"])
def test_unknown_format_is_a_usage_error_and_writes_nothing(scanned_case: ScannedCase, fmt: str) -> None:
    out = io.StringIO()
    with pytest.raises(UsageError, match="unknown export format") as caught:
        export_case(scanned_case.store, scanned_case.number, fmt, out)
    assert "jsonl, csv" in str(caught.value)
    assert caught.value.exit_code == 2
    assert out.getvalue() == ""


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_unknown_case_writes_nothing(scanned_case: ScannedCase, fmt: str) -> None:
    out = io.StringIO()
    with pytest.raises(CaseNotFoundError, match="himaya case create C-404"):
        export_case(scanned_case.store, "C-404", fmt, out)
    assert out.getvalue() == ""  # not even a CSV header: stdout may be a file the examiner keeps
