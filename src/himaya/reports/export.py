"""`himaya export`: one record per file as JSON lines or CSV (fields as in DESIGN.md's contract).

The CSV columns are the same for every case, videos or not: a tool that reads them by position keeps
working. A video's facts are in the JSON lines only; its matches' time ranges are in the matches cell.
"""

from __future__ import annotations

import csv
import json
from typing import Any, TextIO

from himaya.errors import UsageError
from himaya.hashsets.categories import CategoryMap
from himaya.reports.records import contract_record, file_records, find_case, ranges_text
from himaya.store.db import Store

FORMATS = ("jsonl", "csv")
CSV_FIELDS = [
    "case", "evidence", "path", "size", "md5", "sha1", "sha256", "mime", "pdq", "pdq_quality",
    "deleted", "status", "error", "matches", "extension_mismatch", "locator",
    "file_category", "category_labels", "categories_disagree",
    "carved", "origin", "created", "modified", "accessed", "changed", "path_spec",
]  # fmt: skip

# A spreadsheet treats a cell starting with these as a formula; evidence file names are hostile input.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _matches_cell(matches: list[dict[str, Any]]) -> str:
    cells = []
    for m in matches:
        cell = f"{m['hashset']} v{m['hashset_version']} {m['method']} d={m['distance']}"
        if m["category"]:
            cell = f"{cell} {m['category']}"
        if m.get("details"):
            cell = f"{cell} {_where_cell(m['details'])}"
        cells.append(cell)
    return "; ".join(cells)


def _where_cell(details: dict[str, Any]) -> str:
    """Where a video match is, in the one matches cell: "[at 0:02-0:05, 0:09; 90% of frames]"."""
    where = f"at {ranges_text(details.get('ranges'))}"
    if details.get("query_percent") is not None:
        where += f"; {details['query_percent']:g}% of frames"
    return f"[{where}]"


def export_case(
    store: Store,
    case_number: str,
    fmt: str,
    out: TextIO,
    only_matches: bool = False,
    categories: CategoryMap | None = None,
) -> int:
    if fmt not in FORMATS:
        raise UsageError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    count = 0
    with store.session() as session:
        # The case is looked up before anything is written: a header for a case that does not exist
        # would leave a plausible-looking empty export behind the error.
        case = find_case(session, case_number)
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n") if fmt == "csv" else None
        if writer is not None:
            writer.writeheader()
        for item, file, matches in file_records(session, case, only_matches, categories):
            record = contract_record(case, item, file, matches)
            if writer is not None:
                # A spreadsheet has one row per file and fixed columns: a video's facts stay in the JSON
                # lines export, and where its matches are goes into the matches cell.
                record.pop("video", None)
                record["matches"] = _matches_cell(record["matches"])
                record["category_labels"] = "; ".join(record["category_labels"])
                if record["path_spec"] is not None:
                    record["path_spec"] = json.dumps(record["path_spec"], sort_keys=True)
                writer.writerow({k: _csv_cell(v) for k, v in record.items()})
            else:
                out.write(json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n")
            count += 1
    return count
